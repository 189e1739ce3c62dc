"""Reads for the points mall: what is on offer now, and the shopper's own exchanges."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from campaigns.models import PointsExchange, PointsMallItem, PointsMallQuota


def points_mall_items_on_offer(*, now: dt.datetime) -> QuerySet[PointsMallItem]:
    """Items on the shelf whose window is open, in the operators' order (sold-out ones included:
    the mini-program shows them as 已兑完)."""
    return (PointsMallItem.objects.filter(is_active=True)
            .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .select_related("coupon_template").order_by("sort", "id"))


def points_mall_exchanged_counts(*, member_id: int, item_ids: list[int]) -> dict[int, int]:
    """How many of each item the member has exchanged (one query)."""
    return dict(PointsMallQuota.objects.filter(member_id=member_id, item_id__in=item_ids)
                .values_list("item_id", "exchanged"))


def points_exchanges_for_member(*, member_id: int) -> QuerySet[PointsExchange]:
    """The member's exchanges, newest first; only their own."""
    return (PointsExchange.objects.filter(member_id=member_id)
            .select_related("item__coupon_template", "coupon").order_by("-id"))
