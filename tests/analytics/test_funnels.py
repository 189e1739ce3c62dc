"""Funnels against passages worked out by hand: order of steps, window edges, repeated steps, and a
shopper who browses anonymously, logs in and pays counted as one person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.funnels import passage, steps_parse, steps_text
from analytics.models import Event, Funnel, FunnelDay
from analytics.selectors.funnels import funnel_days_kept, funnel_dropoffs, funnel_report
from analytics.services.funnel_rollups import funnel_rollup, funnel_rollup_due
from core.errors import ValidationFailed
from members.models import Member, Tier
from tests.analytics.histories import DAY, NEXT, D, funnel_history
from tests.analytics.support import at, linked, stored
from tests.builders import buyer

STEPS = "product_view category=母婴\nadd_to_cart\norder_paid"


@pytest.fixture
def funnel(db):
    return Funnel.objects.create(name="母婴下单", steps=steps_parse(STEPS), window_hours=24)


@pytest.fixture
def history(db):
    return funnel_history()


def kept(funnel: Funnel, *days: dt.date) -> int:
    """Keep the funnel's passages of `days` as the rollup job would; the rows written."""
    written = funnel_rollup(funnel=funnel, days=days)
    assert funnel_days_kept(funnel, first=min(days), last=max(days)) == sorted(days)
    return written


@pytest.fixture(params=["events", "kept days"])
def source(request, funnel, history):
    """Each report test twice: worked out from the events, and read from the days the rollup kept."""
    if request.param == "kept days":
        kept(funnel, DAY - dt.timedelta(days=1), DAY)
    return request.param


def test_people_conversion_and_median_times_per_step(funnel, history, source):
    report = funnel_report(funnel=funnel, first=DAY, last=DAY)

    assert [(s.people, s.from_previous, s.from_first) for s in report.steps] == [
        (5, None, None), (4, Decimal("0.8000"), Decimal("0.8000")), (2, Decimal("0.5000"), Decimal("0.4000"))]
    # step 2 after 300 s (1), 5400 s (2, from its first view), 600 s (5), 600 s (6); step 3 after
    # 6900 s (1) and 85,800 s (5)
    assert [s.median_seconds for s in report.steps] == [None, 600, 46_350]
    assert [s.label for s in report.steps] == ["浏览商品（category=母婴）", "加入购物车", "支付订单"]


def test_breakdown_by_new_and_returning_visitors(funnel, history, source):
    report = funnel_report(funnel=funnel, first=DAY, last=DAY, breakdown="visitor")

    assert [(value, [s.people for s in steps]) for value, steps in report.breakdown] == [
        ("新访客", [4, 3, 1]), ("老访客", [1, 1, 1])]


def test_another_range_is_its_own_report(funnel, history, source):
    assert [s.people for s in funnel_report(funnel=funnel, first=DAY - dt.timedelta(days=1),
                                            last=DAY - dt.timedelta(days=1)).steps] == [1, 1, 0]


def test_the_drop_offs_of_a_step(funnel, history, source):
    assert funnel_dropoffs(funnel=funnel, first=DAY, last=DAY, step=2) == ([], 1)  # dev-3, anonymous
    assert funnel_dropoffs(funnel=funnel, first=DAY, last=DAY, step=3) == ([history["m6"].pk], 1)  # and dev-2


def test_a_passage_takes_the_entry_that_goes_furthest():
    t = [dt.datetime(2026, 1, 1, h, tzinfo=dt.UTC) for h in range(24)]
    window = dt.timedelta(hours=2)

    # entered at 0 and 5; step 2 only at 6 (too late for the first entry)
    found = passage([[t[0], t[5]], [t[6]]], window=window, start=t[0], end=t[23])
    # the same event time cannot be two steps
    same_time = passage([[t[1]], [t[1]]], window=window, start=t[0], end=t[23])

    assert found is not None and (found.reached, found.times) == (2, (t[5], t[6]))
    assert same_time is not None and same_time.reached == 1


def test_steps_are_parsed_from_one_line_each_and_written_back():
    steps = steps_parse("product_view category=母婴|玩具 price_fen>=1000\n\norder_paid")

    assert steps == [{"event": "product_view", "filters": [
        {"property": "category", "op": "=", "value": "母婴|玩具"},
        {"property": "price_fen", "op": ">=", "value": "1000"}]}, {"event": "order_paid", "filters": []}]
    assert steps_text(steps) == "product_view category=母婴|玩具 price_fen>=1000\norder_paid"
    for bad in ("only_one_step", "a b\nc", "a price_fen>=x\nb"):
        with pytest.raises(ValidationFailed):
            steps_parse(bad)


def test_filters_on_numbers_and_exclusions(db):
    stored("product_view", at(D, "10:00"), device="dev-a", product_id=1, price_fen=5000, category="母婴")
    stored("product_view", at(D, "10:00"), device="dev-b", product_id=2, price_fen=500, category="母婴")
    stored("product_view", at(D, "10:00"), device="dev-c", product_id=3, price_fen=9000, category="服饰")
    for device in ("dev-a", "dev-b", "dev-c"):
        stored("add_to_cart", at(D, "10:01"), device=device, product_id=1, sku_id=1)
    funnel = Funnel.objects.create(name="高价", window_hours=1,
                                   steps=steps_parse("product_view price_fen>=1000 category!=服饰\nadd_to_cart"))

    assert [s.people for s in funnel_report(funnel=funnel, first=DAY, last=DAY).steps] == [1, 1]


def test_breakdowns_by_entry_channel_and_platform(db):
    """dev-x comes by a friend's share and adds to cart (iOS); dev-y through channel code SHOP-A,
    its later scan launch comes after its entry (Android); dev-z names no channel (platform unknown)."""
    stored("app_launch", at(D, "09:00"), device="dev-x", scene=1007)
    stored("app_launch", at(D, "09:00"), device="dev-y", scene=1047, query={"scene": "SHOP-A"})
    stored("app_launch", at(D, "11:00"), device="dev-y", scene=1047)
    for device in ("dev-x", "dev-y", "dev-z"):
        stored("product_view", at(D, "10:00"), device=device, product_id=1)
    stored("add_to_cart", at(D, "10:05"), device="dev-x", product_id=1, sku_id=1)
    Event.objects.filter(anonymous_id="dev-x").update(platform="ios")
    Event.objects.filter(anonymous_id="dev-y").update(platform="android")
    funnel = Funnel.objects.create(name="看了就买", window_hours=1, steps=steps_parse("product_view\nadd_to_cart"))

    by_channel = funnel_report(funnel=funnel, first=DAY, last=DAY, breakdown="channel")
    by_platform = funnel_report(funnel=funnel, first=DAY, last=DAY, breakdown="platform")

    assert [s.people for s in by_channel.steps] == [3, 1]
    assert [(value, [s.people for s in steps]) for value, steps in by_channel.breakdown] == [
        ("好友分享", [1, 1]), ("未知", [1, 0]), ("渠道码 SHOP-A", [1, 0])]
    assert [(value, [s.people for s in steps], steps[1].median_seconds) for value, steps in by_platform.breakdown] == [
        ("Android", [1, 0], None), ("iOS", [1, 1], 300), ("未知", [1, 0], None)]


def test_breakdown_by_member_tier(funnel, history, source):
    gold = Tier.objects.create(name="测试金卡", level=91, min_growth=91_000_000)
    Member.objects.filter(pk__in=[history["m1"].pk, history["m6"].pk]).update(tier=None)
    Member.objects.filter(pk=history["m5"].pk).update(tier=gold)

    report = funnel_report(funnel=funnel, first=DAY, last=DAY, breakdown="tier")

    # m1 all three steps, m6 two; dev-2 two, dev-3 one (never logged in); m5 all three
    assert [(value, [s.people for s in steps]) for value, steps in report.breakdown] == [
        ("普通会员", [2, 2, 1]), ("未登录", [2, 1, 0]), ("测试金卡", [1, 1, 1])]


def test_a_range_of_kept_and_unkept_days_and_every_breakdown_match_the_events(funnel, history):
    days = (DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    live = {breakdown: funnel_report(funnel=funnel, first=days[0], last=days[1], breakdown=breakdown)
            for breakdown in (None, "channel", "platform", "visitor", "tier")}

    assert kept(funnel, DAY - dt.timedelta(days=1), DAY) == 1 + 5  # dev-7 the day before; five people on DAY

    for breakdown, report in live.items():
        assert funnel_report(funnel=funnel, first=days[0], last=days[1], breakdown=breakdown) == report
    m5 = FunnelDay.objects.get(funnel=funnel, day=DAY, person=f"m{history['m5'].pk}")
    assert (m5.reached, m5.times) == (3, [int(at(D, "08:00").timestamp()) * 10**6,
                                          int(at(D, "08:10").timestamp()) * 10**6,
                                          int(at(NEXT, "08:00").timestamp()) * 10**6])


def test_a_day_is_kept_once_its_window_has_closed_and_again_when_it_changes(funnel, history):
    today = timezone.localdate()
    recent = today - dt.timedelta(days=3)
    stored("product_view", at(recent.isoformat(), "10:00"), device="dev-r", product_id=1, category="母婴")
    stored("product_view", at(today.isoformat(), "00:00"), device="dev-t", product_id=1, category="母婴")

    assert funnel_rollup(funnel=funnel, days=[today]) == 0  # its window is open: nothing kept
    assert today not in funnel_days_kept(funnel, first=today, last=today)
    due = funnel_rollup_due(funnel=funnel)
    assert DAY in due and recent in due and today - dt.timedelta(days=1) not in due  # that one closes tomorrow
    funnel_rollup(funnel=funnel, days=due)
    assert funnel_rollup_due(funnel=funnel) == []

    # An event arriving late moves on the entries of its day and of the window's day before it.
    late = stored("add_to_cart", at(recent.isoformat(), "10:30"), device="dev-r", product_id=1, sku_id=1)
    Event.objects.filter(pk=late.pk).update(received_at=timezone.now())
    assert funnel_rollup_due(funnel=funnel) == [recent - dt.timedelta(days=1), recent]
    funnel_rollup(funnel=funnel, days=[recent - dt.timedelta(days=1), recent])
    assert [s.people for s in funnel_report(funnel=funnel, first=recent, last=recent).steps] == [1, 1, 0]

    # Changing the funnel makes every kept day stale: reports go back to the events until kept again.
    funnel.window_hours = 1
    funnel.save()
    assert funnel_days_kept(funnel, first=DAY, last=DAY) == []
    assert [s.people for s in funnel_report(funnel=funnel, first=DAY, last=DAY).steps] == [5, 4, 0]
    assert DAY in funnel_rollup_due(funnel=funnel)


def test_a_device_linked_after_its_day_was_kept_is_the_member(db):
    member = buyer()
    stored("product_view", at(D, "10:00"), device="dev-later", product_id=1)
    stored("product_view", at(D, "12:00"), member=member.pk, device="dev-phone", product_id=1)
    stored("add_to_cart", at(D, "12:01"), member=member.pk, device="dev-phone", product_id=1, sku_id=1)
    funnel = Funnel.objects.create(name="看了就加购", window_hours=1, steps=steps_parse("product_view\nadd_to_cart"))
    assert kept(funnel, DAY) == 2

    linked("dev-later", member.pk)

    assert [s.people for s in funnel_report(funnel=funnel, first=DAY, last=DAY).steps] == [1, 1]
