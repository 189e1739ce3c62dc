"""Helpers for the checkout tests of campaigns: coupon templates with scopes, coupons handed out
through the one grant primitive, 满减 / 满折 activities, paying through the sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from campaigns.models import Coupon, CouponSource, CouponTemplate, FullReduction, FullReductionStep, Scope
from campaigns.services.coupons import coupon_grant
from members.models import Member
from tests.factories import CouponTemplateFactory


def template(*, categories: Sequence[Any] = (), products: Sequence[Any] = (), excluded: Sequence[Any] = (),
             **fields: Any) -> CouponTemplate:
    """A coupon template (default 满 100 减 10, whole store) with its scope relations set."""
    t = CouponTemplateFactory.create(per_member_limit=fields.pop("per_member_limit", 100), **fields)
    t.categories.set(categories)
    t.products.set(products)
    t.excluded_products.set(excluded)
    return t


def give(member: Member, t: CouponTemplate, *, valid_from: dt.datetime | None = None,
         valid_until: dt.datetime | None = None) -> Coupon:
    """Hand `member` a coupon of `t` the way every issue does (coupon_grant), then, for tests of
    validity, move its window."""
    coupon = coupon_grant(template=t, member=member, source=CouponSource.OPERATOR).coupon
    if valid_from or valid_until:
        Coupon.objects.filter(pk=coupon.pk).update(valid_from=valid_from or coupon.valid_from,
                                                   valid_until=valid_until or coupon.valid_until)
        coupon.refresh_from_db()
    return coupon


def full_reduction(*, steps: Sequence[tuple[int, int]], kind: str = FullReduction.Kind.AMOUNT,
                   name: str | None = None, scope: str = Scope.ALL, categories: Sequence[Any] = (),
                   products: Sequence[Any] = (), excluded: Sequence[Any] = (),
                   starts_at: dt.datetime | None = None, ends_at: dt.datetime | None = None) -> FullReduction:
    """A running 满减 (steps: (threshold_fen, discount_fen)) or 满折 (steps: (pieces, pay_percent))."""
    now = timezone.now()
    activity = FullReduction.objects.create(
        name=name or ("满减活动" if kind == FullReduction.Kind.AMOUNT else "满折活动"), kind=kind, scope=scope,
        starts_at=starts_at or now - dt.timedelta(days=1), ends_at=ends_at or now + dt.timedelta(days=1))
    for first, second in steps:
        if kind == FullReduction.Kind.AMOUNT:
            FullReductionStep.objects.create(activity=activity, threshold_fen=first, discount_fen=second)
        else:
            FullReductionStep.objects.create(activity=activity, threshold_count=first, pay_percent=second)
    activity.categories.set(categories)
    activity.products.set(products)
    activity.excluded_products.set(excluded)
    return activity
