"""The console home's numbers: today's orders."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, Sum
from django.utils import timezone

from shop.models import Order, OrderStatus


def dashboard_today(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The admin home's numbers for the current Shanghai day."""
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    paid_today = Order.objects.filter(paid_at__gte=start, paid_at__lt=start + dt.timedelta(days=1))
    totals = paid_today.aggregate(n=Count("id"), gmv=Sum("paid_fen"))
    counts = Order.objects.aggregate(
        to_ship=Count("id", filter=Q(status=OrderStatus.PAID)),
        unpaid=Count("id", filter=Q(status=OrderStatus.PENDING_PAYMENT)),
    )
    return {"paid_orders": totals["n"] or 0, "gmv_fen": totals["gmv"] or 0,
            "to_ship": counts["to_ship"], "unpaid": counts["unpaid"]}
