"""What campaigns put on a product page: the flash items on sale now, the 满减 activities that
cover the product, and the coupon-centre templates a shopper could claim for it.

A fixed number of queries whatever the number of SKUs, activities or templates. Scope is judged
by the same ScopeRule checkout prices with (campaigns.pricing), on a one-unit snapshot of the
product, so a badge never promises what checkout will not give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from campaigns.models import CouponTemplate, FlashItem, FlashPurchase, FullReduction
from campaigns.pricing import LineSnapshot, ReductionOffer, ScopeRule
from campaigns.selectors.checkout import scope_rules
from campaigns.selectors.coupons import coupon_centre_templates, yuan_text


@dataclass(frozen=True)
class RunningFlashItem:
    """A flash item of an enabled session running now, as the product page shows it."""

    item_id: int
    session_id: int
    session_name: str
    sku_id: int
    flash_price_fen: int
    stock_left: int
    per_member_limit: int
    my_remaining: int | None  # None for an anonymous shopper
    starts_at: dt.datetime
    ends_at: dt.datetime

    @property
    def buyable(self) -> bool:
        """Units left, and (for a member) allowance left: checkout would take this flash price."""
        return self.stock_left > 0 and (self.my_remaining is None or self.my_remaining > 0)


def flash_items_running(*, sku_ids: Sequence[int], now: dt.datetime,
                        member_id: int | None) -> dict[int, RunningFlashItem]:
    """sku_id -> the flash item selling it in an enabled session running at `now` (the session
    ending soonest when two overlap). Two queries at most."""
    rows = list(FlashItem.objects.filter(sku_id__in=list(sku_ids), session__is_active=True,
                                         session__starts_at__lte=now, session__ends_at__gt=now)
                .order_by("session__ends_at", "id")
                .values_list("pk", "session_id", "session__name", "sku_id", "flash_price_fen", "stock_left",
                             "per_member_limit", "session__starts_at", "session__ends_at"))
    held: dict[int, int] = {}
    if member_id is not None and rows:
        held = dict(FlashPurchase.objects.filter(member_id=member_id, item_id__in=[r[0] for r in rows])
                    .values_list("item_id", "quantity"))
    found: dict[int, RunningFlashItem] = {}
    for pk, session_id, name, sku_id, price, left, limit, starts_at, ends_at in rows:
        if sku_id in found:
            continue
        remaining = None if member_id is None else max(limit - held.get(pk, 0), 0)
        found[sku_id] = RunningFlashItem(item_id=pk, session_id=session_id, session_name=name, sku_id=sku_id,
                                         flash_price_fen=price, stock_left=max(left, 0), per_member_limit=limit,
                                         my_remaining=remaining, starts_at=starts_at, ends_at=ends_at)
    return found


def product_snapshot(*, product_id: int, category_ids: Sequence[int], unit_price_fen: int = 0) -> LineSnapshot:
    """One unit of the product as a scope rule sees it (category ancestry included)."""
    return LineSnapshot(sku_id=0, product_id=product_id, category_ids=frozenset(category_ids),
                        unit_price_fen=unit_price_fen, cost_fen=0, quantity=1, payable_fen=unit_price_fen)


def full_reductions_covering(offers: Sequence[ReductionOffer], *, product_id: int,
                             category_ids: Sequence[int]) -> list[ReductionOffer]:
    """The running 满减 / 满折 activities (full_reductions_running) whose scope covers the product."""
    line = product_snapshot(product_id=product_id, category_ids=category_ids)
    return [offer for offer in offers if offer.scope.covers(line)]


def reduction_text(offer: ReductionOffer) -> str:
    """The ladder in the shopper's words: "满199减30，满299减50" or "满2件9折，满3件8.5折"."""
    parts = []
    for step in offer.steps:
        if offer.kind == FullReduction.Kind.QUANTITY:
            if step.pay_percent is None:
                continue
            tens, ones = divmod(step.pay_percent, 10)
            parts.append(f"满{step.threshold_count}件{tens}{'' if not ones else f'.{ones}'}折")
        else:
            parts.append(f"满{yuan_text(step.threshold_fen)}减{yuan_text(step.discount_fen)}")
    return "，".join(parts)


def coupon_templates_for_product(*, product_id: int, category_ids: Sequence[int],
                                 now: dt.datetime) -> list[CouponTemplate]:
    """Coupon-centre templates (coupon_centre_templates) whose scope covers the product, newest
    first. Four queries: the templates with their tiers and segments, then the scope relations."""
    templates = list(coupon_centre_templates(now=now))
    rules: dict[int, ScopeRule] = scope_rules(CouponTemplate, {t.pk: t.scope for t in templates})
    line = product_snapshot(product_id=product_id, category_ids=category_ids)
    return [t for t in templates if rules[t.pk].covers(line)]
