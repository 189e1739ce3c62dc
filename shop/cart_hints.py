"""Cart hints: "再买 ¥x 减 ¥y" for a 满减 the selected lines have not fully reached, and "还差 ¥x 包邮"
when the selected lines still pay freight.

Read off the checkout pipeline's own quote of the selected lines (no coupon chosen, to the member's
default address), so a hint speaks of the amounts checkout works with: what the lines cost after
activity and member prices, the 满减 ladders checkout applies, and the thresholds freight uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from campaigns.models import FullReduction
from campaigns.pricing import ReductionOffer
from campaigns.selectors.coupons import yuan_text
from catalog.freight import free_shipping_threshold
from core.errors import DomainError
from members.models import Member
from members.selectors import address_default_for_member
from shop.models import CartItem
from shop.pricing import PricedLine, PricingContext, PricingRun, Quote, quote, snapshots
from shop.selectors import cart_snapshot_lines

# The stages before 满减: what a 满减 ladder is measured against.
BEFORE_REDUCTION = frozenset({"activity", "member"})


@dataclass(frozen=True)
class CartHint:
    kind: str  # "full_reduction" | "free_shipping"
    text: str  # 再买 ¥20 减 ¥30 / 再买 1 件打 9 折 / 还差 ¥12.5 包邮
    gap_fen: int  # how much more to buy, in fen (0 for a 满件 ladder)
    gap_count: int  # how many more units (满件 ladders), else 0
    discount_fen: int  # what the next 满减 rung takes off (0 for 满件 and freight)
    activity_id: int | None


def cart_hints(*, member: Member, now: dt.datetime) -> list[CartHint]:
    """Hints for the member's selected, sellable cart lines (none for an empty selection, or when
    the selection cannot be priced, e.g. not deliverable: the cart shows that itself)."""
    pairs = dict(CartItem.objects.filter(member=member, selected=True, sku__is_active=True,
                                         sku__product__is_on_shelf=True).values_list("sku_id", "quantity"))
    if not pairs:
        return []
    address = address_default_for_member(member=member)
    ctx = PricingContext(member_id=member.pk, province=address.province if address else "", coupon_ids=())
    run = PricingRun(now=now)
    try:
        q = quote(cart_snapshot_lines(quantities=pairs), ctx, run=run)
    except DomainError:
        return []
    hints = [hint for offer in run.full_reductions or [] if (hint := _reduction_hint(offer, q.lines)) is not None]
    free = _free_shipping_hint(q, run.member.free_shipping_threshold_fen if run.member else None)
    return hints + ([free] if free is not None else [])


def _before_reduction(pl: PricedLine) -> int:
    return pl.goods_total_fen + sum(a.amount_fen for a in pl.adjustments if a.stage in BEFORE_REDUCTION)


def _reduction_hint(offer: ReductionOffer, lines: list[PricedLine]) -> CartHint | None:
    covered = [pl for pl, snap in zip(lines, snapshots(lines), strict=True)
               if pl.line.flash_item_id is None and offer.scope.covers(snap)]
    if not covered:
        return None
    if offer.kind == FullReduction.Kind.QUANTITY:
        count = sum(pl.line.quantity for pl in covered)
        steps = sorted((s for s in offer.steps if s.pay_percent is not None and s.threshold_count > count),
                       key=lambda s: s.threshold_count)
        if not steps:
            return None
        gap = steps[0].threshold_count - count
        tens, ones = divmod(steps[0].pay_percent or 100, 10)
        rate = f"{tens}折" if not ones else f"{tens}.{ones}折"
        return CartHint("full_reduction", f"再买 {gap} 件打 {rate}（{offer.name}）", 0, gap, 0, offer.activity_id)
    amount = sum(_before_reduction(pl) for pl in covered)
    steps = sorted((s for s in offer.steps if s.threshold_fen > amount), key=lambda s: s.threshold_fen)
    if not steps:
        return None
    gap = steps[0].threshold_fen - amount
    return CartHint("full_reduction", f"再买 ¥{yuan_text(gap)} 减 ¥{yuan_text(steps[0].discount_fen)}（{offer.name}）",
                    gap, 0, steps[0].discount_fen, offer.activity_id)


def _free_shipping_hint(q: Quote, tier_threshold_fen: int | None) -> CartHint | None:
    if q.freight_fen <= 0:
        return None
    payable = sum(pl.payable_fen for pl in q.lines)
    thresholds = [t for t in (free_shipping_threshold({pl.line.freight_template_id for pl in q.lines}),
                              tier_threshold_fen) if t is not None and t > payable]
    if not thresholds:
        return None
    gap = min(thresholds) - payable
    return CartHint("free_shipping", f"还差 ¥{yuan_text(gap)} 包邮", gap, 0, 0, None)
