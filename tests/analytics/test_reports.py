"""Retention and product conversion against answers worked out by hand (page paths: test_paths.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from analytics.models import Event
from analytics.selectors.products import product_conversion
from analytics.selectors.retention import cohorts_merged, retention, retention_by_channel
from analytics.services.rollups import active_days_rollup
from shop.models import Order
from tests.analytics.histories import DAY
from tests.analytics.support import at, linked, stored
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


def test_retention_reads_rolled_up_days_and_the_events_of_the_others(visits):
    def figures():
        last, later = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=20)
        asked = [retention(first=DAY, last=last, unit="day", periods=3, today=DAY + dt.timedelta(days=3)),
                 retention(first=DAY, last=last, unit="week", periods=2, today=later),
                 retention(first=DAY, last=last, unit="week", periods=2, today=later, cohort_by="purchase",
                           returns_on="purchase")]
        return [[(c.start, c.size, c.returned) for c in cohorts] for cohorts in asked]

    from_events = figures()
    assert active_days_rollup(first=DAY, last=DAY + dt.timedelta(days=1)) == 7  # a, b, z, m1 on DAY; a, b, c on +1
    # the rolled-up days' events gone: the figures now come from the rollup for them
    Event.objects.filter(occurred_at__gte=at(day(0), "00:00"), occurred_at__lt=at(day(2), "00:00")).delete()

    assert figures() == from_events


def test_retention_by_acquisition_channel(db):
    """dev-a comes by a scan (scene 1047) on DAY and is back on +1; dev-b through channel code
    SHOP-A on DAY, never back; dev-c's first event names no channel (unknown), back on +1 and +2;
    dev-d arrives by a friend's share on +1, logs in as m1 later, and m1 is back on +2 (one person)."""
    stored("app_launch", at(day(0), "09:00"), device="dev-a", scene=1047)
    stored("page_view", at(day(0)), device="dev-a", path="pages/index/index")
    stored("page_view", at(day(1)), device="dev-a", path="pages/index/index")
    stored("app_launch", at(day(0), "09:00"), device="dev-b", scene=1047, query={"scene": "SHOP-A"})
    stored("app_launch", at(day(0), "09:30"), device="dev-c")
    stored("app_launch", at(day(0), "10:00"), device="dev-c", scene=1089)  # after the first entry event
    for n in (1, 2):
        stored("page_view", at(day(n)), device="dev-c", path="pages/index/index")
    m1 = buyer()
    stored("app_show", at(day(1), "09:00"), device="dev-d", scene=1007)
    linked("dev-d", m1.pk)
    stored("page_view", at(day(2)), device="dev-d", member=m1.pk, path="pages/index/index")
    today = DAY + dt.timedelta(days=3)

    found = retention_by_channel(first=DAY, last=DAY + dt.timedelta(days=1), unit="day", periods=2, today=today)

    assert [(channel, label, [(c.start, c.size, c.returned) for c in cohorts])
            for channel, label, cohorts in found] == [
        ("code:SHOP-A", "渠道码 SHOP-A", [(DAY, 1, [1, 0, 0])]),
        ("scan", "扫码", [(DAY, 1, [1, 1, 0])]),
        ("share", "好友分享", [(DAY + dt.timedelta(days=1), 1, [1, 1, 0])]),
        ("unknown", "未知", [(DAY, 1, [1, 1, 1])]),
    ]
    everyone = retention(first=DAY, last=DAY + dt.timedelta(days=1), unit="day", periods=2, today=today)
    assert [(c.start, c.size, c.returned) for c in everyone] == [
        (DAY, 3, [3, 2, 1]), (DAY + dt.timedelta(days=1), 1, [1, 1, 0])]
    assert cohorts_merged([cohorts for _, _, cohorts in found]) == everyone
    assert [(c.start, c.size, c.returned) for c in retention(
        first=DAY, last=DAY + dt.timedelta(days=1), unit="day", periods=2, today=today, channel="scan")] == [
        (DAY, 1, [1, 1, 0])]


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


def test_retention_reads_the_days_before_the_range_from_the_rollup(db):
    """Rolled up, then those days' events gone: dev-y visited on -5 (a rolled-up day) and is back
    on DAY, so not new; dev-x came by a scan on -3 anonymously and was linked to m1 only after the
    rollup ran, so m1 (visiting and paying on DAY) is not new either, and m1's first purchase was
    acquired by that scan; dev-w, by a friend's share on DAY, is the one new visitor."""
    stored("app_launch", at(day(-5)), device="dev-y", scene=1089)
    stored("page_view", at(day(0)), device="dev-y", path="pages/index/index")
    stored("app_launch", at(day(-3)), device="dev-x", scene=1047)
    m1 = buyer()
    stored("page_view", at(day(0)), device="dev-x", member=m1.pk, path="pages/index/index")
    stored("order_paid", at(day(0), "11:00"), member=m1.pk)
    stored("app_show", at(day(0), "09:00"), device="dev-w", scene=1007)
    stored("page_view", at(day(0)), device="dev-w", path="pages/index/index")
    assert active_days_rollup(first=DAY - dt.timedelta(days=5), last=DAY - dt.timedelta(days=1)) == 2
    Event.objects.filter(occurred_at__lt=at(day(0), "00:00")).delete()
    linked("dev-x", m1.pk)
    asked: dict[str, Any] = {"first": DAY, "last": DAY, "unit": "day", "periods": 1,
                             "today": DAY + dt.timedelta(days=1)}

    for history in ("rolled up", "and a day not rolled up, asked of the events too"):
        if history != "rolled up":
            stored("page_view", at(day(-9)), device="dev-q", path="pages/index/index")  # in no cohort

        assert [(c.start, c.size, c.returned) for c in retention(**asked)] == [(DAY, 1, [1, 0])]
        assert [(channel, [(c.start, c.size) for c in cohorts]) for channel, _, cohorts in retention_by_channel(
            **asked)] == [("share", [(DAY, 1)])]
        assert [(channel, [(c.start, c.size, c.returned) for c in cohorts]) for channel, _, cohorts
                in retention_by_channel(**asked, cohort_by="purchase", returns_on="purchase")] == [
            ("scan", [(DAY, 1, [1, 0])])]
