"""Funnel rollups: every saved funnel's passages of a day kept (FunnelDay) once the day's window
has closed, so a report over a month reads a row per person and day instead of the month's events.

A day's passages can change while the windows of its entries are open (a later step may still
come), so a day is kept once its end plus the funnel's window has passed; until then reports work
it out from the events (analytics.selectors.funnels). A kept day is kept again when events for it
or its window arrive late (as the KPI rollup does), and every day is kept again when the funnel's
steps or window change (runs older than Funnel.updated_at are stale).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connections, transaction
from django.utils import timezone

from analytics.models import Funnel, FunnelDay, RollupRun
from analytics.routers import analytics_db
from analytics.selectors.funnels import REPORT_WORK_MEM, day_range, funnel_rollup_kind, passages_sql
from analytics.services.rollups import LATE_WINDOW, days_received_late

# How far back a funnel's days are kept: the console's longest range.
KEEP_DAYS = 92
# Days worked out per statement when many are due (a new funnel): bounds each transaction.
DAYS_PER_STATEMENT = 7


def day_closed_at(funnel: Funnel, day: dt.date) -> dt.datetime:
    """When the last entry of `day` can no longer move on: the day's end plus the window."""
    return day_range(day, day)[1] + dt.timedelta(hours=funnel.window_hours)


def funnel_rollup(*, funnel: Funnel, days: Sequence[dt.date]) -> int:
    """Keep the passages of those of `days` whose window has closed, replacing their rows whole (one
    transaction per DAYS_PER_STATEMENT days, each with its RollupRun); returns the rows written.
    Idempotent: a re-run writes the same rows."""
    started = timezone.now()
    closed = sorted(day for day in set(days) if day_closed_at(funnel, day) <= started)
    alias = analytics_db()
    written = 0
    for at in range(0, len(closed), DAYS_PER_STATEMENT):
        chunk = closed[at:at + DAYS_PER_STATEMENT]
        sql, params = passages_sql(funnel, chunk, with_channel=True)
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
            FunnelDay.objects.using(alias).filter(funnel=funnel, day__in=chunk).delete()
            cursor.execute(f"WITH {sql} INSERT INTO analytics_funnelday "
                           "(funnel_id, day, person, reached, times, platform, channel) "
                           "SELECT %s, day, person, reached, times, platform, channel FROM passages",
                           [*params, funnel.pk])
            written += cursor.rowcount
            RollupRun.objects.using(alias).bulk_create(
                [RollupRun(kind=funnel_rollup_kind(funnel), day=day, ran_at=started) for day in chunk],
                update_conflicts=True, unique_fields=["kind", "day"], update_fields=["ran_at"])
    return written


def funnel_rollup_due(*, funnel: Funnel, now: dt.datetime | None = None) -> list[dt.date]:
    """The funnel's days to keep now, oldest first: the closed days of the last KEEP_DAYS not kept
    since the funnel last changed, and kept days whose events or window got events late."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    window_days = -(-funnel.window_hours // 24)
    closed = [day for day in (today - dt.timedelta(days=k) for k in range(1, KEEP_DAYS + 1))
              if day_closed_at(funnel, day) <= now]
    alias = analytics_db()
    runs = dict(RollupRun.objects.using(alias).filter(
        kind=funnel_rollup_kind(funnel), day__gte=today - dt.timedelta(days=KEEP_DAYS),
        ran_at__gte=funnel.updated_at).values_list("day", "ran_at"))
    due = {day for day in closed if day not in runs}
    # Only the recent days can get late events (older client events are refused at ingestion).
    recent_from = today - LATE_WINDOW - dt.timedelta(days=window_days)
    for occurred, received in days_received_late(kind=funnel_rollup_kind(funnel), first=recent_from).items():
        # An event of day X may move on the entries of X and of the window's days before it.
        due |= {day for day in (occurred - dt.timedelta(days=k) for k in range(window_days + 1))
                if day in runs and received > runs[day]}
    return sorted(due)


def funnel_rollups_recent(*, now: dt.datetime | None = None) -> dict[str, list[dt.date]]:
    """Keep every funnel's due days (funnel_rollup_due): the periodic job. {funnel name: days kept}."""
    done = {}
    for funnel in Funnel.objects.using(analytics_db()).order_by("pk"):
        days = funnel_rollup_due(funnel=funnel, now=now)
        if days:
            funnel_rollup(funnel=funnel, days=days)
            done[funnel.name] = days
    return done
