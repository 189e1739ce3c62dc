"""Product conversion: per product, views and viewers, add-to-carts, orders and payers, and the
products many people look at but few buy.

Views, viewers and add-to-carts come from the events (product_view / add_to_cart with
product_id; viewers are people, analytics.people). Orders and payers come from the shop's order
lines (the product id copied onto the line), placed / paid on the range's days. Conversion is
payers over viewers. A product is flagged 高浏览低转化 when it has at least MIN_VIEWERS viewers
and converts at less than half the rate of all viewed products together.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connections
from django.db.models import Count

from analytics.people import EVENTS_WITH_PEOPLE, PERSON
from analytics.routers import analytics_db, reports_db
from analytics.selectors.funnels import day_range
from catalog.models import Product
from shop.models import OrderLine

MIN_VIEWERS = 30
LOW_SHARE = 0.5


@dataclass(frozen=True)
class ProductFigures:
    product_id: int
    name: str
    views: int
    viewers: int
    carts: int
    orders: int
    payers: int
    low_conversion: bool = False

    @property
    def conversion(self) -> float:
        return round(self.payers / self.viewers, 4) if self.viewers else 0.0


def product_conversion(*, first: dt.date, last: dt.date, min_viewers: int = MIN_VIEWERS) -> list[ProductFigures]:
    """Every product viewed, carted or ordered on `first`..`last`, most viewers first."""
    start, end = day_range(first, last)
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(
            f"SELECT (e.properties ->> 'product_id')::bigint, "
            f"       count(*) FILTER (WHERE e.name = 'product_view'), "
            f"       count(DISTINCT {PERSON}) FILTER (WHERE e.name = 'product_view'), "
            f"       count(*) FILTER (WHERE e.name = 'add_to_cart') "
            f"FROM {EVENTS_WITH_PEOPLE} "
            "WHERE e.name IN ('product_view', 'add_to_cart') AND e.occurred_at >= %s AND e.occurred_at < %s "
            "  AND jsonb_typeof(e.properties -> 'product_id') = 'number' GROUP BY 1", [start, end])
        events = {row[0]: row[1:] for row in cursor.fetchall()}
    lines = OrderLine.objects.using(reports_db()).filter(order__created_at__gte=start, order__created_at__lt=end)
    orders = dict(lines.values_list("product_id_snapshot").annotate(n=Count("order_id", distinct=True)))
    paid = OrderLine.objects.using(reports_db()).filter(order__paid_at__gte=start, order__paid_at__lt=end)
    payers = dict(paid.values_list("product_id_snapshot").annotate(n=Count("order__member_id", distinct=True)))
    ids = set(events) | set(orders) | set(payers)
    names = dict(Product.objects.using(reports_db()).filter(pk__in=ids).values_list("pk", "name"))
    counts: dict[int, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    counts.update(events)
    viewers_all = sum(counts[pid][1] for pid in ids)
    payers_all = sum(payers.get(pid, 0) for pid in ids if counts[pid][1])
    overall = payers_all / viewers_all if viewers_all else 0.0
    found = []
    for pid in ids:
        views, viewers, carts = counts[pid]
        bought = payers.get(pid, 0)
        low = viewers >= min_viewers and bought / viewers < LOW_SHARE * overall
        found.append(ProductFigures(product_id=pid, name=names.get(pid, f"商品 {pid}"), views=views, viewers=viewers,
                                    carts=carts, orders=orders.get(pid, 0), payers=bought, low_conversion=low))
    return sorted(found, key=lambda p: (-p.viewers, -p.orders, p.product_id))
