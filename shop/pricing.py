"""The pricing pipeline: one function that prices a cart, used by preview and by placement.

Stages run in a fixed order (DESIGN.md §3):

    list price → activity price → member price → 满减 → coupon → points → freight → freight coupon

Each goods stage returns line-level adjustments (negative fen = discount) so every discount is
allocated to lines to the fen and a partial refund of one line is exact. Freight is computed on
what remains payable; a freight coupon (运费券) then takes its part off the freight, which is an
order-level amount (Quote.freight_discount_fen), not allocated to lines.

The campaign stages (flash price, 满减 / 满折, coupons) are campaigns.pricing's pure functions:
this module turns its priced lines into campaigns' LineSnapshots, loads the offers through
campaigns.selectors (a fixed number of queries, whatever the number of coupons), and turns the
per-line parts back into adjustments. The member-price and points stages pass through until
their issue fills them.

Coupons: `PricingContext.coupon_ids` None picks the best by itself (at most one goods coupon:
the largest discount, tie → expiring soonest; plus one freight coupon likewise); a tuple uses
exactly those — another member's or an unknown coupon raises CouponNotFound, two goods (or two
freight) coupons CouponCombinationInvalid, one that cannot be used CouponNotUsable with the
reason's code (or CouponUnavailable when it is locked or used). The quote lists every coupon
considered with its verdict, so preview shows the usable and the unusable ones with the reason.

This module reads; it never writes. Placement calls `quote()` and then persists its result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from campaigns.errors import CouponCombinationInvalid, CouponNotFound, CouponNotUsable, CouponUnavailable
from campaigns.models import CouponStatus, FullReduction
from campaigns.pricing import (
    CouponOffer,
    CouponVerdict,
    FlashPriceOffer,
    LineSnapshot,
    ReductionOffer,
    coupon_evaluate,
    coupon_pick,
    flash_discounts,
    full_reductions_apply,
)
from core.money import allocate
from shop.errors import NotDeliverable
from shop.models import FreightRule, FreightTemplate


@dataclass(frozen=True)
class CartLine:
    """An immutable snapshot of one line, as priced (what campaigns will receive too)."""

    sku_id: int
    product_id: int
    category_id: int
    product_name: str
    sku_code: str
    spec_text: str
    image_url: str
    unit_price_fen: int
    cost_fen: int
    quantity: int
    freight_template_id: int | None
    category_ids: tuple[int, ...] = ()  # category_id and its ancestors: a parent category covers it
    flash_item_id: int | None = None  # bought through this flash-sale item

    @property
    def goods_total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Adjustment:
    stage: str
    label: str
    amount_fen: int  # negative for a discount
    reference: str = ""


@dataclass
class PricedLine:
    line: CartLine
    adjustments: list[Adjustment] = field(default_factory=list)

    @property
    def goods_total_fen(self) -> int:
        return self.line.goods_total_fen

    @property
    def discount_fen(self) -> int:
        return -sum(a.amount_fen for a in self.adjustments)

    @property
    def payable_fen(self) -> int:
        return self.goods_total_fen - self.discount_fen

    @property
    def activity_discounted(self) -> bool:
        """Bought at a flash price, or under a 满减: coupons that do not stack skip it."""
        return self.line.flash_item_id is not None or any(
            a.stage in ACTIVITY_STAGES for a in self.adjustments)


# Stages whose discounts make a line "under an activity" for coupons that do not stack.
ACTIVITY_STAGES = frozenset({"activity", "full_reduction"})


@dataclass(frozen=True)
class StageSummary:
    stage: str
    label: str
    amount_fen: int


@dataclass(frozen=True)
class CouponSummary:
    """Every coupon the quote considered, with its verdict, and the ones it uses."""

    verdicts: list[CouponVerdict]  # goods coupons first, then freight coupons; soonest to expire first
    selected: list[CouponVerdict]  # at most one goods coupon, then at most one freight coupon
    auto: bool  # True: picked by the pipeline; False: the shopper's coupon_ids

    @property
    def selected_ids(self) -> list[int]:
        return [v.coupon.coupon_id for v in self.selected]


@dataclass
class Quote:
    lines: list[PricedLine]
    freight_fen: int
    stages: list[StageSummary]
    province: str
    freight_discount_fen: int = 0  # what a freight coupon takes off the freight
    coupons: CouponSummary = field(default_factory=lambda: CouponSummary([], [], True))

    @property
    def goods_total_fen(self) -> int:
        return sum(pl.goods_total_fen for pl in self.lines)

    @property
    def discount_fen(self) -> int:
        return sum(pl.discount_fen for pl in self.lines)

    @property
    def payable_fen(self) -> int:
        return self.goods_total_fen - self.discount_fen + self.freight_fen - self.freight_discount_fen


@dataclass(frozen=True)
class PricingContext:
    """What stages may look at besides the lines: who buys, where to, and their choices."""

    member_id: int | None
    province: str
    coupon_ids: tuple[int, ...] | None = None  # None: pick the best; () none; else exactly these
    points_to_use: int = 0


@dataclass
class PricingRun:
    """One quote's clock and the campaign offers it read (loaded by the stage that needs them,
    or given by a caller that has them), and what the coupon stage decided."""

    now: dt.datetime
    flash_offers: Mapping[int, FlashPriceOffer] | None = None
    full_reductions: list[ReductionOffer] | None = None
    coupons: list[CouponOffer] | None = None
    goods_verdicts: list[CouponVerdict] = field(default_factory=list)
    goods_coupon: CouponVerdict | None = None


GoodsStage = Callable[[list[PricedLine], PricingContext, PricingRun], list[Adjustment | None]]

STAGE_LABELS = {
    "activity": "活动价",
    "member": "会员价",
    "full_reduction": "满减",
    "coupon": "优惠券",
    "points": "积分抵扣",
    "freight": "运费",
    "freight_coupon": "运费券",
}


def _pass_through(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """A stage with nothing to apply yet: no line changes."""
    return [None] * len(lines)


def snapshots(lines: list[PricedLine]) -> list[LineSnapshot]:
    """The lines as campaigns see them, with what they still cost after the stages so far."""
    return [LineSnapshot(
        sku_id=pl.line.sku_id, product_id=pl.line.product_id,
        category_ids=frozenset(pl.line.category_ids or (pl.line.category_id,)),
        unit_price_fen=pl.line.unit_price_fen, cost_fen=pl.line.cost_fen, quantity=pl.line.quantity,
        payable_fen=pl.payable_fen, activity_discounted=pl.activity_discounted,
    ) for pl in lines]


def activity_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """秒杀: lines bought through a flash item pay its price (FlashNotActive when it is not on now)."""
    item_ids = [pl.line.flash_item_id for pl in lines]
    wanted = sorted({i for i in item_ids if i is not None})
    if not wanted:
        return [None] * len(lines)
    if run.flash_offers is None:
        from campaigns.selectors.flash import flash_offers

        run.flash_offers = flash_offers(item_ids=wanted, now=run.now)
    missing = set(wanted) - set(run.flash_offers)
    if missing:
        from campaigns.errors import FlashItemNotFound
        from campaigns.selectors.checkout import flash_items_existing

        unknown = missing - flash_items_existing(item_ids=missing)
        if unknown:
            raise FlashItemNotFound(detail={"flash_item_ids": sorted(unknown)})
    parts = flash_discounts(snapshots(lines), item_ids, run.flash_offers)
    return [Adjustment("activity", "秒杀价", -part, f"flash:{item_id}") if part else None
            for part, item_id in zip(parts, item_ids, strict=True)]


def full_reduction_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """满减 / 满折: the running activities, each line in at most one (campaigns.pricing)."""
    if run.full_reductions is None:
        from campaigns.selectors.checkout import full_reductions_running

        run.full_reductions = full_reductions_running(now=run.now)
    out: list[Adjustment | None] = [None] * len(lines)
    if not run.full_reductions:
        return out
    kinds = {offer.activity_id: offer.kind for offer in run.full_reductions}
    for result in full_reductions_apply(snapshots(lines), run.full_reductions):
        prefix = "满折" if kinds[result.activity_id] == FullReduction.Kind.QUANTITY else "满减"
        for i, part in enumerate(result.parts):
            if part:
                out[i] = Adjustment("full_reduction", f"{prefix}：{result.name}"[:100], -part,
                                    f"full_reduction:{result.activity_id}")
    return out


def coupon_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """The goods coupon: the shopper's choice, or the best usable one (see the module docstring)."""
    offers = _coupons(ctx, run)
    snaps = snapshots(lines)
    run.goods_verdicts = [coupon_evaluate(c, snaps, now=run.now) for c in offers
                          if not c.is_freight and c.status == CouponStatus.AVAILABLE]
    run.goods_coupon = _choose(run.goods_verdicts, ctx)
    chosen = run.goods_coupon
    if chosen is None:
        return [None] * len(lines)
    label, reference = f"优惠券：{chosen.coupon.name}"[:100], f"coupon:{chosen.coupon.coupon_id}"
    return [Adjustment("coupon", label, -part, reference) if part else None for part in chosen.parts]


def _coupons(ctx: PricingContext, run: PricingRun) -> list[CouponOffer]:
    """The member's coupons for this quote (loaded once), after checking the shopper's choice."""
    if run.coupons is None:
        if ctx.member_id is None:
            run.coupons = []
        else:
            from campaigns.selectors.checkout import coupons_for_checkout

            run.coupons = coupons_for_checkout(member_id=ctx.member_id, now=run.now, coupon_ids=ctx.coupon_ids or ())
    if ctx.coupon_ids:
        held = {c.coupon_id: c for c in run.coupons}
        unknown = sorted(set(ctx.coupon_ids) - set(held))
        if unknown:
            raise CouponNotFound(detail={"coupon_ids": unknown})
        chosen = [held[i] for i in sorted(set(ctx.coupon_ids))]
        if sum(c.is_freight for c in chosen) > 1 or sum(not c.is_freight for c in chosen) > 1:
            raise CouponCombinationInvalid(detail={"coupon_ids": sorted(set(ctx.coupon_ids))})
        for c in chosen:
            if c.status == CouponStatus.EXPIRED:
                raise CouponNotUsable("已过期", code="coupon_expired", detail={"coupon_id": c.coupon_id})
            if c.status != CouponStatus.AVAILABLE:
                raise CouponUnavailable(detail={"coupon_id": c.coupon_id})
    return run.coupons


def _choose(verdicts: list[CouponVerdict], ctx: PricingContext) -> CouponVerdict | None:
    if ctx.coupon_ids is None:
        return coupon_pick(verdicts)
    wanted = set(ctx.coupon_ids)
    for verdict in verdicts:
        if verdict.coupon.coupon_id in wanted:
            if not verdict.usable:
                raise CouponNotUsable(verdict.reason, code=verdict.reason_code,
                                      detail={"coupon_id": verdict.coupon.coupon_id})
            return verdict
    return None


# The goods stages, in order, each returning at most one adjustment per line. The member-price
# and points stages pass through until their issue replaces them (members.pricing).
GOODS_STAGES: list[tuple[str, GoodsStage]] = [
    ("activity", activity_stage),
    ("member", _pass_through),
    ("full_reduction", full_reduction_stage),
    ("coupon", coupon_stage),
    ("points", _pass_through),
]


def allocate_discount(lines: list[PricedLine], discount_fen: int, *, stage: str, label: str,
                      reference: str = "", eligible: list[bool] | None = None) -> list[Adjustment | None]:
    """Spread an order-level discount over the eligible lines by what each still costs.

    Helper for stages: parts sum exactly to the discount (largest remainder) and no line is
    taken below zero because weights are the lines' remaining payable amounts.
    """
    flags = eligible or [True] * len(lines)
    weights = [pl.payable_fen if ok else 0 for pl, ok in zip(lines, flags, strict=True)]
    discount_fen = min(discount_fen, sum(weights))
    parts = allocate(discount_fen, weights) if discount_fen > 0 else [0] * len(lines)
    return [Adjustment(stage, label, -part, reference) if part else None for part in parts]


def quote(lines: list[CartLine], ctx: PricingContext, *, run: PricingRun | None = None) -> Quote:
    """Price `lines` for `ctx`. Deterministic: the same inputs and offers give the same quote to
    the fen. `run` may carry the clock and offers already loaded (tests); else they are read now.

    The stage summaries have one entry per stage and label: 满减 shows each activity by name,
    the coupon stage the coupon's name.
    """
    run = run or PricingRun(now=timezone.now())
    priced = [PricedLine(line=line) for line in lines]
    totals: dict[tuple[str, str], int] = {}
    for stage, apply in GOODS_STAGES:
        results = apply(priced, ctx, run)
        for priced_line, adjustment in zip(priced, results, strict=True):
            if adjustment is not None and adjustment.amount_fen:
                priced_line.adjustments.append(adjustment)
                label = adjustment.label if stage in LABELLED_STAGES else STAGE_LABELS[stage]
                totals[(stage, label)] = totals.get((stage, label), 0) + adjustment.amount_fen
    summaries = [StageSummary(stage, label, total) for (stage, label), total in totals.items() if total]
    freight_fen = freight_for(priced, province=ctx.province)
    summaries.append(StageSummary("freight", STAGE_LABELS["freight"], freight_fen))
    offers = _coupons(ctx, run)
    snaps = snapshots(priced)
    freight_verdicts = [coupon_evaluate(c, snaps, now=run.now, freight_fen=freight_fen) for c in offers
                        if c.is_freight and c.status == CouponStatus.AVAILABLE]
    freight_coupon = _choose(freight_verdicts, ctx)
    freight_discount = 0
    if freight_coupon is not None and freight_coupon.discount_fen:
        freight_discount = freight_coupon.discount_fen
        summaries.append(StageSummary("freight_coupon", f"运费券：{freight_coupon.coupon.name}", -freight_discount))
    selected = [v for v in (run.goods_coupon, freight_coupon) if v is not None]
    coupons = CouponSummary(verdicts=run.goods_verdicts + freight_verdicts, selected=selected,
                            auto=ctx.coupon_ids is None)
    return Quote(lines=priced, freight_fen=freight_fen, stages=summaries, province=ctx.province,
                 freight_discount_fen=freight_discount, coupons=coupons)


# Stages whose summary keeps each adjustment's own label (秒杀价, the activity's or the coupon's name).
LABELLED_STAGES = frozenset({"activity", "full_reduction", "coupon"})


def freight_for(lines: list[PricedLine], *, province: str) -> int:
    """Freight summed over the freight templates of the lines' products.

    Per template: free when the goods still payable reach its threshold; otherwise the rule
    for the province (or the template's catch-all rule) charges first piece + each extra block.
    """
    if not lines:
        return 0
    named = {pl.line.freight_template_id for pl in lines if pl.line.freight_template_id}
    templates = {t.pk: t for t in FreightTemplate.objects.filter(Q(is_default=True) | Q(pk__in=named))}
    default = next((t for t in templates.values() if t.is_default), None)
    groups: dict[int | None, list[PricedLine]] = {}
    for pl in lines:
        template_id = pl.line.freight_template_id or (default.pk if default else None)
        groups.setdefault(template_id, []).append(pl)
    rules: dict[int, list[FreightRule]] = {}
    for row in FreightRule.objects.filter(template_id__in=list(templates)).order_by("id"):
        rules.setdefault(row.template_id, []).append(row)
    total = 0
    for template_id, group in groups.items():
        template = templates.get(template_id) if template_id else None
        if template is None:
            continue  # no template configured: free shipping
        payable = sum(pl.payable_fen for pl in group)
        if template.free_threshold_fen is not None and payable >= template.free_threshold_fen:
            continue
        rule = _rule_for(rules.get(template.pk, []), province)
        if rule is None:
            continue
        if not rule.is_deliverable:
            raise NotDeliverable(detail={"province": province})
        count = sum(pl.line.quantity for pl in group)
        extra_blocks = -(-max(0, count - rule.first_count) // rule.extra_count)
        total += rule.first_fee_fen + extra_blocks * rule.extra_fee_fen
    return total


def _rule_for(rules: list[FreightRule], province: str) -> FreightRule | None:
    for rule in rules:
        if province and province in rule.provinces:
            return rule
    return next((rule for rule in rules if not rule.provinces), None)
