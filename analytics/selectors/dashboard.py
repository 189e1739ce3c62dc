"""The console home's numbers: today's orders, the operators' to-do counts, and the daily trend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import Distributor, DistributorStatus, Withdrawal, WithdrawalStatus
from catalog.models import Sku
from catalog.selectors import sku_low_stock_q
from members.models import AdjustmentStatus, PointsAdjustment
from shop.models import (
    AfterSale,
    AfterSaleStatus,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    Review,
    ReviewStatus,
    ShippingUploadState,
)


def dashboard_today(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The admin home's numbers for the current Shanghai day."""
    now = now or timezone.now()
    start = _day_start(now)
    paid_today = Order.objects.filter(paid_at__gte=start, paid_at__lt=start + dt.timedelta(days=1))
    totals = paid_today.aggregate(n=Count("id"), gmv=Sum("paid_fen"))
    counts = Order.objects.aggregate(
        to_ship=Count("id", filter=Q(status=OrderStatus.PAID)),
        unpaid=Count("id", filter=Q(status=OrderStatus.PENDING_PAYMENT)),
    )
    return {"paid_orders": totals["n"] or 0, "gmv_fen": totals["gmv"] or 0,
            "to_ship": counts["to_ship"], "unpaid": counts["unpaid"]}


# ---------------------------------------------------------------------------------------------
# To-do: the rows waiting for an operator. Each is the same filter as the console list its
# entry links to (analytics.admin.dashboard.TODO), so the number on the home page and in the
# sidebar is the number of rows the operator finds there.

TODO_QUERIES: dict[str, Callable[[], QuerySet]] = {
    "to_ship": lambda: Order.objects.filter(status=OrderStatus.PAID),
    "after_sales_to_review": lambda: AfterSale.objects.filter(status=AfterSaleStatus.REQUESTED),
    "refunds_failed": lambda: Refund.objects.filter(status=RefundStatus.FAILED),
    "refunds_second_approval": lambda: AfterSale.objects.filter(status=AfterSaleStatus.AWAITING_SECOND_APPROVAL),
    "reviews_to_moderate": lambda: Review.objects.filter(
        Q(status=ReviewStatus.PENDING) | Q(followup_status=ReviewStatus.PENDING)),
    "shipping_upload_failed": lambda: Order.objects.filter(shipping_upload__state=ShippingUploadState.FAILED),
    "low_stock": lambda: Sku.objects.filter(sku_low_stock_q()),
    "points_adjustments_pending": lambda: PointsAdjustment.objects.filter(status=AdjustmentStatus.PENDING),
    "distributors_to_review": lambda: Distributor.objects.filter(status=DistributorStatus.APPLYING),
    "withdrawals_to_review": lambda: Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED),
}


def todo_counts(*, keys: Collection[str]) -> dict[str, int]:
    """How many rows wait in each of `keys` (names in TODO_QUERIES), in one query.

    The sidebar shows these on every console page, so they cost one round trip however many
    there are: a SELECT of one COUNT subquery per key, each the key's own queryset (its SQL and
    parameters as Django compiles them). Each filter is on an indexed status or a small table.
    """
    keys = list(keys)
    if not keys:
        return {}
    columns: list[str] = []
    params: list[Any] = []
    for key in keys:
        sql, key_params = TODO_QUERIES[key]().order_by().values("pk").query.sql_with_params()
        columns.append(f"(SELECT COUNT(*) FROM ({sql}) AS todo)")
        params.extend(key_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    return dict(zip(keys, row, strict=True))


# ---------------------------------------------------------------------------------------------
# The trend


@dataclass(frozen=True)
class DayFigures:
    """One Shanghai calendar day: orders paid that day, what they paid, and refunds that reached buyers."""

    day: dt.date
    paid_orders: int
    paid_fen: int
    refunded_fen: int

    @property
    def net_fen(self) -> int:
        """Net sales: paid that day less refunded that day (a refund counts on the day it reached the buyer)."""
        return self.paid_fen - self.refunded_fen


def daily_figures(*, days: int, now: dt.datetime | None = None) -> list[DayFigures]:
    """The last `days` Shanghai days, today included, oldest first; days with nothing are zeros.

    Two grouped queries (orders by paid day, refunds by the day they succeeded).
    """
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=days - 1)
    since = _day_start(now) - dt.timedelta(days=days - 1)
    shanghai = timezone.get_current_timezone()
    paid = {
        row["day"]: row
        for row in Order.objects.filter(paid_at__gte=since)
        .annotate(day=TruncDate("paid_at", tzinfo=shanghai)).values("day")
        .annotate(n=Count("id"), fen=Sum("paid_fen"))
    }
    refunded = {
        row["day"]: row["fen"]
        for row in Refund.objects.filter(status=RefundStatus.SUCCEEDED, succeeded_at__gte=since)
        .annotate(day=TruncDate("succeeded_at", tzinfo=shanghai)).values("day")
        .annotate(fen=Sum("amount_fen"))
    }
    figures = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        row = paid.get(day, {})
        figures.append(DayFigures(day=day, paid_orders=row.get("n", 0), paid_fen=row.get("fen") or 0,
                                  refunded_fen=refunded.get(day) or 0))
    return figures


def _day_start(now: dt.datetime) -> dt.datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
