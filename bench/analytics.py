"""Analytics at scale: event ingestion over HTTP, the flush against a raw COPY, and the reports
over a generated month of events.

    python -m bench.analytics [--seconds 20] [--clients 8] [--workers 3] [--month-events 2000000]

Recreates the bench database (bench/database.py), then:

1. **Ingestion over HTTP.** gunicorn as the mall runs (sync workers, the bench settings), the
   events rate limits lifted; `--clients` processes post gzip-compressed batches of 50 fresh
   events (`POST /api/v1/events`, a device id each) for `--seconds`. Reported: events accepted
   per second end to end (the issue's aim: 25,000/s on 2 cores).
2. **Flush vs raw COPY.** The buffer the clients filled is flushed (`events_flush`: dedup, device
   links, partition routing, in chunks); the baseline, measured first, is a raw `COPY` of as many
   rows from this process straight into `analytics_event`. Reported: flush rows/s ÷ raw COPY rows/s
   (aim ≥ 0.5).
3. **A generated month** (`--month-events`, 2,000,000 by default; the issue's month is 20,000,000:
   pass it where the disk and the time allow): about one device per 100 events, a quarter of them
   linked to members, Zipf-popular products, the catalogue's event mix, made in SQL. Timed: the
   nightly rollup of one day, the KPI dashboard over 90 days from the rollups, a 4-step funnel
   over 30 days (beside a naive self-join SQL baseline), 8-week retention, paths from one page.

Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import multiprocessing
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

BATCH = 50
RESULTS = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------------------------
# 1. Ingestion over HTTP


def _batch_body(device: str, now_ms: int) -> bytes:
    events = []
    for n in range(BATCH):
        kind = n % 5
        if kind == 0:
            events.append({"event_id": str(uuid.uuid4()), "name": "page_view", "time": now_ms - n,
                           "properties": {"path": "pages/product/detail", "query": {"id": str(n)}, "scene": 1001}})
        elif kind == 1:
            events.append({"event_id": str(uuid.uuid4()), "name": "product_view", "time": now_ms - n,
                           "properties": {"product_id": n, "category": "母婴", "price_fen": 9900}})
        elif kind == 2:
            events.append({"event_id": str(uuid.uuid4()), "name": "page_leave", "time": now_ms - n,
                           "properties": {"path": "pages/product/detail", "duration": 12}})
        elif kind == 3:
            events.append({"event_id": str(uuid.uuid4()), "name": "search", "time": now_ms - n,
                           "properties": {"keyword": "奶粉", "result_count": 12}})
        else:
            events.append({"event_id": str(uuid.uuid4()), "name": "add_to_cart", "time": now_ms - n,
                           "properties": {"product_id": n, "sku_id": n, "quantity": 1}})
    body = {"device_id": device, "context": {"platform": "ios", "model": "iPhone 15", "network": "wifi"},
            "events": events}
    return gzip.compress(json.dumps(body).encode(), compresslevel=5)


def _client(args: tuple[int, int, float]) -> tuple[int, int]:
    """One client process: post batches until `deadline`; (events accepted, errors)."""
    port, client_id, deadline = args
    accepted = errors = 0
    sent = 0
    while time.time() < deadline:
        body = _batch_body(f"bench-device-{client_id:03d}-{sent % 1000:04d}", int(time.time() * 1000))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/api/v1/events", body=body,
                         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            response = conn.getresponse()
            payload = response.read()
            if response.status == 200:
                accepted += json.loads(payload)["accepted"]
            else:
                errors += 1
        except OSError:
            errors += 1
        finally:
            conn.close()
        sent += 1
    return accepted, errors


def ingest(*, seconds: float, clients: int, workers: int) -> dict[str, Any]:
    from bench.server import gunicorn

    env = {**os.environ, "RATE_LIMIT_EVENTS_DEVICE": "1000000/m", "RATE_LIMIT_EVENTS_ADDRESS": "100000000/m"}
    with gunicorn(workers=workers, log_path=RESULTS / "gunicorn-analytics.log", env=env) as port:
        # Warm the workers (imports, connections) before the window.
        _client((port, 999, time.time() + 1.0))
        started = time.time()
        with multiprocessing.get_context("spawn").Pool(clients) as pool:
            parts = pool.map(_client, [(port, n, started + seconds) for n in range(clients)])
        elapsed = time.time() - started
    accepted = sum(part[0] for part in parts)
    return {"seconds": round(elapsed, 2), "clients": clients, "workers": workers, "events": accepted,
            "errors": sum(part[1] for part in parts), "events_per_second": round(accepted / elapsed)}


# ---------------------------------------------------------------------------------------------
# 2. The flush against a raw COPY into the same table


def flush_vs_copy(rows: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from analytics.services.storage import COLUMNS, events_flush

    now = timezone.now()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY analytics_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for n in range(rows):
                copy.write_row((uuid.uuid4(), "page_view", None, f"raw-device-{n % 5000}",
                                '{"path": "pages/index/index"}', now, now, now, "client", "ios", "{}"))
        raw_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = events_flush()
    flush_seconds = time.perf_counter() - started
    raw_rate = rows / raw_seconds
    flush_rate = result.taken / flush_seconds if flush_seconds else 0.0
    return {"raw_copy_rows": rows, "raw_copy_rows_per_second": round(raw_rate),
            "flushed_rows": result.taken, "stored": result.stored, "flush_rows_per_second": round(flush_rate),
            "ratio": round(flush_rate / raw_rate, 2) if raw_rate else None}


# ---------------------------------------------------------------------------------------------
# 3. A generated month

_GENERATE = """
INSERT INTO analytics_event (event_id, name, member_id, anonymous_id, properties, occurred_at, received_at,
                             client_time, source, platform, context)
SELECT gen_random_uuid(), ev.name, NULL, 'gen-' || ev.device, ev.properties, ev.at, ev.at, ev.at, 'client',
       CASE WHEN ev.device %% 2 = 0 THEN 'ios' ELSE 'android' END, '{}'
FROM (
    SELECT (floor(power(random(), 1.6) * %(devices)s))::int AS device,
           %(start)s::timestamptz + random() * interval '30 days' AS at,
           r.kind,
           CASE WHEN r.kind < 0.40 THEN 'page_view' WHEN r.kind < 0.62 THEN 'product_view'
                WHEN r.kind < 0.80 THEN 'page_leave' WHEN r.kind < 0.87 THEN 'add_to_cart'
                WHEN r.kind < 0.92 THEN 'app_launch' WHEN r.kind < 0.95 THEN 'checkout_start'
                WHEN r.kind < 0.97 THEN 'search' ELSE 'share' END AS name,
           jsonb_build_object(
               'path', (ARRAY['pages/index/index', 'pages/product/detail', 'pages/cart/index',
                              'pages/search/index', 'pages/category/index', 'pages/checkout/index'])
                       [1 + floor(power(random(), 2) * 6)::int],
               'product_id', 1 + floor(exp(random() * ln(5000)))::int - 1,
               'sku_id', 1, 'duration', 5 + floor(random() * 60)::int, 'keyword', '奶粉',
               'content_type', 'product', 'scene', (ARRAY[1001, 1007, 1047, 1089, 1035])[1 + floor(random() * 5)::int],
               'category', (ARRAY['母婴', '美妆护肤', '零食烘焙', '家居'])[1 + floor(random() * 4)::int]
           ) AS properties
    FROM generate_series(1, %(count)s) AS g(n), LATERAL (SELECT random() + g.n * 0 AS kind) AS r
) AS ev
"""


def generate_month(*, events: int, start: dt.datetime) -> dict[str, Any]:
    from django.db import connection

    devices = max(events // 100, 10)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        chunk = 500_000
        for first in range(0, events, chunk):
            cursor.execute(_GENERATE, {"devices": devices, "start": start, "count": min(chunk, events - first)})
        # A quarter of the devices logged in as members; and order_paid server events for some.
        cursor.execute("INSERT INTO analytics_devicemember (anonymous_id, member_id, linked_at) "
                       "SELECT 'gen-' || d, d, now() FROM generate_series(0, %s, 4) AS d", [devices - 1])
        cursor.execute(
            "INSERT INTO analytics_event (event_id, name, member_id, anonymous_id, properties, occurred_at, "
            "received_at, source, platform, context) "
            "SELECT gen_random_uuid(), 'order_paid', d, '', '{}', %s::timestamptz + random() * interval '30 days', "
            "now(), 'server', '', '{}' FROM generate_series(0, %s, 4) AS d, generate_series(1, 2)",
            [start, devices - 1])
        cursor.execute("ANALYZE analytics_event")
        cursor.execute("ANALYZE analytics_devicemember")
    return {"events": events, "devices": devices, "members": devices // 4,
            "seconds": round(time.perf_counter() - started, 1)}


def _timed(work: Any, repeat: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


_NAIVE_FUNNEL = """
SELECT count(DISTINCT a.p), count(DISTINCT b.p), count(DISTINCT c.p), count(DISTINCT d.p)
FROM (SELECT COALESCE('m' || COALESCE(e.member_id, dm.member_id)::text, 'd' || e.anonymous_id) p, e.occurred_at t
      FROM analytics_event e LEFT JOIN analytics_devicemember dm ON dm.anonymous_id = e.anonymous_id
      WHERE e.name = 'product_view' AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s) a
LEFT JOIN (SELECT COALESCE('m' || COALESCE(e.member_id, dm.member_id)::text, 'd' || e.anonymous_id) p, e.occurred_at t
      FROM analytics_event e LEFT JOIN analytics_devicemember dm ON dm.anonymous_id = e.anonymous_id
      WHERE e.name = 'add_to_cart') b ON b.p = a.p AND b.t > a.t AND b.t <= a.t + interval '1 day'
LEFT JOIN (SELECT COALESCE('m' || COALESCE(e.member_id, dm.member_id)::text, 'd' || e.anonymous_id) p, e.occurred_at t
      FROM analytics_event e LEFT JOIN analytics_devicemember dm ON dm.anonymous_id = e.anonymous_id
      WHERE e.name = 'checkout_start') c ON c.p = b.p AND c.t > b.t AND c.t <= a.t + interval '1 day'
LEFT JOIN (SELECT 'm' || e.member_id::text p, e.occurred_at t FROM analytics_event e
      WHERE e.name = 'order_paid') d ON d.p = c.p AND d.t > c.t AND d.t <= a.t + interval '1 day'
"""


def month_queries(*, start: dt.datetime) -> dict[str, Any]:
    from django.db import OperationalError, connection

    from analytics.funnels import steps_parse
    from analytics.models import DailyKpi, Funnel
    from analytics.selectors.funnels import day_range, funnel_report
    from analytics.selectors.kpis import kpi_by_channel, kpi_daily, kpi_total
    from analytics.selectors.paths import paths
    from analytics.selectors.retention import retention
    from analytics.services.rollups import kpi_rollup

    first = start.date()
    last = first + dt.timedelta(days=29)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    kpi_rollup(day=first + dt.timedelta(days=15))
    results["rollup_one_day_seconds"] = round(time.perf_counter() - started, 2)
    # 90 days of rollup rows (12 channels × new/returning) for the dashboard's reads.
    DailyKpi.objects.bulk_create([
        DailyKpi(day=first - dt.timedelta(days=n), channel=f"bench-{c}", is_new=bool(b), visitors=100 + n,
                 visits=150 + n, page_views=900, paid_fen=10_000 * c)
        for n in range(1, 91) for c in range(12) for b in range(2)])
    dashboard_first, dashboard_last = first - dt.timedelta(days=90), first - dt.timedelta(days=1)
    seconds, _ = _timed(lambda: (kpi_total(first=dashboard_first, last=dashboard_last),
                                 kpi_daily(first=dashboard_first, last=dashboard_last),
                                 kpi_by_channel(first=dashboard_first, last=dashboard_last)), repeat=5)
    results["kpi_dashboard_90_days_ms"] = round(seconds * 1000, 1)
    funnel = Funnel.objects.create(name="bench", window_hours=24, steps=steps_parse(
        "product_view\nadd_to_cart\ncheckout_start\norder_paid"))
    seconds, report = _timed(lambda: funnel_report(funnel=funnel, first=first, last=last), repeat=1)
    results["funnel_4_steps_30_days_seconds"] = round(seconds, 2)
    results["funnel_people"] = [step.people for step in report.steps]
    range_start, range_end = day_range(first, last)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '120s'")
        started = time.perf_counter()
        try:
            cursor.execute(_NAIVE_FUNNEL, {"start": range_start, "end": range_end})
            results["naive_funnel_sql_seconds"] = round(time.perf_counter() - started, 2)
        except OperationalError as exc:  # the baseline may not finish within the timeout: say so
            results["naive_funnel_sql_seconds"] = f"> 120 ({type(exc).__name__})"
        cursor.execute("SET statement_timeout = 0")
    seconds, _ = _timed(lambda: retention(first=first, last=first + dt.timedelta(days=6), unit="week", periods=8,
                                          today=last), repeat=1)
    results["retention_8_weeks_seconds"] = round(seconds, 2)
    seconds, found = _timed(lambda: paths(first=first, last=last, after="pages/product/detail"), repeat=1)
    results["paths_from_one_page_seconds"] = round(seconds, 2)
    results["paths_visits"] = found.visits
    return results


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="ingestion window (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    parser.add_argument("--month-events", type=int, default=2_000_000, help="events in the generated month")
    parser.add_argument("--skip-month", action="store_true", help="ingestion and flush only")
    args = parser.parse_args(argv)
    from bench import database

    database.configure_django()
    from django.utils import timezone

    from analytics.services.storage import events_partitions_maintain

    results: dict[str, Any] = {}
    with database.exclusive_run():
        database.recreate_and_migrate()
        events_partitions_maintain()
        results["ingest"] = ingest(seconds=args.seconds, clients=args.clients, workers=args.workers)
        print(f"ingestion: {results['ingest']}", flush=True)
        results["flush"] = flush_vs_copy(results["ingest"]["events"])
        print(f"flush vs raw COPY: {results['flush']}", flush=True)
        if not args.skip_month:
            month_start = (timezone.localtime() - dt.timedelta(days=40)).replace(hour=0, minute=0, second=0,
                                                                                microsecond=0)
            events_partitions_maintain(today=month_start.date())
            results["month"] = generate_month(events=args.month_events, start=month_start)
            print(f"generated month: {results['month']}", flush=True)
            events_partitions_maintain()
            results["queries"] = month_queries(start=month_start)
            print(f"queries: {results['queries']}", flush=True)
        database.close_django_connections()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
