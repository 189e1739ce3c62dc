"""Daily KPI rollups against figures worked out by hand on a small constructed history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics.models import DailyKpi, RollupRun
from analytics.selectors.kpis import kpi_by_channel, kpi_daily, kpi_total
from analytics.services.rollups import kpi_rollup, kpi_rollup_due, kpi_rollup_range
from tests.analytics.histories import DAY, D, kpi_history
from tests.analytics.support import at, stored


@pytest.fixture
def history(db):
    return kpi_history()


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
