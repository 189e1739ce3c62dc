"""Page paths against answers worked out by hand: from the events, from the daily rollups, and from
both (rolled-up days plus days read from their events add up to the events alone)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from analytics.models import Event, PageDay, PageLinkDay
from analytics.selectors.paths import EXIT, MAX_DEPTH, paths
from analytics.services.rollups import kpi_rollup, page_paths_rollup
from tests.analytics.histories import DAY
from tests.analytics.support import at, stored

INDEX, PRODUCT, CART = "pages/index/index", "pages/product/detail", "pages/cart/cart"


def views(day: dt.date, history: dict[str, list[tuple[str, str]]]) -> None:
    for device, seen in history.items():
        for time, path in seen:
            stored("page_view", at(day.isoformat(), time), device=device, path=path)


def rolled_up(first: dt.date, last: dt.date) -> None:
    """Roll the days up and delete their events: whatever paths() says of them now comes from the rollup."""
    page_paths_rollup(first=first, last=last)
    Event.objects.filter(occurred_at__gte=at(first.isoformat(), "00:00"),
                         occurred_at__lt=at((last + dt.timedelta(days=1)).isoformat(), "00:00")).delete()


@pytest.mark.parametrize("read_from", ["events", "rollup"])
def test_entry_and_exit_pages_and_where_people_go_after_a_page(db, read_from):
    views(DAY, {"dev-a": [("10:00", INDEX), ("10:01", PRODUCT), ("10:02", CART), ("11:00", INDEX)],
                "dev-b": [("10:00", INDEX), ("10:01", PRODUCT), ("10:02", INDEX)],
                "dev-c": [("10:00", PRODUCT)]})
    if read_from == "rollup":
        rolled_up(DAY, DAY)

    found = paths(first=DAY, last=DAY, after=PRODUCT)

    assert found.visits == 4  # dev-a's 11:00 view is a visit of its own
    assert [(p.path, p.views, p.entries, p.exits, p.exit_rate) for p in found.pages] == [
        (INDEX, 4, 3, 2, 0.5), (PRODUCT, 3, 1, 1, 0.3333), (CART, 1, 0, 1, 1.0)]
    assert found.links == [
        (f"0. {PRODUCT}", f"1. {CART}", 1), (f"0. {PRODUCT}", f"1. {INDEX}", 1), (f"0. {PRODUCT}", EXIT, 1),
        (f"1. {CART}", EXIT, 1), (f"1. {INDEX}", EXIT, 1)]
    assert paths(first=DAY, last=DAY) == paths(first=DAY, last=DAY, after=INDEX)  # the most viewed page


def test_a_visit_crossing_midnight_is_two_visits(db):
    views(DAY, {"dev-a": [("23:50", INDEX)]})
    views(DAY + dt.timedelta(days=1), {"dev-a": [("00:05", PRODUCT)]})

    found = paths(first=DAY, last=DAY + dt.timedelta(days=1), after=INDEX)

    assert found.visits == 2
    assert [(p.path, p.views, p.entries, p.exits) for p in found.pages] == [(INDEX, 1, 1, 1), (PRODUCT, 1, 1, 1)]
    assert found.links == [(f"0. {INDEX}", EXIT, 1)]


@pytest.mark.parametrize("read_from", ["events", "rollup"])
def test_a_path_past_the_depth_ends_there_and_the_top_pages_keep_the_rest_as_other(db, read_from):
    """dev-a goes A B C D, dev-b A B, dev-c X A A C: after A, two visits go to B, one to A again."""
    a, b, c, d, x = (f"pages/{name}" for name in "abcdx")
    views(DAY, {"dev-a": [("10:00", a), ("10:01", b), ("10:02", c), ("10:03", d)],
                "dev-b": [("10:00", a), ("10:01", b)],
                "dev-c": [("10:00", x), ("10:01", a), ("10:02", a), ("10:03", c)]})
    if read_from == "rollup":
        rolled_up(DAY, DAY)

    assert paths(first=DAY, last=DAY, after=a, depth=2).links == [
        (f"0. {a}", f"1. {b}", 2), (f"0. {a}", f"1. {a}", 1), (f"1. {a}", f"2. {c}", 1),
        (f"1. {b}", f"2. {c}", 1), (f"1. {b}", EXIT, 1), (f"2. {c}", EXIT, 2)]  # dev-a's D folded into an exit
    assert paths(first=DAY, last=DAY, after=a, depth=1, top=1).links == [
        (f"0. {a}", f"1. {b}", 2), (f"0. {a}", "1. 其他", 1), (f"1. {a}", EXIT, 1), (f"1. {b}", EXIT, 2)]
    with pytest.raises(ValueError):
        paths(first=DAY, last=DAY, after=a, depth=MAX_DEPTH + 1)


def test_rolled_up_days_and_days_from_the_events_add_up_to_the_events_alone(db):
    """Three days of visits; the first two rolled up (one through the KPI rollup, as the job does),
    the third read from its events, as today is."""
    for n in range(3):
        views(DAY + dt.timedelta(days=n), {
            "dev-a": [("10:00", INDEX), ("10:01", PRODUCT), ("10:02", CART)][:n + 1],
            "dev-b": [("09:00", PRODUCT), ("09:01", INDEX), ("09:40", PRODUCT), ("09:41", PRODUCT)][n:],
        })
    last = DAY + dt.timedelta(days=2)
    asked: list[dict[str, Any]] = [{"after": PRODUCT}, {"after": INDEX, "depth": MAX_DEPTH}, {}]
    from_events = [paths(first=DAY, last=last, **kwargs) for kwargs in asked]

    kpi_rollup(day=DAY)
    page_paths_rollup(first=DAY + dt.timedelta(days=1), last=DAY + dt.timedelta(days=1))
    rows = [(PageDay.objects.count(), PageLinkDay.objects.count())]
    page_paths_rollup(first=DAY, last=DAY + dt.timedelta(days=1))  # again: nothing changes
    rows.append((PageDay.objects.count(), PageLinkDay.objects.count()))

    assert rows[0] == rows[1]
    assert [paths(first=DAY, last=last, **kwargs) for kwargs in asked] == from_events
    assert from_events[0].visits == 8  # a: one a day; b: two on DAY and on +1, one on +2
    assert [(p.path, p.views, p.entries, p.exits) for p in from_events[0].pages] == [
        (PRODUCT, 9, 4, 4), (INDEX, 5, 4, 3), (CART, 1, 0, 1)]
