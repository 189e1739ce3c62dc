"""The pricing pipeline: one function that prices a cart, used by preview and by placement.

Stages run in a fixed order (DESIGN.md §3):

    list price → activity price → member price → 满减 → coupon → points → freight

Each goods stage returns line-level adjustments (negative fen = discount) so every discount is
allocated to lines to the fen and a partial refund of one line is exact. Stages that later
issues fill (activities, member price, 满减, coupons, points) are wired in and pass through.
Freight is computed last, on what remains payable.

This module reads; it never writes. Placement calls `quote()` and then persists its result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q

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


@dataclass(frozen=True)
class StageSummary:
    stage: str
    label: str
    amount_fen: int


@dataclass
class Quote:
    lines: list[PricedLine]
    freight_fen: int
    stages: list[StageSummary]
    province: str

    @property
    def goods_total_fen(self) -> int:
        return sum(pl.goods_total_fen for pl in self.lines)

    @property
    def discount_fen(self) -> int:
        return sum(pl.discount_fen for pl in self.lines)

    @property
    def payable_fen(self) -> int:
        return self.goods_total_fen - self.discount_fen + self.freight_fen


@dataclass(frozen=True)
class PricingContext:
    """What stages may look at besides the lines: who buys, where to, and their choices."""

    member_id: int | None
    province: str
    coupon_ids: tuple[int, ...] = ()
    points_to_use: int = 0


GoodsStage = Callable[[list[PricedLine], PricingContext], list[Adjustment | None]]

STAGE_LABELS = {
    "activity": "活动价",
    "member": "会员价",
    "full_reduction": "满减",
    "coupon": "优惠券",
    "points": "积分抵扣",
    "freight": "运费",
}


def _pass_through(lines: list[PricedLine], ctx: PricingContext) -> list[Adjustment | None]:
    """A stage with nothing to apply yet: no line changes."""
    return [None] * len(lines)


# The goods stages, in order. Later issues replace a pass-through with the real stage
# (campaigns.pricing / members.pricing), keeping the order and the line-level contract.
GOODS_STAGES: list[tuple[str, GoodsStage]] = [
    ("activity", _pass_through),
    ("member", _pass_through),
    ("full_reduction", _pass_through),
    ("coupon", _pass_through),
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


def quote(lines: list[CartLine], ctx: PricingContext) -> Quote:
    """Price `lines` for `ctx`. Deterministic: the same inputs give the same quote to the fen."""
    priced = [PricedLine(line=line) for line in lines]
    summaries: list[StageSummary] = []
    for stage, apply in GOODS_STAGES:
        results = apply(priced, ctx)
        total = 0
        for priced_line, adjustment in zip(priced, results, strict=True):
            if adjustment is not None and adjustment.amount_fen:
                priced_line.adjustments.append(adjustment)
                total += adjustment.amount_fen
        if total:
            summaries.append(StageSummary(stage, STAGE_LABELS[stage], total))
    freight_fen = freight_for(priced, province=ctx.province)
    summaries.append(StageSummary("freight", STAGE_LABELS["freight"], freight_fen))
    return Quote(lines=priced, freight_fen=freight_fen, stages=summaries, province=ctx.province)


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
