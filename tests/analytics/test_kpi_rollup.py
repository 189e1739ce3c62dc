"""Daily KPI rollups against figures worked out by hand on a small constructed history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics.models import DailyKpi, RollupRun
from analytics.selectors.kpis import kpi_by_channel, kpi_daily, kpi_total
from analytics.services.rollups import kpi_rollup, kpi_rollup_due, kpi_rollup_range
from payments.models import Payment
from shop.models import Order, Refund, RefundStatus
from tests.analytics.support import at, linked, stored
from tests.builders import buyer, pay, placed_order
from tests.factories import SkuFactory, default_freight

DAY = dt.date(2026, 11, 10)
D = "2026-11-10"


def paid_order_at(member, sku, *, placed: dt.datetime, paid: dt.datetime | None) -> Order:
    order = placed_order(member=member, lines=[(sku, 1)])
    if paid is not None:
        order = pay(order)
    Order.objects.filter(pk=order.pk).update(created_at=placed, paid_at=paid)
    return Order.objects.get(pk=order.pk)


def refunded(order: Order, amount_fen: int, *, when: dt.datetime) -> Refund:
    return Refund.objects.create(order=order, payment=Payment.objects.get(out_trade_no=order.order_no),
                                 out_refund_no=f"R{order.order_no}", amount_fen=amount_fen,
                                 status=RefundStatus.SUCCEEDED, succeeded_at=when)


@pytest.fixture
def history(db):
    """Three people visit on DAY:

    - device A, new, by a mini-program code scanned (scene 1047): two visits (10:00-10:02 with two
      pages and 30 s on one; 11:00 one page, then a share), so one bounce;
    - member M on device B, seen (anonymously, on B) three days before, so returning; arrives by a
      friend's share (scene 1007), one page, places and pays a ¥100 order;
    - device C, new, through our channel code SHOP-A (query.scene), one page at 23:59, and again
      after midnight (the next day's).
    Member N does not visit; a ¥30 refund of an older order of theirs reaches them on DAY.
    """
    default_freight(first_fee_fen=0, extra_fee_fen=0)
    sku = SkuFactory.create(price_fen=10_000, stock=10)
    m, n = buyer(), buyer()
    stored("app_launch", at(D, "10:00"), device="dev-A", scene=1047)
    stored("page_view", at(D, "10:00"), device="dev-A", path="pages/index/index")
    stored("page_view", at(D, "10:01"), device="dev-A", path="pages/product/detail")
    stored("page_leave", at(D, "10:02"), device="dev-A", path="pages/product/detail", duration=30)
    stored("page_view", at(D, "11:00"), device="dev-A", path="pages/index/index")
    stored("share", at(D, "11:01"), device="dev-A", content_type="product")
    stored("page_view", at("2026-11-07"), device="dev-B", path="pages/index/index")
    linked("dev-B", m.pk)
    stored("app_show", at(D, "09:00"), device="dev-B", member=m.pk, scene=1007)
    stored("page_view", at(D, "09:00"), device="dev-B", member=m.pk, path="pages/index/index")
    stored("order_placed", at(D, "09:05"), member=m.pk)  # a server event: no visit of its own
    stored("app_launch", at(D, "23:59"), device="dev-C", scene=1047, query={"scene": "SHOP-A"})
    stored("page_view", at(D, "23:59"), device="dev-C", path="pages/index/index")
    stored("page_view", at("2026-11-11", "00:10"), device="dev-C", path="pages/index/index")
    paid_order_at(m, sku, placed=at(D, "09:05"), paid=at(D, "09:06"))
    older = paid_order_at(n, sku, placed=at("2026-11-01"), paid=at("2026-11-01"))
    refunded(older, 3000, when=at(D, "15:00"))
    return {"m": m, "n": n, "sku": sku}


def cells() -> list[tuple]:
    return list(DailyKpi.objects.filter(day=DAY).order_by("channel", "is_new").values_list(
        "channel", "is_new", "visitors", "new_visitors", "visits", "page_views", "bounces", "stay_seconds",
        "shares", "sharers", "orders", "ordering_members", "paid_orders", "paying_members", "paid_fen",
        "refunded_fen", "paying_visitors"))


def test_a_day_rolls_up_to_the_hand_computed_cells(history):
    kpi_rollup(day=DAY)

    assert cells() == [
        # channel, new, visitors, new, visits, pages, bounces, stay, shares, sharers,
        # orders, ordering, paid orders, paying, paid, refunded, paying visitors
        ("code:SHOP-A", True, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("scan", True, 1, 1, 2, 3, 1, 30, 1, 1, 0, 0, 0, 0, 0, 0, 0),
        ("share", False, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 10_000, 0, 1),
        ("unknown", False, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3000, 0),
    ]


def test_the_day_s_totals_and_ratios(history):
    kpi_rollup(day=DAY)

    total = kpi_total(first=DAY, last=DAY)

    assert (total.visitors, total.new_visitors, total.visits, total.page_views) == (3, 2, 4, 5)
    assert total.bounce_rate == Decimal("0.7500")
    assert total.seconds_per_visit == Decimal("7.5")  # 30 s over 4 visits
    assert total.seconds_per_visitor == Decimal("10.0")
    assert (total.paid_fen, total.refunded_fen, total.net_fen) == (10_000, 3000, 7000)
    assert total.average_order_fen == 10_000
    assert total.visitor_to_payer == Decimal("0.3333")
    assert kpi_total(first=DAY, last=DAY, is_new=True).visitors == 2
    assert kpi_total(first=DAY, last=DAY, channel="code").visitors == 1
    assert [(channel, kpis.visitors) for channel, _, kpis in kpi_by_channel(first=DAY, last=DAY)] == [
        ("code:SHOP-A", 1), ("scan", 1), ("share", 1), ("unknown", 0)]


def test_re_running_a_day_changes_nothing(history):
    kpi_rollup(day=DAY)
    first = cells()

    kpi_rollup(day=DAY)

    assert cells() == first
    assert DailyKpi.objects.filter(day=DAY).count() == 4


def test_a_late_event_makes_its_day_due_and_the_next_run_picks_it_up(history):
    kpi_rollup_range(first=DAY - dt.timedelta(days=8), last=DAY + dt.timedelta(days=1))
    assert kpi_rollup_due(today=DAY + dt.timedelta(days=1)) == [DAY, DAY + dt.timedelta(days=1)]  # as always

    late = stored("page_view", at(D, "18:00"), device="dev-D", path="pages/index/index")
    late.received_at = RollupRun.objects.get(day=DAY).ran_at + dt.timedelta(seconds=1)
    late.save()
    stale_day = DAY - dt.timedelta(days=2)
    assert stale_day not in kpi_rollup_due(today=DAY + dt.timedelta(days=2))
    assert DAY in kpi_rollup_due(today=DAY + dt.timedelta(days=2))

    kpi_rollup(day=DAY)

    assert kpi_total(first=DAY, last=DAY).visitors == 4


def test_a_range_fills_the_gaps(history):
    kpi_rollup(day=DAY)

    days = kpi_rollup_range(first=DAY - dt.timedelta(days=1), last=DAY + dt.timedelta(days=1))

    assert len(days) == 3
    assert set(RollupRun.objects.values_list("day", flat=True)) == set(days)
    daily = kpi_daily(first=DAY - dt.timedelta(days=1), last=DAY + dt.timedelta(days=1))
    assert [(day, kpis.visitors, kpis.page_views) for day, kpis in daily] == [
        (DAY - dt.timedelta(days=1), 0, 0), (DAY, 3, 5), (DAY + dt.timedelta(days=1), 1, 1)]
    # device C comes back after midnight: returning on the next day
    assert kpi_total(first=DAY + dt.timedelta(days=1), last=DAY + dt.timedelta(days=1), is_new=False).visitors == 1
