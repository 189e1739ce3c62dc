"""Analytics reports over a generated month of events: the issue's sizes and targets.

    python -m bench.analytics_month [--events 2000000] [--regenerate] [--only retention]

A database of its own (`bench_analytics_month_<millions>m` on the bench server), kept between runs:
the month is generated once per size and reused (`--regenerate` makes it again). The month is
September 2026 (Shanghai), 30 days; made inside PostgreSQL (generate_series, one INSERT … SELECT
per chunk of sessions into a bare table, indexes built once, then attached as the month's
partition), so 20 million events take minutes:

- visits ("sessions") of 4–35 events, about one per 20 events, on 200,000 devices for 20 M events
  (one per 100 events), some devices far busier than others; the first 60,000 devices (scaled)
  belong to 50,000 members (scaled), logged in on four visits in five;
- a visit opens with app_launch (a WeChat scene; one in ten through one of 20 channel codes),
  then page views, Zipf-popular product views (log-uniform ids over 5,000 products) and page
  leaves; three visits in ten add to cart, one in eight starts checkout, members pay in one in 16
  (order_paid, a server event of the member).

Timed, each against its target (the issue's, at 20 M events): the KPI dashboard over 90 days from
the rollups (< 50 ms; 90 days of DailyKpi cells are written for it), a 4-step funnel over the
30 days (< 3 s) read from the days its rollup kept (keeping the 30 days and one day timed too),
beside the same report worked out from the events (a new funnel's first report) and a naive
self-join SQL baseline, 8-week retention (< 3 s), paths from one page over 30 days and over the
console's default 7 days (< 3 s; from the page-path rollups, whose 30 days are rolled up first and
timed, plus one day read from its events as today is), and the nightly rollup of one day (< 60 s;
it writes the day's page paths too). Speed is reported, never asserted; the machine is shared, so
expect noise.
`--only retention` times just retention and retention by channel (each the median of three).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.analytics import NAIVE_FUNNEL_SQL, timed

RESULTS = Path(__file__).resolve().parent / "results"
MONTH = dt.date(2026, 9, 1)
DAYS = 30
SESSION_CHUNK = 100_000
TARGETS = {"kpi_dashboard_90_days_ms": 50, "funnel_4_steps_30_days_seconds": 3, "retention_8_weeks_seconds": 3,
           "paths_from_one_page_30_days_seconds": 3, "paths_from_one_page_7_days_seconds": 3,
           "paths_30_days_last_day_live_seconds": 3, "rollup_one_day_seconds": 60}

# One chunk of visits and their events into the bare month table `{table}`. Every random choice
# of a visit is made once per visit (the `v` subquery), then each of its events is laid out.
_SESSIONS = """
INSERT INTO {table} (id, event_id, name, member_id, anonymous_id, properties, occurred_at, received_at,
                     client_time, source, platform, context)
SELECT v.first_id + j, gen_random_uuid(), x.name,
       CASE WHEN x.name = 'order_paid' OR v.logged THEN v.member END,
       CASE WHEN x.name = 'order_paid' THEN '' ELSE v.device_id END,
       x.properties, v.at + j * v.gap, v.at + j * v.gap, v.at + j * v.gap,
       CASE WHEN x.name = 'order_paid' THEN 'server' ELSE 'client' END,
       CASE WHEN x.name = 'order_paid' THEN '' WHEN v.device %% 3 = 0 THEN 'android' ELSE 'ios' END, '{{}}'
FROM (
    SELECT s.n, s.device, 'g' || s.device AS device_id,
           CASE WHEN s.device < %(linked)s THEN s.device %% %(members)s + 1 END AS member,
           s.device < %(linked)s AND s.r_login < 0.8 AS logged,
           %(start)s::timestamptz + s.r_at * (interval '{days} days' - interval '1 hour') AS at,
           make_interval(secs => 8 + s.r_gap * 50) AS gap, s.len, s.r_buy,
           (s.n * 40)::bigint AS first_id,
           (ARRAY[1001, 1089, 1007, 1008, 1047, 1011, 1035, 1058, 1005, 1037, 1045, 1256, 1053])
               [1 + floor(s.r_scene * 13)::int] AS scene,
           CASE WHEN s.r_code < 0.1 THEN 'CODE-' || (1 + floor(s.r_code * 200)::int) END AS code
    FROM (SELECT n, floor(power(random(), 2.2) * %(devices)s)::int AS device, random() AS r_login,
                 random() AS r_at, random() AS r_gap, 4 + floor(random() * 32)::int AS len, random() AS r_buy,
                 random() AS r_scene, random() AS r_code
          FROM generate_series(%(first)s, %(last)s) AS n) AS s
) AS v
CROSS JOIN LATERAL generate_series(0, v.len - 1) AS j
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN j = 0 THEN 'app_launch'
               WHEN j = v.len - 1 AND v.r_buy < 0.0625 AND v.member IS NOT NULL THEN 'order_paid'
               WHEN j = v.len - 2 AND v.r_buy < 0.125 THEN 'checkout_start'
               WHEN j = v.len - 3 AND v.r_buy < 0.3 THEN 'add_to_cart'
               WHEN j %% 3 = 1 THEN 'page_view'
               WHEN j %% 3 = 2 THEN 'product_view'
               ELSE 'page_leave' END AS name,
           floor(exp(random() * ln(5000)))::int AS product,
           (ARRAY['pages/index/index', 'pages/product/detail', 'pages/category/index', 'pages/search/index',
                  'pages/cart/index', 'pages/mine/index', 'pages/coupon/list', 'pages/checkout/index'])
               [1 + floor(power(random(), 1.8) * 8)::int] AS path
) AS pick
CROSS JOIN LATERAL (
    SELECT pick.name, CASE pick.name
        WHEN 'app_launch' THEN CASE WHEN v.code IS NULL THEN jsonb_build_object('scene', v.scene)
                                    ELSE jsonb_build_object('scene', 1047, 'query', jsonb_build_object('scene', v.code))
                               END
        WHEN 'page_view' THEN jsonb_build_object('path', pick.path)
        WHEN 'page_leave' THEN jsonb_build_object('path', pick.path, 'duration', 3 + (j * 7) %% 60)
        WHEN 'product_view' THEN jsonb_build_object(
            'product_id', pick.product, 'price_fen', 990 + (pick.product %% 50) * 1000,
            'category', (ARRAY['母婴', '美妆护肤', '零食烘焙', '家居'])[1 + pick.product %% 4])
        WHEN 'add_to_cart' THEN jsonb_build_object('product_id', pick.product, 'sku_id', pick.product, 'quantity', 1)
        WHEN 'checkout_start' THEN jsonb_build_object('amount_fen', 9900)
        ELSE jsonb_build_object('order_no', 'B' || v.n, 'payable_fen', 9900)
    END AS properties
) AS x
"""


def _database_ready(events: int, *, regenerate: bool) -> bool:
    """Create and migrate the month's database unless it exists; whether its month is already there."""
    import psycopg
    from django.core.management import call_command

    from bench import database

    name = database.database_name()
    if not name.startswith("bench"):
        raise SystemExit(f"refusing to use {name!r}: the bench database name must start with 'bench'")
    with psycopg.connect(**database.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and regenerate:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0, interactive=False)
    with psycopg.connect(**database.conninfo()) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_month (month date PRIMARY KEY, events bigint, "
                     "seconds float8, generated_at timestamptz)")
        row = conn.execute("SELECT events FROM bench_month WHERE month = %s", [MONTH]).fetchone()
    return bool(row and row[0] == events)


def generate_month(*, events: int) -> dict[str, Any]:
    """The month's events (about `events`), device links and 90 days of rollup cells."""
    from django.db import connection, transaction

    from analytics import partitions

    devices = max(events // 100, 100)
    members = max(devices // 4, 10)
    linked = max(devices * 3 // 10, 12)
    sessions = max(events // 20, 10)
    table = partitions.partition_name(MONTH)
    start = dt.datetime.combine(MONTH, dt.time(), tzinfo=partitions.SHANGHAI)
    end = start + dt.timedelta(days=DAYS)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute("TRUNCATE analytics_event, analytics_devicemember, analytics_dailykpi, analytics_rolluprun, "
                       "analytics_activeday, analytics_pageday, analytics_pagelinkday")
        cursor.execute(f"CREATE TABLE {table} (LIKE analytics_event INCLUDING DEFAULTS)")
        sql = _SESSIONS.format(table=table, days=DAYS)
        for first in range(1, sessions + 1, SESSION_CHUNK):
            last = min(first + SESSION_CHUNK - 1, sessions)
            cursor.execute(sql, {"first": first, "last": last, "devices": devices, "linked": linked,
                                 "members": members, "start": start})
            print(f"  visits {last:,}/{sessions:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_in_month "
                       f"CHECK (occurred_at >= %s AND occurred_at < %s)", [start, end])
        print(f"  attaching, building the indexes ({time.perf_counter() - started:.0f} s)", flush=True)
        cursor.execute(f"ALTER TABLE analytics_event ATTACH PARTITION {table} FOR VALUES FROM (%s) TO (%s)",
                       [start, end])
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_in_month")
        cursor.execute("SELECT setval('analytics_event_id_seq', (SELECT max(id) FROM analytics_event))")
        cursor.execute("INSERT INTO analytics_devicemember (anonymous_id, member_id, linked_at) "
                       "SELECT 'g' || d, d %% %s + 1, %s FROM generate_series(0, %s) AS d",
                       [members, start, linked - 1])
        cursor.execute(f"SELECT count(*) FROM {table}")
        stored = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        # As autovacuum would leave a month-old partition: statistics, and the visibility map that
        # lets index-only scans skip the table.
        cursor.execute("VACUUM (ANALYZE) analytics_event")
        cursor.execute("ANALYZE analytics_devicemember")
    _rollup_cells(start.date())
    seconds = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_month (month, events, seconds, generated_at) VALUES (%s, %s, %s, now()) "
                       "ON CONFLICT (month) DO UPDATE SET events = EXCLUDED.events, seconds = EXCLUDED.seconds, "
                       "generated_at = now()", [MONTH, events, seconds])
    return {"events_asked": events, "events_stored": stored, "devices": devices, "members": members,
            "linked_devices": linked, "visits": sessions, "seconds": seconds}


def _rollup_cells(first: dt.date) -> None:
    """90 days of DailyKpi cells ending with the month (29 channels × new/returning a day), for the
    dashboard's reads; the nightly rollup timed later replaces one day of them with real figures."""
    from django.db import connection

    channels = ["discover", "share", "scan", "official_account", "search", "mini_program", "ads", "other", "unknown",
                *[f"code:CODE-{n}" for n in range(1, 21)]]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO analytics_dailykpi (day, channel, is_new, visits, page_views, visitors, new_visitors, "
            "stay_seconds, bounces, shares, sharers, ordering_members, orders, paying_members, paid_orders, paid_fen, "
            "refunded_fen, paying_visitors, computed_at) "
            "SELECT d::date, c, b, 1500, 9000, 1000, CASE WHEN b THEN 1000 ELSE 0 END, 90000, 300, 40, 30, 20, 25, "
            "18, 22, 220000, 9000, 15, now() "
            "FROM generate_series(%s::date - 60, %s::date + 29, interval '1 day') AS d, unnest(%s::text[]) AS c, "
            "unnest(ARRAY[true, false]) AS b", [first, first, channels])


def month_queries(*, naive_timeout: int, only: str | None = None) -> dict[str, Any]:
    """Time the reports (`only`: just that one, after the rollups it reads from)."""
    from django.db import OperationalError, connection

    from analytics.funnels import steps_parse
    from analytics.models import ActiveDay, Funnel, PageDay
    from analytics.selectors.funnels import day_range, funnel_report
    from analytics.selectors.kpis import kpi_by_channel, kpi_daily, kpi_total
    from analytics.services.funnel_rollups import funnel_rollup
    from analytics.services.rollups import active_days_rollup, kpi_rollup, page_paths_rollup

    first = MONTH
    last = first + dt.timedelta(days=DAYS - 1)
    results: dict[str, Any] = {}
    if not ActiveDay.objects.filter(day__gte=first, day__lte=last).exists():  # migration 0006 empties it
        # What the nightly rollups of the 30 days would have left for retention, in one statement.
        seconds, written = timed(lambda: active_days_rollup(first=first, last=last))
        with connection.cursor() as cursor:
            # The statistics autovacuum keeps on a table that grows a day at a time; a month
            # written at once would otherwise be planned as an empty table.
            cursor.execute("ANALYZE analytics_activeday")
        results["active_days_rollup_30_days_seconds"] = round(seconds, 2)
        results["active_day_rows"] = written
        print(f"  active days of the month: {written:,} rows in {seconds:.1f} s", flush=True)
    if only == "retention":
        return {**results, **_retention_queries(first, last)}
    if not PageDay.objects.filter(day__gte=first, day__lte=last).exists():
        # The page paths the nightly rollups of the 30 days would have left, in one statement.
        seconds, written = timed(lambda: page_paths_rollup(first=first, last=last))
        results["paths_rollup_30_days_seconds"] = round(seconds, 2)
        results["paths_rollup_30_days_per_day_seconds"] = round(seconds / DAYS, 2)
        results["paths_rollup_rows"] = list(written)
        print(f"  page paths of the month: {written} rows in {seconds:.1f} s", flush=True)
    seconds, written = timed(lambda: kpi_rollup(day=first + dt.timedelta(days=14)))
    results["rollup_one_day_seconds"] = round(seconds, 2)
    results["rollup_cells"] = written
    print(f"  rollup of one day: {seconds:.2f} s", flush=True)
    dashboard_first = last - dt.timedelta(days=89)
    seconds, _ = timed(lambda: (kpi_total(first=dashboard_first, last=last),
                                 kpi_daily(first=dashboard_first, last=last),
                                 kpi_by_channel(first=dashboard_first, last=last)), repeat=5)
    results["kpi_dashboard_90_days_ms"] = round(seconds * 1000, 1)
    funnel, _ = Funnel.objects.get_or_create(name="bench", defaults={"window_hours": 24, "steps": steps_parse(
        "product_view\nadd_to_cart\ncheckout_start\norder_paid")})
    funnel.save()  # changed now: nothing kept from an earlier run counts, every day comes from the events
    seconds, report = timed(lambda: funnel_report(funnel=funnel, first=first, last=last))
    results["funnel_from_events_30_days_seconds"] = round(seconds, 2)
    from_events = [step.people for step in report.steps]
    print(f"  funnel from the events (a new funnel's first report): {seconds:.2f} s {from_events}", flush=True)
    days = [first + dt.timedelta(days=k) for k in range(DAYS)]
    seconds, written = timed(lambda: funnel_rollup(funnel=funnel, days=days))
    results["funnel_rollup_30_days_seconds"] = round(seconds, 2)
    results["funnel_day_rows"] = written
    seconds, _ = timed(lambda: funnel_rollup(funnel=funnel, days=[first + dt.timedelta(days=14)]))
    results["funnel_rollup_one_day_seconds"] = round(seconds, 2)
    print(f"  funnel days kept: 30 days {results['funnel_rollup_30_days_seconds']} s ({written:,} rows), "
          f"one day {seconds:.2f} s", flush=True)
    seconds, report = timed(lambda: funnel_report(funnel=funnel, first=first, last=last), repeat=3)
    results["funnel_4_steps_30_days_seconds"] = round(seconds, 2)
    results["funnel_people"] = [step.people for step in report.steps]
    results["funnel_kept_equals_events"] = results["funnel_people"] == from_events
    print(f"  funnel: {seconds:.2f} s {results['funnel_people']} (same as from the events: "
          f"{results['funnel_kept_equals_events']})", flush=True)
    seconds, report = timed(lambda: funnel_report(funnel=funnel, first=first, last=last, breakdown="channel"))
    results["funnel_by_channel_seconds"] = round(seconds, 2)
    range_start, range_end = day_range(first, last)
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = '{naive_timeout}s'")
        started = time.perf_counter()
        try:
            cursor.execute(NAIVE_FUNNEL_SQL, {"start": range_start, "end": range_end})
            results["naive_funnel_sql_seconds"] = round(time.perf_counter() - started, 2)
            results["naive_funnel_people"] = list(cursor.fetchone())
        except OperationalError as exc:  # the baseline may not finish within the timeout: say so
            results["naive_funnel_sql_seconds"] = f"> {naive_timeout} ({type(exc).__name__})"
        cursor.execute("SET statement_timeout = 0")
    print(f"  naive funnel SQL: {results['naive_funnel_sql_seconds']} s", flush=True)
    results.update(_retention_queries(first, last))
    results.update(_paths_figures(first, last))
    return results


def _paths_figures(first: dt.date, last: dt.date) -> dict[str, Any]:
    """Paths as the console reads them, the month's days rolled up: one day's rollup, reports over
    30 and 7 days from the rollups, and over 30 days with the last day read from its events (as
    today is before its first rollup), checked against that day's rollup."""
    from analytics.models import PageDay, PageLinkDay
    from analytics.selectors.paths import paths
    from analytics.services.rollups import page_paths_rollup

    results: dict[str, Any] = {}
    page = "pages/product/detail"
    middle = first + dt.timedelta(days=14)
    seconds, written = timed(lambda: page_paths_rollup(first=middle, last=middle), repeat=3)
    results["paths_rollup_one_day_seconds"] = round(seconds, 2)
    results["paths_rollup_one_day_rows"] = list(written)
    print(f"  paths rollup of one day: {seconds:.2f} s {written}", flush=True)
    seconds, found = timed(lambda: paths(first=first, last=last, after=page), repeat=3)
    results["paths_from_one_page_30_days_seconds"] = round(seconds, 3)
    results["paths_visits_30_days"] = found.visits
    seconds, found = timed(lambda: paths(first=last - dt.timedelta(days=6), last=last, after=page), repeat=3)
    results["paths_from_one_page_7_days_seconds"] = round(seconds, 3)
    seconds, found = timed(lambda: paths(first=first, last=last), repeat=3)
    results["paths_most_viewed_page_30_days_seconds"] = round(seconds, 3)
    rolled = paths(first=last, last=last, after=page)
    # The last day now reads as today would, from its events.
    PageDay.objects.filter(day=last).delete()
    PageLinkDay.objects.filter(day=last).delete()
    seconds, found = timed(lambda: paths(first=first, last=last, after=page))
    results["paths_30_days_last_day_live_seconds"] = round(seconds, 2)
    results["paths_live_day_equals_its_rollup"] = paths(first=last, last=last, after=page) == rolled
    page_paths_rollup(first=last, last=last)
    print(f"  paths: {results}", flush=True)
    return results


def _retention_queries(first: dt.date, last: dt.date) -> dict[str, Any]:
    from analytics.selectors.retention import retention, retention_by_channel

    asked = {"first": first, "last": last, "unit": "week", "periods": 8, "today": first + dt.timedelta(days=62)}
    results: dict[str, Any] = {}
    seconds, cohorts = timed(lambda: retention(**asked), repeat=3)
    results["retention_8_weeks_seconds"] = round(seconds, 2)
    results["retention_cohorts"] = [(c.start.isoformat(), c.size, c.returned[:3]) for c in cohorts]
    print(f"  retention: {seconds:.2f} s {results['retention_cohorts']}", flush=True)
    seconds, channels = timed(lambda: retention_by_channel(**asked), repeat=3)
    results["retention_by_channel_8_weeks_seconds"] = round(seconds, 2)
    results["retention_channels"] = [(channel, sum(c.size for c in cohorts)) for channel, _, cohorts in channels]
    print(f"  retention by channel: {seconds:.2f} s", flush=True)
    return results


def render(results: dict[str, Any]) -> str:
    queries = results["queries"]
    lines = [f"analytics month: {results['month']}", "",
             f"{'figure':<38} {'measured':>12} {'target':>8}  met"]
    for key, target in TARGETS.items():
        value = queries.get(key)
        met = isinstance(value, int | float) and value < target
        lines.append(f"{key:<38} {value!s:>12} {'< ' + str(target):>8}  {'yes' if met else 'NO'}")
    naive = queries.get("naive_funnel_sql_seconds")
    ours = queries.get("funnel_4_steps_30_days_seconds")
    if isinstance(naive, int | float) and ours:
        lines.append(f"{'naive funnel SQL ÷ funnel':<38} {naive / ours:>12.1f}")
    else:
        lines.append(f"{'naive funnel SQL':<38} {naive!s:>12}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics_month", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000,
                        help="events in the month (default 2,000,000; the issue's month is 20,000,000)")
    parser.add_argument("--regenerate", action="store_true", help="make the month again even if it exists")
    parser.add_argument("--generate-only", action="store_true", help="make (or find) the month, time nothing")
    parser.add_argument("--only", choices=["retention"],
                        help="time just this report (after the rollups it reads), not the whole set")
    parser.add_argument("--naive-timeout", type=int, default=300, help="seconds the naive funnel SQL may take")
    args = parser.parse_args(argv)
    os.environ.setdefault("BENCH_DB_NAME", f"bench_analytics_month_{max(args.events // 1_000_000, 1)}m")
    from bench import database

    database.configure_django()
    results: dict[str, Any] = {}
    with database.exclusive_run(wait_seconds=3600):
        if _database_ready(args.events, regenerate=args.regenerate):
            results["month"] = {"events_asked": args.events, "reused": True}
        else:
            print(f"generating {args.events:,} events ...", flush=True)
            results["month"] = generate_month(events=args.events)
        print(f"month: {results['month']}", flush=True)
        if not args.generate_only:
            results["queries"] = month_queries(naive_timeout=args.naive_timeout, only=args.only)
        database.close_django_connections()
    if args.generate_only:
        return 0
    print(render(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"analytics_month_{args.only}.json" if args.only else "analytics_month.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
