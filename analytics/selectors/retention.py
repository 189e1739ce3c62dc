"""Retention: cohorts of people by their first visit or first purchase, and how many of each come
back (visit, or buy) in each day / week / month after.

A cohort is the people whose first mini-program event (or first paid order) ever falls in a
period of the range; period 0 is that period itself (everyone in it, for visit-by-visit
retention). Period k counts the cohort's people active in the k-th period after. Periods not yet
over are shown as they stand; periods in the future are left out (the triangle). People are
resolved as everywhere (analytics.people): a device linked to a member, even after its days were
rolled up, counts as that member with its earlier anonymous activity.

One statement over ActiveDay for the days rolled up and the same rows from the events for the
rest (analytics.activity): people resolved once to (member id, '') or (0, device), one row per
person with the periods they were back in as bits, "seen before the range" as index probes per
person on ActiveDay (and on the events up to the last day before the range not rolled up, if
any), acquisition channels from the rows' first entry events. Its cost follows the rows and the
people of the range, not the history (docs/analytics.md, "Retention").
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from analytics import partitions
from analytics.activity import COLUMNS as ACTIVE_DAY_COLUMNS
from analytics.activity import active_days_sql
from analytics.channels import UNKNOWN, channel_label
from analytics.people import pair_unseen_before_sql
from analytics.selectors.funnels import day_range, events_on_days_sql, report_cursor

UNITS = {"day": "日", "week": "周", "month": "月"}
COHORTS = {"visit": "首次访问", "purchase": "首次购买"}
RETURNS = {"visit": "再次访问", "purchase": "再次购买"}
# What counts as a visit and as a purchase (ActiveDay's `visited` and `purchased`).
VISIT_SQL = "e.source = 'client'"
PURCHASE_SQL = "e.name = 'order_paid'"


@dataclass(frozen=True)
class Cohort:
    start: dt.date
    size: int
    returned: list[int]  # people back in period 0, 1, 2, … (only periods begun by today)

    def rates(self) -> list[float]:
        return [round(n / self.size, 4) if self.size else 0.0 for n in self.returned]


def period_start(day: dt.date, unit: str) -> dt.date:
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def period_last(day: dt.date, unit: str) -> dt.date:
    """The last day of the period `day` is in."""
    start = period_start(day, unit)
    if unit == "week":
        return start + dt.timedelta(days=6)
    if unit == "month":
        return (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return start


def periods_between(first: dt.date, later: dt.date, unit: str) -> int:
    if unit == "week":
        return (later - first).days // 7
    if unit == "month":
        return (later.year - first.year) * 12 + later.month - first.month
    return (later - first).days


def period_add(day: dt.date, unit: str, n: int) -> dt.date:
    """The start of the period `n` periods after the one `day` is in."""
    start = period_start(day, unit)
    if unit == "week":
        return start + dt.timedelta(weeks=n)
    if unit == "month":
        return partitions.month_add(start, n)
    return start + dt.timedelta(days=n)


def retention(*, first: dt.date, last: dt.date, unit: str = "day", cohort_by: str = "visit",
              returns_on: str = "visit", periods: int = 7, today: dt.date | None = None,
              channel: str | None = None) -> list[Cohort]:
    """Cohorts whose first event falls in the periods (`unit`) of `first`..`last` (whole periods),
    each with the people back in its next `periods` periods; with `channel`, only the people
    acquired through it (see retention_by_channel). One statement."""
    found = _retention(first=first, last=last, unit=unit, cohort_by=cohort_by, returns_on=returns_on,
                       periods=periods, today=today, channel=channel, by_channel=channel is not None)
    return found[0][2] if found else []


def retention_by_channel(*, first: dt.date, last: dt.date, unit: str = "day", cohort_by: str = "visit",
                         returns_on: str = "visit", periods: int = 7,
                         today: dt.date | None = None) -> list[tuple[str, str, list[Cohort]]]:
    """retention() per acquisition channel: (channel, its label, cohorts), most people first.

    A person's acquisition channel is the one named by their first entry event (launch, show or
    page view; analytics.channels.channel_of), UNKNOWN when it names none, as in member profiles.
    """
    return _retention(first=first, last=last, unit=unit, cohort_by=cohort_by, returns_on=returns_on,
                      periods=periods, today=today, channel=None, by_channel=True)


def _retention(*, first: dt.date, last: dt.date, unit: str, cohort_by: str, returns_on: str, periods: int,
               today: dt.date | None, channel: str | None, by_channel: bool) -> list[tuple[str, str, list[Cohort]]]:
    if unit not in UNITS:
        raise ValueError(f"unknown period {unit!r}")
    today = today or timezone.localdate()
    start, end = day_range(period_start(first, unit), period_last(last, unit))
    horizon_day = period_add(last, unit, periods + 1)
    first_flag = "e.visited" if cohort_by == "visit" else "e.purchased"
    return_flag = "e.visited" if returns_on == "visit" else "e.purchased"
    chunks = periods_between(start.date(), horizon_day, unit) // 63 + 1
    with report_cursor() as cursor:
        covered = _rolled_up(cursor, start.date(), horizon_day)
        history_gap = _last_day_not_rolled_up(cursor, before=start.date())
        params: dict[str, Any] = {
            "start_day": start.date(), "end_day": end.date(), "covered": covered, "channel": channel,
            "events_before": day_range(history_gap, history_gap)[1] if history_gap else None}
        from_events, ranges = events_on_days_sql(start.date(), horizon_day - dt.timedelta(days=1), skip=covered)
        params.update(ranges)
        sql = _statement(unit=unit, cohort_by=cohort_by, first_flag=first_flag, return_flag=return_flag,
                         periods=periods, chunks=chunks, by_channel=by_channel, from_events=from_events,
                         history_from_events=history_gap is not None)
        # The planner guesses the people of a range from ActiveDay's statistics far too few (it cannot
        # see how many rows share a person), then sorts the range's rows to merge-join them; hashing
        # is right at every size here.
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    sizes: dict[str, dict[dt.date, int]] = defaultdict(dict)
    back: dict[tuple[str, dt.date], list[int]] = {}
    for found, cohort, size, returned in rows:
        sizes[found][cohort] = size
        back[found, cohort] = returned
    found_channels = []
    for found, cohort_sizes in sizes.items():
        cohorts = []
        for cohort in sorted(cohort_sizes):
            begun = min(periods, periods_between(cohort, period_start(today, unit), unit))
            cohorts.append(Cohort(start=cohort, size=cohort_sizes[cohort],
                                  returned=back[found, cohort][:max(begun + 1, 0)]))
        found_channels.append((found, channel_label(found) if by_channel else "", cohorts))
    return sorted(found_channels, key=lambda item: (-sum(c.size for c in item[2]), item[0]))


def _statement(*, unit: str, cohort_by: str, first_flag: str, return_flag: str, periods: int, chunks: int,
               by_channel: bool, from_events: str, history_from_events: bool) -> str:
    """The one statement: a row (channel, cohort, size, [people back in period 0, 1, …, periods]) a cohort.

    People are keyed (member, device): (member id, '') for a member, (0, anonymous id) for a device
    linked to nobody; resolved once per ActiveDay row, then grouped as two plain columns.
    """
    visit = cohort_by == "visit"
    # Seen before the range: ActiveDay of the rolled-up days, and the events up to the last day
    # before the range that is not rolled up (when there is one).
    unseen_before = pair_unseen_before_sql("x.visited" if visit else "x.purchased", table="analytics_activeday",
                                           when="day", before="%(start_day)s")
    if history_from_events:
        unseen_before += " AND " + pair_unseen_before_sql(
            VISIT_SQL.replace("e.", "x.") if visit else PURCHASE_SQL.replace("e.", "x."),
            table="analytics_event", when="occurred_at", before="%(events_before)s")
    # A person's acquisition channel: their first entry event's (the ActiveDay row with the earliest
    # first entry). A visit cohort's people have no event before the range, so their entries in it
    # are all there is; a purchase cohort's may have come long before: their rows before the range
    # are found by person (and from the events for days before it not rolled up).
    if not by_channel:
        acquired = "SELECT 0::bigint AS member, ''::text AS device, ''::text AS channel WHERE false"
    else:
        # In the range, only the rows at the person's earliest first entry (people.entry_at) can hold it.
        entries = """SELECT c.member, c.device, r.entry_at, r.entry_id, r.channel
            FROM cohorts c JOIN resolved r
              ON r.member = c.member AND r.device = c.device AND r.entry_at = c.entry_at"""
        if not visit:
            entries += """
            UNION ALL
            SELECT c.member, c.device, x.entry_at, x.entry_id, x.channel
            FROM cohorts c JOIN analytics_activeday x ON x.member_id = c.member
            WHERE c.member <> 0 AND x.day < %(start_day)s AND x.entry_at IS NOT NULL
            UNION ALL
            SELECT c.member, c.device, x.entry_at, x.entry_id, x.channel
            FROM cohorts c JOIN analytics_devicemember link ON link.member_id = c.member
            JOIN analytics_activeday x ON x.anonymous_id = link.anonymous_id AND x.member_id IS NULL
            WHERE c.member <> 0 AND x.day < %(start_day)s AND x.entry_at IS NOT NULL
            UNION ALL
            SELECT c.member, c.device, x.entry_at, x.entry_id, x.channel
            FROM cohorts c JOIN analytics_activeday x ON x.anonymous_id = c.device AND x.member_id IS NULL
            WHERE c.member = 0 AND x.day < %(start_day)s AND x.entry_at IS NOT NULL"""
            if history_from_events:
                entries += f"""
            UNION ALL
            SELECT r.member, r.device, r.entry_at, r.entry_id, r.channel
            FROM ({_resolved(active_days_sql("e.occurred_at < %(events_before)s"))}) AS r
            JOIN cohorts c USING (member, device)
            WHERE r.entry_at IS NOT NULL"""
        acquired = f"""SELECT DISTINCT ON (member, device) member, device, channel
        FROM ({entries}) AS entries
        ORDER BY member, device, entry_at, entry_id"""
    # The range's rows: ActiveDay's for the days rolled up, the same rows from the events for the rest.
    activity = (f"SELECT a.{', a.'.join(ACTIVE_DAY_COLUMNS)} FROM analytics_activeday a WHERE a.day = ANY(%(covered)s)"
                f" UNION ALL {active_days_sql(from_events, entries=by_channel)}")
    # Periods are numbered from the range's first (0); a person's periods back are bits of bigints,
    # 63 periods to a bigint (bit n of mask n // 63).
    index = {"day": "({d} - %(start_day)s)", "week": "({d} - %(start_day)s) / 7",
             "month": "((extract(year FROM {d}) - extract(year FROM %(start_day)s)) * 12 "
                      "+ extract(month FROM {d}) - extract(month FROM %(start_day)s))::int"}[unit]
    day_index = index.format(d="e.day")
    masks = ", ".join(f"bit_or(CASE WHEN {return_flag} AND {day_index} / 63 = {n} "
                      f"THEN 1::bigint << mod({day_index}, 63) END) AS m{n}" for n in range(chunks))
    masks_of = " ".join(f"WHEN {n} THEN c.m{n}" for n in range(chunks))
    counts = ", ".join(f"count(*) FILTER (WHERE (CASE (c.at + {k}) / 63 {masks_of} END >> mod(c.at + {k}, 63)) & 1 = 1)"
                       for k in range(periods + 1))
    mask_columns = "".join(f", c.m{n}" for n in range(chunks))
    # A visit cohort's channel comes from its range's entry events (the periods after are not asked).
    entry_at = ("NULL::timestamptz" if not by_channel else
                "min(e.entry_at) FILTER (WHERE e.day < %(end_day)s)" if visit else "min(e.entry_at)")
    return f"""
WITH resolved AS (
    {_resolved(activity)}
), people AS (
    -- one row per person: their first cohort-making day, and the periods they came back in
    SELECT e.member, e.device, min(e.day) FILTER (WHERE {first_flag}) AS first_day, {masks},
           {entry_at} AS entry_at
    FROM resolved e
    WHERE e.day >= %(start_day)s
    GROUP BY 1, 2
    HAVING min(e.day) FILTER (WHERE {first_flag}) < %(end_day)s
), cohorts AS (
    SELECT c.member, c.device, date_trunc('{unit}', c.first_day)::date AS cohort,
           {index.format(d="c.first_day")} AS at{mask_columns}, c.entry_at
    FROM people c WHERE {unseen_before}
), acquired AS (
    {acquired}
), placed AS (
    SELECT c.*, {"COALESCE(a.channel, '" + UNKNOWN + "')" if by_channel else "''"} AS channel
    FROM cohorts c LEFT JOIN acquired a USING (member, device)
    WHERE %(channel)s::text IS NULL OR COALESCE(a.channel, '{UNKNOWN}') = %(channel)s
)
SELECT c.channel, c.cohort, count(*), ARRAY[{counts}]
FROM placed c
GROUP BY 1, 2"""


def _resolved(rows: str) -> str:
    """ActiveDay-shaped `rows` with their person (member, device) resolved through DeviceMember."""
    return f"""SELECT COALESCE(a.member_id, dm.member_id, 0) AS member,
           CASE WHEN a.member_id IS NULL AND dm.member_id IS NULL THEN a.anonymous_id ELSE '' END AS device,
           a.day, a.visited, a.purchased, a.entry_at, a.entry_id, a.channel
    FROM ({rows}) AS a
    LEFT JOIN analytics_devicemember dm
      ON a.member_id IS NULL AND a.anonymous_id <> '' AND dm.anonymous_id = a.anonymous_id"""


def cohorts_merged(groups: Sequence[Sequence[Cohort]]) -> list[Cohort]:
    """Cohorts of several groups (retention_by_channel's) added up, start by start: retention()
    of everyone, without asking again."""
    sizes: dict[dt.date, int] = defaultdict(int)
    back: dict[dt.date, list[int]] = {}
    for cohorts in groups:
        for cohort in cohorts:
            sizes[cohort.start] += cohort.size
            totals = back.setdefault(cohort.start, [0] * len(cohort.returned))
            for k, n in enumerate(cohort.returned):
                totals[k] += n
    return [Cohort(start=start, size=sizes[start], returned=back[start]) for start in sorted(sizes)]


def average_rates(cohorts: Sequence[Cohort], periods: int) -> list[float | None]:
    """For k = 1..periods, the people back in period k over the people of the cohorts whose
    period k has begun (None when none has)."""
    averages: list[float | None] = []
    for k in range(1, periods + 1):
        sized = [(c.size, c.returned[k]) for c in cohorts if len(c.returned) > k]
        total = sum(size for size, _ in sized)
        averages.append(round(sum(n for _, n in sized) / total, 4) if total else None)
    return averages


def _rolled_up(cursor: Any, first: dt.date, before: dt.date) -> list[dt.date]:
    """The days in [first, before) that have ActiveDay rows (rolled up; a day without activity
    has none and is read from its no events)."""
    cursor.execute("SELECT d::date FROM generate_series(%s::date, %s::date - 1, interval '1 day') AS d "
                   "WHERE EXISTS (SELECT 1 FROM analytics_activeday a WHERE a.day = d::date)", [first, before])
    return [row[0] for row in cursor.fetchall()]


def _last_day_not_rolled_up(cursor: Any, *, before: dt.date) -> dt.date | None:
    """The last day before `before`, from the first day with events, without ActiveDay rows (never
    rolled up, or without activity): whether, and up to when, "seen before" must ask the events."""
    cursor.execute("SELECT max(d)::date FROM generate_series("
                   "  (SELECT (min(occurred_at) AT TIME ZONE 'Asia/Shanghai')::date FROM analytics_event),"
                   "  %s::date - 1, interval '1 day') AS d "
                   "WHERE NOT EXISTS (SELECT 1 FROM analytics_activeday a WHERE a.day = d::date)", [before])
    return cursor.fetchone()[0]
