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
per-line parts back into adjustments.

Member price (会员价): every line not bought at a flash price pays
members.pricing.member_unit_price() per unit — the tier discount and the active paid card's,
combined by the operators' stacking policy (折上折 or 取优) and never below cost × the margin
floor; the adjustment is (member price − unit price) × quantity and its label says which
discount applied (等级 / 会员卡 / 叠加 / 最低售价), so the preview shows it. What the stage needs
about the buyer is read once per quote (PricingRun.member), never per line; a guest, or a
member without a tier discount or card, gets nothing.

Points (积分抵扣): the quote always reports the member's balance and the most points this cart
may use (members.pricing_points.points_checkout_limit on the goods still payable after the
coupon: 100 points = ¥1, at most 50%, whole points). `PricingContext.points_to_use` > 0 adds one
"积分抵扣" stage allocated to the lines by largest remainder; more than the limit raises
PointsExceedLimit, more than the balance PointsInsufficient (both 409, `detail.max_points`),
a negative or non-integer number ValidationFailed. Placement spends them (shop.services.orders).

Freight: per freight template (catalog.freight), free from the template's own threshold; on top
of that a tier with free_shipping_threshold_fen (包邮门槛) makes the whole order's freight 0 once
the goods still payable reach it. Both are checked, so whichever threshold is lower wins.

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
from decimal import Decimal

from django.utils import timezone

from campaigns.errors import (
    CouponCombinationInvalid,
    CouponNotFound,
    CouponNotUsable,
    CouponUnavailable,
    FlashItemNotFound,
)
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
from campaigns.selectors.checkout import coupons_for_checkout, flash_items_existing, full_reductions_running
from campaigns.selectors.flash import flash_offers
from catalog.freight import FreightLine, freight_for
from core.errors import ValidationFailed
from core.money import allocate
from members.errors import PointsInsufficient
from members.pricing import (
    APPLIED_FLOOR,
    APPLIED_LABELS,
    APPLIED_STACKED,
    APPLIED_TIER,
    BuyerFacts,
    MemberPricingContext,
    member_checkout_facts,
    member_unit_price,
)
from members.pricing_points import points_checkout_limit, points_value_fen
from shop.errors import PointsExceedLimit


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
    early_access_until: dt.datetime | None = None  # the product's early-access (新品优先购) window
    early_access_min_tier_level: int | None = None

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


@dataclass(frozen=True)
class PointsSummary:
    """The points side of a quote: what the member has, may use on this cart, and uses."""

    balance: int = 0
    max_points: int = 0  # the most points this cart may use (≤ balance, ≤ 50% of goods payable)
    max_value_fen: int = 0  # what max_points are worth
    used: int = 0  # PricingContext.points_to_use when accepted
    used_fen: int = 0  # what they take off (the "积分抵扣" stage)


@dataclass
class Quote:
    lines: list[PricedLine]
    freight_fen: int
    stages: list[StageSummary]
    province: str
    freight_discount_fen: int = 0  # what a freight coupon takes off the freight
    coupons: CouponSummary = field(default_factory=lambda: CouponSummary([], [], True))
    points: PointsSummary = field(default_factory=PointsSummary)
    free_shipping_by_tier: bool = False  # the tier's 包邮门槛 made the freight 0

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


@dataclass(frozen=True)
class MemberFacts:
    """What the member stages need about the buyer, read once per quote (never per line)."""

    pricing: MemberPricingContext
    tier_name: str = ""
    free_shipping_threshold_fen: int | None = None  # the tier's 包邮门槛
    points_balance: int = 0


# A guest, or a member id that does not exist: no member price, no points, no tier benefits.
GUEST = MemberFacts(pricing=MemberPricingContext(100, 100, "stack", Decimal(1), Decimal(1)))


def member_facts(*, member_id: int | None, at: dt.datetime) -> MemberFacts:
    """The buyer's member-price context, tier benefits and points balance, read once per quote.

    The pricing context is members.pricing.member_pricing_context's, built from the same pieces
    (the operators' settings row, the tier, the active card), all read in one query with the
    balance by members.pricing.member_checkout_facts, whatever the cart. A member id that does
    not exist is a guest."""
    if member_id is None:
        return GUEST
    buyer = member_checkout_facts(member_id=member_id, at=at)
    return GUEST if buyer is None else member_facts_of(buyer)


def member_facts_of(buyer: BuyerFacts) -> MemberFacts:
    """The pricing stages' view of the facts checkout has already read about the buyer."""
    return MemberFacts(pricing=buyer.pricing, tier_name=buyer.tier_name,
                       free_shipping_threshold_fen=buyer.free_shipping_threshold_fen,
                       points_balance=buyer.points_balance)


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
    member: MemberFacts | None = None  # loaded by the first stage that needs it
    points: PointsSummary = field(default_factory=PointsSummary)

    def member_for(self, ctx: PricingContext) -> MemberFacts:
        if self.member is None:
            self.member = member_facts(member_id=ctx.member_id, at=self.now)
        return self.member


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


def snapshots(lines: list[PricedLine]) -> list[LineSnapshot]:
    """The lines as campaigns see them, with what they still cost after the stages so far."""
    return [LineSnapshot(
        sku_id=pl.line.sku_id, product_id=pl.line.product_id,
        category_ids=frozenset(pl.line.category_ids or (pl.line.category_id,)),
        unit_price_fen=pl.line.unit_price_fen, cost_fen=pl.line.cost_fen, quantity=pl.line.quantity,
        payable_fen=pl.payable_fen, activity_discounted=pl.activity_discounted,
    ) for pl in lines]


def _zhe(percent: int | float) -> str:
    """95 → "9.5折", 90 → "9折", 85.5 → "8.55折"."""
    text = f"{percent / 10:.3f}".rstrip("0").rstrip(".")
    return f"{text}折"


def member_label(applied: str, facts: MemberFacts) -> str:
    """The member stage's label: which discount made the price (members.pricing.APPLIED_LABELS)."""
    p = facts.pricing
    if applied == APPLIED_FLOOR:
        return APPLIED_LABELS[applied]
    if applied == APPLIED_STACKED:
        detail = f"{_zhe(p.tier_percent)}×{_zhe(p.card_percent)}={_zhe(p.tier_percent * p.card_percent / 100)}"
    elif applied == APPLIED_TIER:
        detail = f"{facts.tier_name} {_zhe(p.tier_percent)}".strip()
    else:
        detail = _zhe(p.card_percent)
    return f"会员价：{APPLIED_LABELS[applied]}（{detail}）"[:100]


def member_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """会员价: each line not bought at a flash price pays the member unit price (members.pricing)."""
    out: list[Adjustment | None] = [None] * len(lines)
    if ctx.member_id is None:
        return out
    facts = run.member_for(ctx)
    p = facts.pricing
    if p.tier_percent >= 100 and p.card_percent >= 100:
        return out
    for i, pl in enumerate(lines):
        line = pl.line
        if line.flash_item_id is not None or any(a.stage == "activity" for a in pl.adjustments):
            continue
        price, applied = member_unit_price(list_price_fen=line.unit_price_fen, cost_fen=line.cost_fen,
                                           tier_percent=p.tier_percent, card_percent=p.card_percent,
                                           policy=p.policy, floor=p.floor)
        if applied is None or price >= line.unit_price_fen:
            continue
        out[i] = Adjustment("member", member_label(applied, facts), (price - line.unit_price_fen) * line.quantity,
                            f"member:{applied}")
    return out


def check_points_to_use(points: object) -> int:
    """ValidationFailed (400 invalid_points) unless `points` is a whole number ≥ 0."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise ValidationFailed("使用积分须为不小于 0 的整数", code="invalid_points", detail={"points": str(points)})
    return points


def points_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """积分抵扣: the limit for this cart always; the points the shopper chose, allocated to lines."""
    wanted = check_points_to_use(ctx.points_to_use)
    if ctx.member_id is None:
        if wanted:
            raise PointsInsufficient(detail={"points": wanted, "balance": 0, "max_points": 0})
        return [None] * len(lines)
    balance = run.member_for(ctx).points_balance
    goods_payable = sum(pl.payable_fen for pl in lines)
    max_points, max_value = points_checkout_limit(balance=balance, goods_payable_fen=goods_payable)
    run.points = PointsSummary(balance=balance, max_points=max_points, max_value_fen=max_value)
    if not wanted:
        return [None] * len(lines)
    # The cap regardless of the balance: asking above it is "too many for this order".
    cap_points, _ = points_checkout_limit(balance=wanted, goods_payable_fen=goods_payable)
    detail = {"points": wanted, "balance": balance, "max_points": max_points, "max_value_fen": max_value}
    if cap_points < wanted:
        raise PointsExceedLimit(detail=detail)
    if wanted > balance:
        raise PointsInsufficient(detail=detail)
    value = points_value_fen(points=wanted)
    run.points = PointsSummary(balance=balance, max_points=max_points, max_value_fen=max_value,
                               used=wanted, used_fen=value)
    return allocate_discount(lines, value, stage="points", label=STAGE_LABELS["points"], reference=f"points:{wanted}")


def activity_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """秒杀: lines bought through a flash item pay its price (FlashNotActive when it is not on now)."""
    item_ids = [pl.line.flash_item_id for pl in lines]
    wanted = sorted({i for i in item_ids if i is not None})
    if not wanted:
        return [None] * len(lines)
    if run.flash_offers is None:
        run.flash_offers = flash_offers(item_ids=wanted, now=run.now, member_id=ctx.member_id)
    missing = set(wanted) - set(run.flash_offers)
    if missing:
        unknown = missing - flash_items_existing(item_ids=missing)
        if unknown:
            raise FlashItemNotFound(detail={"flash_item_ids": sorted(unknown)})
    parts = flash_discounts(snapshots(lines), item_ids, run.flash_offers)
    return [Adjustment("activity", "秒杀价", -part, f"flash:{item_id}") if part else None
            for part, item_id in zip(parts, item_ids, strict=True)]


def full_reduction_stage(lines: list[PricedLine], ctx: PricingContext, run: PricingRun) -> list[Adjustment | None]:
    """满减 / 满折: the running activities, each line in at most one (campaigns.pricing)."""
    if run.full_reductions is None:
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


# The goods stages, in order, each returning at most one adjustment per line.
GOODS_STAGES: list[tuple[str, GoodsStage]] = [
    ("activity", activity_stage),
    ("member", member_stage),
    ("full_reduction", full_reduction_stage),
    ("coupon", coupon_stage),
    ("points", points_stage),
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
    tier_threshold = run.member_for(ctx).free_shipping_threshold_fen if ctx.member_id is not None else None
    free_by_tier = (bool(priced) and tier_threshold is not None
                    and sum(pl.payable_fen for pl in priced) >= tier_threshold)
    # Deliverability is still checked (NotDeliverable) when the tier makes the freight free.
    freight_fen = freight_for([FreightLine(template_id=pl.line.freight_template_id, payable_fen=pl.payable_fen,
                                           quantity=pl.line.quantity) for pl in priced], province=ctx.province)
    if free_by_tier:
        freight_fen = 0
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
                 freight_discount_fen=freight_discount, coupons=coupons, points=run.points,
                 free_shipping_by_tier=free_by_tier)


# Stages whose summary keeps each adjustment's own label (秒杀价, the activity's or the coupon's name).
LABELLED_STAGES = frozenset({"activity", "member", "full_reduction", "coupon"})
