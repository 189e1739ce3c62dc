"""Funnel reports: people per step, conversion, median time between steps, breakdowns, drop-offs.

The rules of passage are analytics.funnels' (its `passage` is the reference); here they run in
PostgreSQL, people resolved through the device-to-member links, so browsing anonymously, logging
in and paying is one person's passage.

A report is the best passage of each person over the range's days, and the best over days is the
best of each day's best (the one going furthest, the earliest among equals). So it is put together
from per-day passages: the days a rollup has kept (FunnelDay, analytics.services.funnel_rollups;
a day is kept once its window has closed) are read, the others worked out from the events by
`passages_sql`, in the same statement:

1. `matched`: each person's events matching any step among the entry days and the window after;
2. `level…`: for each of them the times of steps k+1..n followed greedily (window aggregates
   running backwards over the person's events, one sort for all);
3. `passages`: per person and Shanghai day of entry, the entry going furthest (earliest among
   equals) with its step times, platform and, when asked, entry channel;
4. `chosen`: per person (kept rows re-keyed through today's device links) the best over days;
5. counts and medians per step, overall and per breakdown group (GROUPING SETS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from analytics.catalogue import CATALOGUE
from analytics.channels import ENTRY_EVENTS, UNKNOWN, channel_label, channel_sql
from analytics.funnels import step_label, step_sql
from analytics.models import Funnel, RollupRun
from analytics.people import EVENTS_WITH_PEOPLE, PERSON, PERSON_KEY, seen_before_sql
from analytics.routers import analytics_db, reports_db
from members.models import Member

BREAKDOWNS = {"channel": "渠道", "platform": "平台", "visitor": "新老访客", "tier": "会员等级"}
PLATFORM_LABELS = {"ios": "iOS", "android": "Android", "windows": "Windows", "mac": "Mac", "devtools": "开发者工具",
                   "": "未知"}
SERVER_EVENT_LABELS = {"order_placed": "提交订单", "order_paid": "支付订单", "order_refunded": "退款",
                       "coupon_issued": "获得优惠券", "member_registered": "注册", "member_login": "登录",
                       "channel_scanned": "扫渠道码"}
EVENT_LABELS = {**{name: spec.label for name, spec in CATALOGUE.items()}, **SERVER_EVENT_LABELS}
REPORT_WORK_MEM = "256MB"


@dataclass(frozen=True)
class StepFigures:
    label: str
    people: int
    from_previous: Decimal | None  # None for the first step
    from_first: Decimal | None
    median_seconds: float | None  # from the previous step; None for the first step or nobody


@dataclass(frozen=True)
class FunnelReport:
    first: dt.date
    last: dt.date
    steps: list[StepFigures]
    breakdown: list[tuple[str, list[StepFigures]]]


@contextmanager
def report_cursor() -> Iterator[Any]:
    """A cursor on the analytics database in a transaction whose sorts, hashes and window
    aggregates may use REPORT_WORK_MEM each before spilling to disk (one report is a handful of
    those over up to millions of rows; the server's default is sized for many small queries)."""
    alias = analytics_db()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        yield cursor


def day_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    return (dt.datetime.combine(first, dt.time(), tzinfo=zone),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone))


def events_on_days_sql(first: dt.date, last: dt.date, *, skip: Sequence[dt.date]) -> tuple[str, dict[str, Any]]:
    """A condition on `e.occurred_at`, true for the events of the Shanghai days `first`..`last` not
    in `skip` (the days a rollup covers), one range per run of such days ("false" when none), and
    its named parameters (`from_<n>`, `to_<n>`)."""
    params: dict[str, Any] = {}
    ranges = []
    for n, (since, until) in enumerate(_day_runs(first, last, skip=skip)):
        params[f"from_{n}"], params[f"to_{n}"] = day_range(since, until)
        ranges.append(f"(e.occurred_at >= %(from_{n})s AND e.occurred_at < %(to_{n})s)")
    return " OR ".join(ranges) or "false", params


def _day_runs(first: dt.date, last: dt.date, *, skip: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The runs of days in `first`..`last` not in `skip`, each as (first day, last day)."""
    skipped = set(skip)
    runs: list[tuple[dt.date, dt.date]] = []
    day = first
    while day <= last:
        if day not in skipped:
            if runs and runs[-1][1] == day - dt.timedelta(days=1):
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        day += dt.timedelta(days=1)
    return runs


def passages_sql(funnel: Funnel, days: Sequence[dt.date], *, with_channel: bool) -> tuple[str, list[Any]]:
    """`matched AS (…), …, passages AS (…)` and its params: one row per person and Shanghai day of
    `days` on which they entered the funnel: person, day, reached, times (bigint[]: the
    microseconds since the epoch of steps 1..reached), platform and channel (the entry channel,
    with_channel; else NULL): the last entry event naming one in the 24 hours up to the entry."""
    first, last = min(days), max(days)
    start, end = day_range(first, last)
    zone = timezone.get_current_timezone_name()
    n = len(funnel.steps)
    conditions = [step_sql(step) for step in funnel.steps]
    flags = ", ".join(f"{sql} AS s{k}" for k, (sql, _) in enumerate(conditions, start=1))
    params: list[Any] = [p for _, step_params in conditions for p in step_params]
    params += [p for _, step_params in conditions for p in step_params]
    params += [start, end + dt.timedelta(hours=funnel.window_hours)]
    any_step = " OR ".join(sql for sql, _ in conditions)
    # c{k}, meaningful on step-k events: the times of steps k+1..n followed greedily from it, as the
    # least of ([time] || c{k+1}) over the step-(k+1) events strictly later (the earliest of them).
    # Each level is one more window aggregate over the same order, so one sort serves them all.
    levels = f"""), level{n - 1} AS (
    SELECT *, ARRAY[min(u) FILTER (WHERE s{n}) OVER later] AS c{n - 1} FROM matched
    WINDOW later AS (PARTITION BY person ORDER BY u DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"""
    for k in range(n - 2, 0, -1):
        levels += f"""
), level{k} AS (
    SELECT *, min(ARRAY[u] || c{k + 1}) FILTER (WHERE s{k + 1}) OVER later AS c{k} FROM level{k + 1}
    WINDOW later AS (PARTITION BY person ORDER BY u DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"""
    limit = "u + %s::bigint * 3600000000"
    reached = " + ".join(["1", *(f"COALESCE((c1[{k}] <= {limit})::int, 0)" for k in range(1, n))])
    params += [*([funnel.window_hours] * (n - 1)), zone, _micros(start), _micros(end), list(days)]
    # best: [-reached, u1, id, u2, …, un] (u_k past `reached` are later than the window or NULL)
    passages = """
    SELECT c.person, c.day, -c.best[1] AS reached, ARRAY[c.best[2]] || c.best[4:2 - c.best[1]] AS times,
           c.platform, NULL::text AS channel
    FROM chosen_days c"""
    launches = ""
    if with_channel:
        launches = f"""
), launches AS (
    SELECT {PERSON_KEY} AS person, (extract(epoch FROM e.occurred_at) * 1000000)::bigint AS t, e.id,
           {channel_sql("e.properties")} AS channel
    FROM {EVENTS_WITH_PEOPLE}
    WHERE e.name = ANY(%s) AND e.occurred_at >= %s AND e.occurred_at < %s
      AND {PERSON} IS NOT NULL AND {channel_sql("e.properties")} IS NOT NULL"""
        params += [list(ENTRY_EVENTS), start - dt.timedelta(days=1), end]
        passages = f"""
    SELECT DISTINCT ON (c.person, c.day) c.person, c.day, -c.best[1] AS reached,
           ARRAY[c.best[2]] || c.best[4:2 - c.best[1]] AS times, c.platform, COALESCE(l.channel, '{UNKNOWN}') AS channel
    FROM chosen_days c LEFT JOIN launches l
      ON l.person = c.person AND l.t <= c.best[2] AND l.t > c.best[2] - 86400000000
    ORDER BY c.person, c.day, l.t DESC NULLS LAST, l.id DESC"""
    sql = f"""
matched AS (
    SELECT {PERSON_KEY} AS person, (extract(epoch FROM e.occurred_at) * 1000000)::bigint AS u, e.id, e.platform,
           {flags}
    FROM {EVENTS_WITH_PEOPLE}
    WHERE ({any_step}) AND e.occurred_at >= %s AND e.occurred_at <= %s AND {PERSON} IS NOT NULL
{levels}
), entries AS (
    SELECT person, u, id, platform, c1, {reached} AS reached,
           ((timestamptz 'epoch' + u * interval '1 microsecond') AT TIME ZONE %s)::date AS day
    FROM level1
    WHERE s1 AND u >= %s AND u < %s
), chosen_days AS (
    SELECT person, day, min(ARRAY[-reached, u, id] || c1) AS best,
           (array_agg(platform ORDER BY reached DESC, u, id))[1] AS platform
    FROM entries WHERE day = ANY(%s::date[]) GROUP BY person, day{launches}
), passages AS ({passages}
)"""
    return sql, params


def _best_sql(funnel: Funnel, first: dt.date, last: dt.date, *, with_channel: bool = False) -> tuple[str, list[Any]]:
    """WITH … best AS (one row per person entering: person, reached, u1..un, t1, platform, channel)
    and its params; u_k is step k's time in microseconds since the epoch (NULL past `reached`).
    The days kept by the rollup are read from FunnelDay, the others from the events."""
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    kept = set(funnel_days_kept(funnel, first=first, last=last))
    live = [day for day in days if day not in kept]
    parts: list[str] = []
    params: list[Any] = []
    ctes = ""
    if live:
        ctes, params = passages_sql(funnel, live, with_channel=with_channel)
        parts.append("SELECT person, reached, times, platform, channel FROM passages")
    if kept:
        # A device linked to a member since its day was kept is that member now.
        parts.append("""SELECT CASE WHEN dm.member_id IS NOT NULL THEN 'm' || dm.member_id ELSE f.person END
               COLLATE "C", f.reached, f.times, f.platform, f.channel
        FROM analytics_funnelday f LEFT JOIN analytics_devicemember dm
          ON left(f.person, 1) = 'd' AND dm.anonymous_id = substr(f.person, 2)
        WHERE f.funnel_id = %s AND f.day >= %s AND f.day <= %s AND f.day <> ALL(%s::date[])""")
        params += [funnel.pk, first, last, live]
    n = len(funnel.steps)
    times = ", ".join(f"CASE WHEN reached >= {k} THEN times[{k}] END AS u{k}" for k in range(2, n + 1))
    sql = f"""WITH {ctes + "," if ctes else ""} days_passed (person, reached, times, platform, channel) AS (
    {" UNION ALL ".join(parts)}
), best AS (
    SELECT DISTINCT ON (person) person, platform, channel, reached, times[1] AS u1, {times},
           timestamptz 'epoch' + times[1] * interval '1 microsecond' AS t1
    FROM days_passed
    ORDER BY person, reached DESC, times[1]
)"""
    return sql, params


def funnel_days_kept(funnel: Funnel, *, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days of `first`..`last` whose passages the rollup has kept for the funnel as it stands
    (rolled up after its window closed and after the funnel was last changed)."""
    runs = RollupRun.objects.using(analytics_db()).filter(
        kind=funnel_rollup_kind(funnel), day__gte=first, day__lte=last, ran_at__gte=funnel.updated_at)
    window = dt.timedelta(hours=funnel.window_hours)
    return sorted(day for day, ran_at in runs.values_list("day", "ran_at") if ran_at >= day_range(day, day)[1] + window)


def funnel_rollup_kind(funnel: Funnel) -> str:
    """RollupRun.kind of a funnel's daily passages."""
    return f"funnel:{funnel.pk}"


def _micros(at: dt.datetime) -> int:
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def _figures(funnel: Funnel, row: Sequence[Any]) -> list[StepFigures]:
    """Figures from a row of people reaching each step, then the median seconds of steps 2..n."""
    n = len(funnel.steps)
    counts, medians = list(row[:n]), [None, *row[n:]]
    return [StepFigures(label=step_label(step, EVENT_LABELS), people=counts[k],
                        from_previous=_rate(counts[k], counts[k - 1]) if k else None,
                        from_first=_rate(counts[k], counts[0]) if k else None,
                        median_seconds=medians[k])
            for k, step in enumerate(funnel.steps)]


def _rate(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def funnel_report(*, funnel: Funnel, first: dt.date, last: dt.date, breakdown: str | None = None) -> FunnelReport:
    """The funnel over people entering it on the Shanghai days `first`..`last`, optionally broken
    down (BREAKDOWNS: the group of each person at their entry), groups by size. One statement."""
    start, _ = day_range(first, last)
    best, params = _best_sql(funnel, first, last, with_channel=breakdown == "channel")
    group, group_sql, group_params = _group(breakdown, start=start)
    n = len(funnel.steps)
    figures = [*(f"count(*) FILTER (WHERE reached >= {k})" for k in range(1, n + 1)),
               *(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY (u{k} - u{k - 1}) / 1000000.0::float8) "
                 f"FILTER (WHERE reached >= {k})" for k in range(2, n + 1))]
    sql = (f"{best}{group_sql} SELECT GROUPING({group}), {group}, {', '.join(figures)} "
           f"FROM {'grouped' if group_sql else 'best'} GROUP BY GROUPING SETS ((), ({group}))")
    with report_cursor() as cursor:
        cursor.execute(sql, [*params, *group_params])
        rows = cursor.fetchall()
    total = next((row[2:] for row in rows if row[0]), None) or [0] * n + [None] * (n - 1)
    groups = [(_group_label(breakdown, row[1]), _figures(funnel, row[2:])) for row in rows if not row[0]] \
        if breakdown else []
    groups.sort(key=lambda item: (-item[1][0].people, item[0]))
    return FunnelReport(first=first, last=last, steps=_figures(funnel, total), breakdown=groups)


def _group(breakdown: str | None, *, start: dt.datetime) -> tuple[str, str, list[Any]]:
    """The group expression over `best` (or over `grouped`, a CTE the breakdown adds), the CTE and its params."""
    if breakdown == "platform":
        return "platform", "", []
    if breakdown == "channel":
        return "channel", "", []
    if breakdown == "visitor":
        # Returning when the person has a mini-program event before the range.
        return "visitor", f""", grouped AS (
    SELECT c.*, CASE WHEN {seen_before_sql("e.source = 'client'", start="%s")} THEN '老访客' ELSE '新访客' END
           AS visitor
    FROM best c
)""", [start] * 3
    if breakdown == "tier":
        tiers = list(Member.objects.using(reports_db()).filter(tier__isnull=False).values_list("pk", "tier__name"))
        return "tier", """, grouped AS (
    SELECT b.*, CASE WHEN left(b.person, 1) = 'm' THEN COALESCE(tiers.name, '普通会员') ELSE '未登录' END AS tier
    FROM best b LEFT JOIN unnest(%s::bigint[], %s::text[]) AS tiers (member_id, name)
      ON tiers.member_id = CASE WHEN left(b.person, 1) = 'm' THEN substr(b.person, 2)::bigint END
)""", [[pk for pk, _ in tiers], [name for _, name in tiers]]
    return "'未知'::text", "", []


def _group_label(breakdown: str | None, value: str | None) -> str:
    if breakdown == "platform":
        return PLATFORM_LABELS.get(value or "", value or "")
    if breakdown == "channel":
        return channel_label(value or UNKNOWN)
    return value or "未知"


def funnel_dropoffs(*, funnel: Funnel, first: dt.date, last: dt.date, step: int) -> tuple[list[int], int]:
    """Who reached step `step` - 1 but not step `step` (2..n): the member ids, sorted, and how many
    of the people dropping there were anonymous devices (never logged in, so not reachable)."""
    if not 2 <= step <= len(funnel.steps):
        raise ValueError(f"step {step} is not in 2..{len(funnel.steps)}")
    best, params = _best_sql(funnel, first, last)
    with report_cursor() as cursor:
        cursor.execute(f"{best} SELECT person FROM best WHERE reached = %s", [*params, step - 1])
        dropped = [row[0] for row in cursor.fetchall()]
    members = sorted(int(key[1:]) for key in dropped if key.startswith("m"))
    return members, len(dropped) - len(members)
