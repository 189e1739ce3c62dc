"""The console's numbers: coupon templates, channels, code batches and flash sessions.

Each function annotates a queryset with correlated subqueries, so a list page costs one query
whatever its length (the subqueries run for the rows on the page). These count campaigns' own
rows; a number that needs another app's rows (what the orders that used a template's coupons
paid) is a report, and lives in analytics.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import (
    Channel,
    ChannelScan,
    CodeBatch,
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    FlashItem,
    FlashReservation,
    FlashSession,
    RedeemCode,
)


def _count(queryset: QuerySet, group: str) -> Coalesce:
    """COUNT(*) of `queryset` (already correlated with OuterRef) as a scalar subquery, 0 when none."""
    counted = queryset.order_by().values(group).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _sum(queryset: QuerySet, group: str, field: str) -> Coalesce:
    summed = queryset.order_by().values(group).annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(summed, output_field=IntegerField()), Value(0))


# ---------------------------------------------------------------------------------------------
# Coupon templates


def _face_value() -> Case:
    """CouponTemplate.face_value_fen in SQL: what one issued coupon counts against the budget."""
    return Case(When(kind=CouponKind.DISCOUNT, then=Coalesce(F("max_discount_fen"), Value(0))),
                default=F("amount_fen"))


def coupon_templates_with_stats(queryset: QuerySet[CouponTemplate] | None = None, *,
                                now: dt.datetime | None = None) -> QuerySet[CouponTemplate]:
    """Templates annotated with their numbers (one query for a page of them):

    - stat_issued: coupons issued (the template's counter, which the total quantity limits);
    - stat_used: coupons used (status 已使用);
    - stat_expired: coupons expired, or past their end and never used (the expiry job may lag);
    - stat_cost_fen: the discounts those coupons gave (Coupon.discount_fen);
    - budget_exhausted: a budget is set and the next coupon would not fit (the same rule
      coupon_grant() applies: issued face value + one more > budget, or redeemed >= budget).
    """
    now = now or timezone.now()
    queryset = CouponTemplate.objects.all() if queryset is None else queryset
    coupons = Coupon.objects.filter(template=OuterRef("pk"))
    used = coupons.filter(status=CouponStatus.USED)
    expired = coupons.filter(Q(status=CouponStatus.EXPIRED) | Q(status=CouponStatus.AVAILABLE, valid_until__lte=now))
    exhausted = Q(budget_fen__isnull=False) & (
        Q(issued_value_fen__gt=F("budget_fen") - _face_value()) | Q(redeemed_value_fen__gte=F("budget_fen")))
    return queryset.annotate(
        stat_issued=F("issued_count"),
        stat_used=_count(used, "template"),
        stat_expired=_count(expired, "template"),
        stat_cost_fen=_sum(used, "template", "discount_fen"),
        budget_exhausted=ExpressionWrapper(exhausted, output_field=BooleanField()),
    )


# ---------------------------------------------------------------------------------------------
# Channels, code batches


def channels_with_stats(queryset: QuerySet[Channel] | None = None) -> QuerySet[Channel]:
    """Channels with stat_scans (every scan) and stat_claims (coupons attributed to the channel)."""
    queryset = Channel.objects.all() if queryset is None else queryset
    return queryset.annotate(
        stat_scans=_count(ChannelScan.objects.filter(channel=OuterRef("pk")), "channel"),
        stat_claims=_count(Coupon.objects.filter(channel=OuterRef("pk")), "channel"),
    )


def code_batches_with_stats(queryset: QuerySet[CodeBatch] | None = None) -> QuerySet[CodeBatch]:
    """Batches with stat_total (codes in the batch) and stat_redeemed (codes redeemed)."""
    queryset = CodeBatch.objects.all() if queryset is None else queryset
    codes = RedeemCode.objects.filter(batch=OuterRef("pk"))
    return queryset.annotate(
        stat_total=_count(codes, "batch"),
        stat_redeemed=_count(codes.filter(redeemed_by__isnull=False), "batch"),
    )


def redeem_codes_existing(*, codes: list[str]) -> set[str]:
    """Which of `codes` are already taken by some batch (an import's preview flags them)."""
    found: set[str] = set()
    for start in range(0, len(codes), 5000):
        found.update(RedeemCode.objects.filter(code__in=codes[start:start + 5000]).values_list("code", flat=True))
    return found


# ---------------------------------------------------------------------------------------------
# Flash sales: live stock


def flash_sessions_with_stock(queryset: QuerySet[FlashSession] | None = None) -> QuerySet[FlashSession]:
    """Sessions with stat_items, stat_stock_total and stat_stock_left summed over their items."""
    queryset = FlashSession.objects.all() if queryset is None else queryset
    items = FlashItem.objects.filter(session=OuterRef("pk"))
    return queryset.annotate(
        stat_items=_count(items, "session"),
        stat_stock_total=_sum(items, "session", "stock_total"),
        stat_stock_left=_sum(items, "session", "stock_left"),
    )


def flash_items_with_sales(queryset: QuerySet[FlashItem]) -> QuerySet[FlashItem]:
    """Items with stat_sold (units of paid orders) and stat_pending (units held by unpaid orders).

    Units taken = stock_total - stock_left = sold + pending (released reservations gave theirs back).
    It stays here rather than in analytics: it is the live accounting of the activity stock the
    session page edits, not a report, and asks only whether a reservation's order is paid.
    """
    held = FlashReservation.objects.filter(item=OuterRef("pk"), released_at__isnull=True)
    return queryset.annotate(
        stat_sold=_sum(held.filter(order__paid_at__isnull=False), "item", "quantity"),
        stat_pending=_sum(held.filter(order__paid_at__isnull=True), "item", "quantity"),
    )
