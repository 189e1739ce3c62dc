"""Retention: cohorts of people by their first visit or first purchase, and how many of each come
back (visit, or buy) in each day / week / month after.

A cohort is the people whose first mini-program event (or first paid order) ever falls in a
period of the range; period 0 is that period itself (everyone in it, for visit-by-visit
retention). Period k counts the cohort's people active in the k-th period after. Periods not yet
over are shown as they stand; periods in the future are left out (the triangle). People are
resolved as everywhere (analytics.people).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from analytics import partitions
from analytics.channels import ENTRY_EVENTS, UNKNOWN, channel_label, channel_sql
from analytics.people import EVENTS_WITH_PEOPLE, PERSON, PERSON_KEY, seen_before_sql
from analytics.selectors.funnels import day_range, day_runs, report_cursor

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
    horizon, _ = day_range(horizon_day, horizon_day)
    first_flag = "e.visited" if cohort_by == "visit" else "e.purchased"
    return_flag = "e.visited" if returns_on == "visit" else "e.purchased"
    # A visit cohort's people have no event before the range: their first entry event is in it.
    entries_from, entries_to = ("%(start)s", "%(end)s") if cohort_by == "visit" else (
        "'-infinity'::timestamptz", "%(horizon)s")
    apart = {"day": "(a.period - c.cohort)", "week": "(a.period - c.cohort) / 7",
             "month": "((extract(year FROM a.period) - extract(year FROM c.cohort)) * 12 "
                      "+ extract(month FROM a.period) - extract(month FROM c.cohort))::int"}[unit]
    # The first entry event of each cohort person found on the (name, occurred_at) index alone, then
    # only those events' properties read for their channel.
    acquired = f"""SELECT f.person, {channel_sql("x.properties")} AS channel
    FROM (SELECT {PERSON_KEY} AS person,
                 min(ARRAY[(extract(epoch FROM e.occurred_at) * 1000000)::bigint, e.id]) AS first
          FROM {EVENTS_WITH_PEOPLE}
          WHERE e.name = ANY(%(entry)s) AND e.occurred_at >= {entries_from} AND e.occurred_at < {entries_to}
            AND {PERSON} IS NOT NULL AND {PERSON_KEY} IN (SELECT person FROM cohorts)
          GROUP BY 1) AS f
    JOIN analytics_event x
      ON x.id = f.first[2] AND x.occurred_at = timestamptz 'epoch' + f.first[1] * interval '1 microsecond'""" \
        if by_channel else "SELECT NULL::text AS person, NULL::text AS channel"
    seen_before = seen_before_sql(VISIT_SQL if cohort_by == "visit" else PURCHASE_SQL)
    sql = f"""
WITH activity AS (
    SELECT e.member_id, e.anonymous_id, e.day, e.visited, e.purchased
    FROM analytics_activeday e
    WHERE e.day = ANY(%(covered)s)
    UNION ALL
    SELECT e.member_id, e.anonymous_id, (e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date,
           e.source = 'client', e.name = 'order_paid'
    FROM analytics_event e
    WHERE ({{from_events}}) AND (e.source = 'client' OR e.name = 'order_paid')
), days AS (
    -- one row per person and period: their first cohort-making day in it, whether they came back in it
    SELECT {PERSON_KEY} AS person, date_trunc('{unit}', e.day)::date AS period,
           min(e.day) FILTER (WHERE {first_flag}) AS first_day, bool_or({return_flag}) AS returned
    FROM activity e LEFT JOIN analytics_devicemember dm ON dm.anonymous_id = e.anonymous_id AND e.anonymous_id <> ''
    WHERE {PERSON} IS NOT NULL AND e.day >= %(start_day)s
    GROUP BY 1, 2
), candidates AS (
    SELECT person, date_trunc('{unit}', min(first_day))::date AS cohort
    FROM days
    GROUP BY 1
    HAVING min(first_day) < %(end_day)s
), cohorts AS (
    SELECT c.person, c.cohort FROM candidates c WHERE NOT ({seen_before})
), acquired AS (
    {acquired}
), placed AS (
    SELECT c.person, c.cohort, {"COALESCE(a.channel, '" + UNKNOWN + "')" if by_channel else "''"} AS channel
    FROM cohorts c LEFT JOIN acquired a ON a.person = c.person
    WHERE %(channel)s::text IS NULL OR COALESCE(a.channel, '{UNKNOWN}') = %(channel)s
), active AS (
    SELECT person, period FROM days WHERE returned
)
SELECT channel, cohort, -1, count(*) FROM placed GROUP BY 1, 2
UNION ALL
SELECT c.channel, c.cohort, {apart}, count(*)
FROM placed c JOIN active a ON a.person = c.person
WHERE a.period >= c.cohort AND {apart} <= %(periods)s
GROUP BY 1, 2, 3"""
    with report_cursor() as cursor:
        covered = _rolled_up(cursor, start.date(), horizon_day)
        uncovered = day_runs(start.date(), horizon_day - dt.timedelta(days=1), skip=covered)
        params: dict[str, Any] = {
            "start": start, "end": end, "horizon": horizon, "start_day": start.date(), "end_day": end.date(),
            "covered": covered, "entry": list(ENTRY_EVENTS), "channel": channel, "periods": periods}
        for n, (since, until) in enumerate(uncovered):
            params[f"from_{n}"], params[f"to_{n}"] = day_range(since, until)
        from_events = " OR ".join(f"(e.occurred_at >= %(from_{n})s AND e.occurred_at < %(to_{n})s)"
                                  for n in range(len(uncovered))) or "false"
        cursor.execute(sql.replace("{from_events}", from_events), params)
        rows = cursor.fetchall()
    sizes: dict[str, dict[dt.date, int]] = defaultdict(dict)
    back: dict[tuple[str, dt.date, int], int] = {}
    for found, cohort, k, n in rows:
        if k < 0:
            sizes[found][cohort] = n
        else:
            back[found, cohort, k] = n
    found_channels = []
    for found, cohort_sizes in sizes.items():
        cohorts = []
        for cohort in sorted(cohort_sizes):
            begun = min(periods, periods_between(cohort, period_start(today, unit), unit))
            cohorts.append(Cohort(start=cohort, size=cohort_sizes[cohort],
                                  returned=[back.get((found, cohort, k), 0) for k in range(begun + 1)]))
        found_channels.append((found, channel_label(found) if by_channel else "", cohorts))
    return sorted(found_channels, key=lambda item: (-sum(c.size for c in item[2]), item[0]))


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
