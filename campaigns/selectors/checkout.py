"""What checkout reads from campaigns: running 满减 activities and a member's coupons, as snapshots.

A fixed number of queries whatever the number of activities or coupons: the rows, then each
scope relation (categories, products, excluded products) in one query over its through table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet

from campaigns.models import Coupon, CouponStatus, CouponTemplate, FlashItem, FullReduction, FullReductionStep
from campaigns.pricing import CouponOffer, ReductionOffer, ReductionStep, ScopeRule
from core.compiled import CompiledQuery

_SCOPE_FIELDS = ("categories", "products", "excluded_products")


def scope_rules(model: type[Model], rows: dict[int, str]) -> dict[int, ScopeRule]:
    """pk -> ScopeRule for Scoped rows (pk -> scope); three queries, none when `rows` is empty."""
    ids: dict[str, dict[int, set[int]]] = {name: defaultdict(set) for name in _SCOPE_FIELDS}
    if rows:
        for name in _SCOPE_FIELDS:
            field = model._meta.get_field(name)
            through = field.remote_field.through  # type: ignore[union-attr]
            own, other = field.m2m_field_name(), field.m2m_reverse_field_name()  # type: ignore[union-attr]
            pairs = through.objects.filter(**{f"{own}_id__in": list(rows)}).values_list(f"{own}_id", f"{other}_id")
            for pk, related in pairs:
                ids[name][pk].add(related)
    return {pk: ScopeRule(scope=scope, category_ids=frozenset(ids["categories"][pk]),
                          product_ids=frozenset(ids["products"][pk]),
                          excluded_product_ids=frozenset(ids["excluded_products"][pk]))
            for pk, scope in rows.items()}


def full_reductions_running(*, now: dt.datetime) -> list[ReductionOffer]:
    """Enabled 满减 / 满折 activities whose window holds `now`, with their ladders. Five queries."""
    activities = _RUNNING_REDUCTIONS.rows(now=now)
    if not activities:
        return []
    steps: dict[int, list[ReductionStep]] = defaultdict(list)
    for activity_id, threshold_fen, discount_fen, threshold_count, pay_percent in (
            FullReductionStep.objects.filter(activity_id__in=[a[0] for a in activities]).order_by("id")
            .values_list("activity_id", "threshold_fen", "discount_fen", "threshold_count", "pay_percent")):
        steps[activity_id].append(ReductionStep(threshold_fen=threshold_fen, discount_fen=discount_fen,
                                                threshold_count=threshold_count, pay_percent=pay_percent))
    scopes = scope_rules(FullReduction, {pk: scope for pk, _, _, scope in activities})
    return [ReductionOffer(activity_id=pk, name=name, kind=kind, scope=scopes[pk], steps=tuple(steps[pk]))
            for pk, name, kind, _ in activities]


def coupons_for_checkout(*, member_id: int, now: dt.datetime, coupon_ids: Iterable[int] = ()) -> list[CouponOffer]:
    """The member's coupons a checkout considers, soonest to expire first.

    Those AVAILABLE and not yet expired at `now` (including ones whose validity has not begun:
    checkout shows them as not yet usable), plus any of `coupon_ids` the member holds whatever
    their state, so checkout can say why a chosen one cannot be used. Another member's coupon
    is never returned. Four queries.
    """
    coupons = _CHECKOUT_COUPONS.rows(member_id=member_id, now=now, explicit=sorted(set(coupon_ids)) or None)
    scopes = scope_rules(CouponTemplate, {row[1]: row[-1] for row in coupons})
    return [CouponOffer(
        coupon_id=pk, template_id=template_id, name=name, kind=kind, threshold_fen=threshold_fen,
        amount_fen=amount_fen, pay_percent=pay_percent, max_discount_fen=max_discount_fen, valid_from=valid_from,
        valid_until=valid_until, stacks_with_activities=stacks, scope=scopes[template_id], status=status,
    ) for (pk, template_id, name, kind, threshold_fen, amount_fen, pay_percent, max_discount_fen, valid_from,
           valid_until, stacks, status, _) in coupons]


def _checkout_coupons_query(*, member_id: int, now: dt.datetime, explicit: list[int] | None) -> QuerySet[Any, Any]:
    wanted = Q(status=CouponStatus.AVAILABLE, valid_until__gt=now)
    if explicit:
        wanted |= Q(pk__in=explicit)
    return (Coupon.objects.filter(wanted, member_id=member_id).order_by("valid_until", "id").values_list(
        "pk", "template_id", "template__name", "template__kind", "template__threshold_fen", "template__amount_fen",
        "template__pay_percent", "template__max_discount_fen", "valid_from", "valid_until",
        "template__stacks_with_activities", "status", "template__scope"))


def _running_reductions_query(*, now: dt.datetime) -> QuerySet[Any, Any]:
    return (FullReduction.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
            .order_by("id").values_list("pk", "name", "kind", "scope"))


# Checkout's reads, compiled once per process (placement runs them on every order).
_CHECKOUT_COUPONS = CompiledQuery(_checkout_coupons_query)
_RUNNING_REDUCTIONS = CompiledQuery(_running_reductions_query)


def flash_items_existing(*, item_ids: Iterable[int]) -> set[int]:
    """Which of `item_ids` are flash items at all (running or not). One query."""
    return set(FlashItem.objects.filter(pk__in=list(item_ids)).values_list("pk", flat=True))
