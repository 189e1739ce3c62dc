"""Daily KPI rollups: one Shanghai day of events, orders and refunds into DailyKpi rows.

Definitions (We分析's, as far as events can say them; docs/analytics.md):
- a visit (打开次数) is a person's run of mini-program events with no gap over 30 minutes, cut
  at midnight; a bounce is a visit with at most one page view;
- visitors (访问人数) are distinct people (analytics.people) with an event from the mini-program;
  a new visitor's first event ever is on that day;
- stay time is the sum of page_leave durations; shares and sharers count share events;
- ordering members and orders by the day orders were placed; paying members, paid orders and the
  paid amount by the day they were paid; refunds by the day the money reached the buyer, so net
  sales (paid less refunded) net out the refunds of any day's orders;
- every figure of a person's day goes to one cell: the channel of their first visit that day and
  new or returning. Members who ordered or were refunded without visiting that day fall in
  (unknown, returning).

With them it writes the day's ActiveDay rows (who was active, with their first entry event and its
channel; for retention) and its PageDay and PageLinkDay rows (page paths: analytics.selectors.paths).

kpi_rollup replaces a day's rows whole, so re-running it changes nothing and a day re-run after
late events arrived picks them up; kpi_rollup_due finds the days that need it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.db import connections, transaction
from django.db.models import Min
from django.utils import timezone

from analytics.activity import COLUMNS as ACTIVE_DAY_COLUMNS
from analytics.activity import active_days_sql
from analytics.channels import ENTRY_EVENTS, UNKNOWN, channel_of
from analytics.models import ActiveDay, DailyKpi, PageDay, PageLinkDay, RollupRun
from analytics.people import EVENTS_WITH_PEOPLE, PERSON, member_person, seen_before_sql
from analytics.routers import analytics_db, reports_db
from analytics.selectors.funnels import REPORT_WORK_MEM
from analytics.selectors.paths import figures_sql
from analytics.sessions import VISIT_GAP, visits
from shop.models import Order, Refund, RefundStatus

KPI = "kpi"
# Client events older than this are refused at ingestion, so no day further back can change.
LATE_WINDOW = dt.timedelta(days=8)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())
    return start, start + dt.timedelta(days=1)


@dataclass
class Cell:
    visits: int = 0
    page_views: int = 0
    visitors: int = 0
    new_visitors: int = 0
    stay_seconds: float = 0
    bounces: int = 0
    shares: int = 0
    sharers: int = 0
    ordering: set[int] = field(default_factory=set)
    orders: int = 0
    paying: set[int] = field(default_factory=set)
    paid_orders: int = 0
    paid_fen: int = 0
    refunded_fen: int = 0
    paying_visitors: int = 0


_DAY_EVENTS = f"""
SELECT {PERSON} AS person, e.name, e.occurred_at,
       CASE WHEN e.name = ANY(%(entry)s) THEN e.properties END,
       CASE WHEN e.name = 'page_leave' AND jsonb_typeof(e.properties -> 'duration') = 'number'
            THEN (e.properties ->> 'duration')::float8 END
FROM {EVENTS_WITH_PEOPLE}
WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND e.source = 'client'
  AND {PERSON} IS NOT NULL
ORDER BY 1, e.occurred_at, e.id
"""

# People active that day who had a mini-program event before it (analytics.people.seen_before_sql).
_SEEN_BEFORE = f"""
SELECT c.person FROM (
    SELECT DISTINCT {PERSON} AS person
    FROM {EVENTS_WITH_PEOPLE}
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND e.source = 'client' AND {PERSON} IS NOT NULL
) AS c
WHERE {seen_before_sql("e.source = 'client'")}
"""


_ACTIVE_DAYS = (f"INSERT INTO analytics_activeday ({', '.join(ACTIVE_DAY_COLUMNS)})"
                + active_days_sql("e.occurred_at >= %(start)s AND e.occurred_at < %(end)s"))


def active_days_rollup(*, first: dt.date, last: dt.date) -> int:
    """Replace the ActiveDay rows of the days `first`..`last` from the events; returns the rows
    written. Idempotent; kpi_rollup calls it for its day in its transaction."""
    alias = analytics_db()
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        ActiveDay.objects.using(alias).filter(day__gte=first, day__lte=last).delete()
        cursor.execute(_ACTIVE_DAYS, {"start": start, "end": end})
        return cursor.rowcount


# The report's own statement (analytics.selectors.paths) over every page, its rows kept per day.
_PAGE_PATHS = figures_sql(events="e.occurred_at >= %(start)s AND e.occurred_at < %(end)s",
                          chosen="chosen AS (SELECT NULL::text AS page)") + """, written_pages AS (
    INSERT INTO analytics_pageday (day, path, views, entries, exits)
    SELECT day, path, views, entries, exits FROM pages
    RETURNING 1
), written_links AS (
    INSERT INTO analytics_pagelinkday (day, after, step, source, target, visits)
    SELECT day, after, step, source, target, visits FROM links
    RETURNING 1
)
SELECT (SELECT count(*) FROM written_pages), (SELECT count(*) FROM written_links)
"""


def page_paths_rollup(*, first: dt.date, last: dt.date) -> tuple[int, int]:
    """Replace the PageDay and PageLinkDay rows of the days `first`..`last` from the page views;
    returns the (page, link) rows written. One transaction on the analytics database, one
    statement; idempotent. kpi_rollup calls it for its day in its transaction."""
    alias = analytics_db()
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        PageDay.objects.using(alias).filter(day__gte=first, day__lte=last).delete()
        PageLinkDay.objects.using(alias).filter(day__gte=first, day__lte=last).delete()
        params: dict[str, Any] = {"start": start, "end": end, "gap": VISIT_GAP}
        cursor.execute(_PAGE_PATHS, params)
        pages, links = cursor.fetchone()
        return pages, links


def kpi_rollup(*, day: dt.date) -> int:
    """Recompute `day`'s DailyKpi rows from the events, orders and refunds; returns the rows written.

    Replaces the day's rows in one transaction on the analytics database (readers see the old
    rows or the new, never half), and records the run. Idempotent.
    """
    started = timezone.now()
    start, end = day_bounds(day)
    alias = analytics_db()
    params: dict[str, Any] = {"start": start, "end": end, "entry": list(ENTRY_EVENTS)}
    cells: dict[tuple[str, bool], Cell] = defaultdict(Cell)
    person_cell: dict[str, tuple[str, bool]] = {}
    with connections[alias].cursor() as cursor:
        cursor.execute(_SEEN_BEFORE, params)
        returning = {row[0] for row in cursor.fetchall()}
        cursor.execute(_DAY_EVENTS, params)
        for person, rows in groupby(cursor.fetchall(), key=lambda row: row[0]):
            key = _add_person_day(cells, list(rows), is_new=person not in returning)
            person_cell[person] = key
    _add_orders(cells, person_cell, start=start, end=end)
    with transaction.atomic(using=alias):
        DailyKpi.objects.filter(day=day).delete()
        DailyKpi.objects.bulk_create([_row(day, key, cell, computed_at=started) for key, cell in sorted(cells.items())])
        RollupRun.objects.update_or_create(kind=KPI, day=day, defaults={"ran_at": started})
        active_days_rollup(first=day, last=day)
        page_paths_rollup(first=day, last=day)
    return len(cells)


def _add_person_day(cells: dict[tuple[str, bool], Cell], rows: list[tuple[Any, ...]], *,
                    is_new: bool) -> tuple[str, bool]:
    # Django hands jsonb over as its text.
    channel = next((found for row in rows
                    if row[3] is not None and (found := channel_of(json.loads(row[3]))) is not None), UNKNOWN)
    cell = cells[channel, is_new]
    cell.visitors += 1
    cell.new_visitors += int(is_new)
    shared = False
    for _, name, _occurred_at, _entry, duration in rows:
        if name == "page_view":
            cell.page_views += 1
        elif name == "page_leave" and duration is not None:
            cell.stay_seconds += duration
        elif name == "share":
            cell.shares += 1
            shared = True
    visit_pages = [sum(1 for name in visit if name == "page_view")
                   for visit in visits((row[2], row[1]) for row in rows)]
    cell.visits += len(visit_pages)
    cell.bounces += sum(1 for pages in visit_pages if pages <= 1)
    cell.sharers += int(shared)
    return channel, is_new


def _add_orders(cells: dict[tuple[str, bool], Cell], person_cell: dict[str, tuple[str, bool]], *,
                start: dt.datetime, end: dt.datetime) -> None:
    db = reports_db()
    not_visiting = (UNKNOWN, False)

    def cell_of(member_id: int) -> Cell:
        return cells[person_cell.get(member_person(member_id), not_visiting)]

    for member_id in Order.objects.using(db).filter(created_at__gte=start, created_at__lt=end).values_list(
            "member_id", flat=True):
        cell = cell_of(member_id)
        cell.orders += 1
        cell.ordering.add(member_id)
    paying_visitors: set[int] = set()
    for member_id, paid_fen in Order.objects.using(db).filter(paid_at__gte=start, paid_at__lt=end).values_list(
            "member_id", "paid_fen"):
        cell = cell_of(member_id)
        cell.paid_orders += 1
        cell.paid_fen += paid_fen or 0
        cell.paying.add(member_id)
        if member_person(member_id) in person_cell and member_id not in paying_visitors:
            paying_visitors.add(member_id)
            cell.paying_visitors += 1
    for member_id, amount_fen in Refund.objects.using(db).filter(
            status=RefundStatus.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end).values_list(
            "order__member_id", "amount_fen"):
        cell_of(member_id).refunded_fen += amount_fen


def _row(day: dt.date, key: tuple[str, bool], cell: Cell, *, computed_at: dt.datetime) -> DailyKpi:
    channel, is_new = key
    return DailyKpi(day=day, channel=channel, is_new=is_new, visits=cell.visits, page_views=cell.page_views,
                    visitors=cell.visitors, new_visitors=cell.new_visitors, stay_seconds=round(cell.stay_seconds),
                    bounces=cell.bounces, shares=cell.shares, sharers=cell.sharers,
                    ordering_members=len(cell.ordering), orders=cell.orders, paying_members=len(cell.paying),
                    paid_orders=cell.paid_orders, paid_fen=cell.paid_fen, refunded_fen=cell.refunded_fen,
                    paying_visitors=cell.paying_visitors, computed_at=computed_at)


def kpi_rollup_range(*, first: dt.date, last: dt.date) -> list[dt.date]:
    """Roll up every day from `first` to `last` inclusive (gaps filled, done days redone identically)."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    for day in days:
        kpi_rollup(day=day)
    return days


def kpi_rollup_due(*, today: dt.date | None = None) -> list[dt.date]:
    """The days to roll up now: yesterday and today, any of the last LATE_WINDOW days never rolled
    up, and any day that received events after its last run (late events). Oldest first."""
    today = today or timezone.localdate()
    window_start = today - LATE_WINDOW
    runs = dict(RollupRun.objects.filter(kind=KPI, day__gte=window_start).values_list("day", "ran_at"))
    due = {today, today - dt.timedelta(days=1)}
    due |= {day for day in _days(window_start, today) if day not in runs}
    due |= {day for day, received in days_received_late(kind=KPI, first=window_start).items()
            if day in runs and received > runs[day]}
    return sorted(day for day in due if day <= today)


def days_received_late(*, kind: str, first: dt.date) -> dict[dt.date, dt.datetime]:
    """For the Shanghai days from `first` on, the last time an event of the day was received, counting
    only events received after the earliest run of `kind` among those days (none when it never ran):
    a day whose figure is later than its own run has late events to roll up."""
    since = RollupRun.objects.filter(kind=kind, day__gte=first).aggregate(at=Min("ran_at"))["at"]
    if since is None:
        return {}
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(
            "SELECT (occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS day, max(received_at) "
            "FROM analytics_event WHERE received_at > %s AND occurred_at >= %s GROUP BY 1",
            [since, day_bounds(first)[0]])
        return dict(cursor.fetchall())


def kpi_rollup_recent(*, today: dt.date | None = None) -> list[dt.date]:
    """Roll up the due days (kpi_rollup_due). The periodic job."""
    days = kpi_rollup_due(today=today)
    for day in days:
        kpi_rollup(day=day)
    return days


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    return (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
