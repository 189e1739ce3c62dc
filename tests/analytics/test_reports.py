"""Retention, page paths and product conversion against answers worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.selectors.paths import EXIT, paths
from analytics.selectors.products import product_conversion
from analytics.selectors.retention import retention
from shop.models import Order
from tests.analytics.histories import DAY
from tests.analytics.support import at, stored
from tests.builders import buyer, pay, placed_order
from tests.factories import SkuFactory, default_freight


def day(n: int) -> str:
    return (DAY + dt.timedelta(days=n)).isoformat()


@pytest.fixture
def visits(db):
    """dev-a first visits on DAY and comes back on +1 and +3; dev-b on DAY and +1; dev-c first on +1,
    back on +2; dev-z first visited long before (in no cohort). m1 pays on DAY and eight days later."""
    for device, days in {"dev-a": [0, 1, 3], "dev-b": [0, 1], "dev-c": [1, 2], "dev-z": [-9, 0]}.items():
        for n in days:
            stored("page_view", at(day(n)), device=device, path="pages/index/index")
    m1 = buyer()
    stored("order_paid", at(day(0)), member=m1.pk)
    stored("order_paid", at(day(8)), member=m1.pk)


def test_daily_retention_is_a_triangle(visits):
    cohorts = retention(first=DAY, last=DAY + dt.timedelta(days=1), unit="day", periods=3,
                        today=DAY + dt.timedelta(days=3))

    assert [(c.start, c.size, c.returned) for c in cohorts] == [
        (DAY, 2, [2, 2, 0, 1]),
        (DAY + dt.timedelta(days=1), 1, [1, 1, 0]),  # its third day has not begun
    ]
    assert cohorts[0].rates() == [1.0, 1.0, 0.0, 0.5]


def test_weekly_retention_by_first_purchase(visits):
    monday = DAY - dt.timedelta(days=DAY.weekday())

    by_visit = retention(first=DAY, last=DAY, unit="week", periods=2, today=DAY + dt.timedelta(days=20))
    by_purchase = retention(first=DAY, last=DAY, unit="week", cohort_by="purchase", returns_on="purchase",
                            periods=2, today=DAY + dt.timedelta(days=20))

    assert [(c.start, c.size, c.returned) for c in by_visit] == [(monday, 3, [3, 0, 0])]
    assert [(c.start, c.size, c.returned) for c in by_purchase] == [(monday, 1, [1, 1, 0])]


def test_entry_and_exit_pages_and_where_people_go_after_a_page(db):
    index, product, cart = "pages/index/index", "pages/product/detail", "pages/cart/cart"
    for device, views in {"dev-a": [("10:00", index), ("10:01", product), ("10:02", cart), ("11:00", index)],
                          "dev-b": [("10:00", index), ("10:01", product), ("10:02", index)],
                          "dev-c": [("10:00", product)]}.items():
        for time, path in views:
            stored("page_view", at(DAY.isoformat(), time), device=device, path=path)

    found = paths(first=DAY, last=DAY, after=product)

    assert found.visits == 4  # dev-a's 11:00 view is a visit of its own
    assert [(p.path, p.views, p.entries, p.exits, p.exit_rate) for p in found.pages] == [
        (index, 4, 3, 2, 0.5), (product, 3, 1, 1, 0.3333), (cart, 1, 0, 1, 1.0)]
    assert found.links == [
        (f"0. {product}", f"1. {cart}", 1), (f"0. {product}", f"1. {index}", 1), (f"0. {product}", EXIT, 1),
        (f"1. {cart}", EXIT, 1), (f"1. {index}", EXIT, 1)]


def test_product_conversion_and_the_high_views_low_conversion_flag(db):
    default_freight()
    bought, ignored = SkuFactory.create(stock=5), SkuFactory.create(stock=5)
    for device, product in [("dev-a", bought), ("dev-a", bought), ("dev-b", bought),
                            ("dev-c", ignored), ("dev-d", ignored)]:
        stored("product_view", at(DAY.isoformat()), device=device, product_id=product.product_id)
    stored("add_to_cart", at(DAY.isoformat()), device="dev-a", product_id=bought.product_id, sku_id=bought.pk)
    order = pay(placed_order(lines=[(bought, 1)]))
    Order.objects.filter(pk=order.pk).update(created_at=at(DAY.isoformat()), paid_at=at(DAY.isoformat()))

    found = product_conversion(first=DAY, last=DAY, min_viewers=2)

    assert [(p.product_id, p.views, p.viewers, p.carts, p.orders, p.payers, p.conversion, p.low_conversion)
            for p in found] == [
        (bought.product_id, 3, 2, 1, 1, 1, 0.5, False),
        (ignored.product_id, 2, 2, 0, 0, 0, 0.0, True),  # half of all-products' 1/4 is 0.125: below it
    ]
