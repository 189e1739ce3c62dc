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
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone

from analytics.people import EVENTS_WITH_PEOPLE, PERSON
from analytics.routers import analytics_db
from analytics.selectors.funnels import day_range

UNITS = {"day": "日", "week": "周", "month": "月"}
COHORTS = {"visit": "首次访问", "purchase": "首次购买"}
RETURNS = {"visit": "再次访问", "purchase": "再次购买"}
# What counts as a visit and as a purchase.
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


def retention(*, first: dt.date, last: dt.date, unit: str = "day", cohort_by: str = "visit",
              returns_on: str = "visit", periods: int = 7, today: dt.date | None = None) -> list[Cohort]:
    """Cohorts whose first event falls in the periods (`unit`) of `first`..`last` (whole periods),
    each with the people back in its next `periods` periods. Two queries over the event table."""
    today = today or timezone.localdate()
    start, end = day_range(period_start(first, unit), period_last(last, unit))
    first_sql = VISIT_SQL if cohort_by == "visit" else PURCHASE_SQL
    return_sql = VISIT_SQL if returns_on == "visit" else PURCHASE_SQL
    local = "(e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date"
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(
            f"WITH firsts AS (SELECT {PERSON} AS person, min({local}) AS day FROM {EVENTS_WITH_PEOPLE} "
            f"                WHERE {first_sql} AND {PERSON} IS NOT NULL GROUP BY 1) "
            "SELECT person, day FROM firsts WHERE day >= %s AND day < %s",
            [start.date(), end.date()])
        cohort_of = {person: period_start(day, unit) for person, day in cursor.fetchall()}
        cursor.execute(
            f"SELECT DISTINCT {PERSON}, {local} FROM {EVENTS_WITH_PEOPLE} "
            f"WHERE {return_sql} AND e.occurred_at >= %s AND {PERSON} = ANY(%s)",
            [start, list(cohort_of)])
        active = cursor.fetchall()
    sizes: dict[dt.date, int] = defaultdict(int)
    for cohort in cohort_of.values():
        sizes[cohort] += 1
    back: dict[tuple[dt.date, int], set[str]] = defaultdict(set)
    for person, day in active:
        k = periods_between(cohort_of[person], period_start(day, unit), unit)
        if 0 <= k <= periods:
            back[cohort_of[person], k].add(person)
    cohorts = []
    for cohort in sorted(sizes):
        begun = min(periods, periods_between(cohort, period_start(today, unit), unit))
        cohorts.append(Cohort(start=cohort, size=sizes[cohort],
                              returned=[len(back[cohort, k]) for k in range(begun + 1)]))
    return cohorts
