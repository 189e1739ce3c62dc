"""Analytics at scale: event ingestion over HTTP, the flush against a raw COPY, and the reports
over a generated month of events.

    python -m bench.analytics [--seconds 20] [--clients 8] [--workers 3] [--month-events 2000000] [--skip-month]

Recreates the bench database (bench/database.py), then:

1. **Ingestion over HTTP.** gunicorn as the mall runs (sync workers, the bench settings, so a
   new connection per request as behind nginx), the events rate limits lifted but still counted.
   Three windows of `--seconds` on the same server, one after the other: `GET /bench/ping` (the
   minimal DRF endpoint: its requests/s × 50 is what batches of 50 could reach if ingestion cost
   nothing), raw COPYs of 50-row batches into the buffer from `--workers` connections (the
   database's floor), then `--clients` processes posting gzip-compressed batches of 50 fresh
   events (`POST /api/v1/events`, made before the window so the clients spend little CPU).
   Reported: events/s end to end, as a ratio to the issue's aim (25,000/s on 2 cores) and to both
   baselines, and for each window the CPU of the clients, the server (gunicorn's workers) and
   PostgreSQL: its share and its milliseconds per request. CPU per request is the figure to
   read on a shared machine: the rate also depends on what else the cores are doing.
2. **Flush vs raw COPY.** The buffer the clients filled is read out, then flushed
   (`events_flush`: dedup, device links, partition routing, in chunks); the baseline is a raw
   `COPY` of the very same rows into `analytics_event` from this process (sending bytes only;
   under other device ids, deleted afterwards). Reported: flush rows/s ÷ raw COPY rows/s (aim ≥ 0.5).
3. **A generated month** (`--month-events`, 2,000,000 by default; the issue's month is 20,000,000:
   pass it where the disk and the time allow): about one device per 100 events, a quarter of them
   linked to members, Zipf-popular products, the catalogue's event mix, made in SQL. Timed: the
   nightly rollup of one day, the KPI dashboard over 90 days from the rollups, a 4-step funnel
   over 30 days (beside a naive self-join SQL baseline), 8-week retention, paths from one page.

Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import http.client
import json
import multiprocessing
import os
import re
import resource
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

BATCH = 50
AIM_EVENTS_PER_SECOND = 25_000
EVENTS_PATH = "/api/v1/events"
PING_PATH = "/bench/ping"
RESULTS = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------------------------
# 1. Ingestion over HTTP

# Bodies a client makes before the window (not measured); past them it sends its bodies again
# (repeats: the flush keeps each event id once, so its `stored` shows how many events were new).
BODIES_PER_CLIENT = 2000
_ID_MARK = "00000000-0000-4000-8000-%012d"
_ID_MARKS = re.compile(r"00000000-0000-4000-8000-\d{12}")


def _batch_template(device: str, now_ms: int) -> str:
    """A batch of 50 (the catalogue's usual mix) as JSON text with numbered placeholder event ids."""
    events: list[dict[str, Any]] = []
    for n in range(BATCH):
        kind = n % 5
        event_id = _ID_MARK % n
        if kind == 0:
            events.append({"event_id": event_id, "name": "page_view", "time": now_ms - n,
                           "properties": {"path": "pages/product/detail", "query": {"id": str(n)}, "scene": 1001}})
        elif kind == 1:
            events.append({"event_id": event_id, "name": "product_view", "time": now_ms - n,
                           "properties": {"product_id": n, "category": "母婴", "price_fen": 9900}})
        elif kind == 2:
            events.append({"event_id": event_id, "name": "page_leave", "time": now_ms - n,
                           "properties": {"path": "pages/product/detail", "duration": 12}})
        elif kind == 3:
            events.append({"event_id": event_id, "name": "search", "time": now_ms - n,
                           "properties": {"keyword": "奶粉", "result_count": 12}})
        else:
            events.append({"event_id": event_id, "name": "add_to_cart", "time": now_ms - n,
                           "properties": {"product_id": n, "sku_id": n, "quantity": 1}})
    body = {"device_id": device, "context": {"platform": "ios", "model": "iPhone 15", "network": "wifi"},
            "events": events}
    return json.dumps(body, ensure_ascii=False)


def _bodies(client_id: int, count: int) -> list[bytes]:
    """`count` gzip-compressed batches of 50 fresh events (new ids, one device per batch), made
    before the window so that the window spends no client CPU on them."""
    template = _batch_template(f"bench-device-{client_id:03d}-@@@@", int(time.time() * 1000))
    bodies: list[bytes] = []
    for number in range(count):
        first, *rest = _ID_MARKS.split(template.replace("@@@@", f"{number % 1000:04d}"))
        text = first + "".join(event_id + piece for event_id, piece in zip(_random_uuids(len(rest)), rest, strict=True))
        bodies.append(gzip.compress(text.encode(), compresslevel=1))
    return bodies


def _random_uuids(count: int) -> list[str]:
    """`count` random version-4 UUIDs as text (uuid.uuid4() costs ten times as much)."""
    h = os.urandom(16 * count).hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-8{h[i + 17:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * count, 32)]


def _client(args: tuple[int, int, str, float, Any]) -> dict[str, float]:
    """One client process: make the bodies, wait at `barrier` for the others, then send one request
    at a time for `seconds`, a new connection each (gunicorn's sync workers close it after each
    response, as behind nginx). `path` /bench/ping is the baseline: the same clients, the minimal
    endpoint. Returns requests answered 200, events accepted, errors and this process's CPU seconds
    in the window."""
    port, client_id, path, seconds, barrier = args
    bodies = _bodies(client_id, BODIES_PER_CLIENT) if path == EVENTS_PATH else []
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    ok = accepted = errors = 0
    barrier.wait()
    deadline = time.time() + seconds
    cpu = _own_cpu()
    sent = 0
    while time.time() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            if path == EVENTS_PATH:
                conn.request("POST", path, body=bodies[sent % len(bodies)], headers=headers)
            else:
                conn.request("GET", path)
            response = conn.getresponse()
            payload = response.read()
            if response.status == 200:
                ok += 1
                if path == EVENTS_PATH:
                    accepted += json.loads(payload)["accepted"]
            else:
                errors += 1
        except OSError:
            errors += 1
        finally:
            conn.close()
        sent += 1
    return {"ok": ok, "accepted": accepted, "errors": errors, "cpu": _own_cpu() - cpu}


def _copy_client(args: tuple[dict[str, Any], str, int, float, Any]) -> dict[str, float]:
    """The database floor: batches of 50 rows by COPY into the buffer, one transaction each
    (synchronous_commit off, as the endpoint commits), straight from a client connection."""
    import psycopg

    conninfo, copy_sql, client_id, seconds, barrier = args
    now = dt.datetime.now(dt.UTC).isoformat()
    # One batch's rows in COPY's text format, made once: the client only sends bytes.
    block = "".join(f"{uuid.uuid4()}\tpage_view\t\\N\traw-device-{client_id}\t"
                    f'{{"path": "pages/product/detail", "scene": 1001}}\t{now}\t{now}\t{now}\tclient\tios\t'
                    f'{{"model": "iPhone 15"}}\n' for _ in range(BATCH)).encode()
    rows = 0
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        barrier.wait()
        deadline = time.time() + seconds
        cpu = _own_cpu()
        while time.time() < deadline:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                with cursor.copy(copy_sql) as copy:
                    copy.write(block)
            rows += BATCH
    return {"ok": rows // BATCH, "accepted": rows, "errors": 0, "cpu": _own_cpu() - cpu}


def _buffer_forget_raw() -> None:
    """The raw COPY baseline's rows leave the buffer: the flush is measured on the endpoint's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_eventbuffer WHERE anonymous_id LIKE 'raw-device-%'")
    connection.close()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds of a process's descendants (gunicorn's workers, PostgreSQL's backends) between
    start() and stop(); processes that came and went in between are not seen."""

    def __init__(self, port: int) -> None:
        import psutil

        # gunicorn's workers listen on the master's socket too: the root is the one whose parent does not.
        listening = {c.pid for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
        roots = [psutil.Process(pid) for pid in listening if psutil.Process(pid).ppid() not in listening]
        self.root = roots[0] if roots else None
        self.before: dict[int, float] = {}

    def _times(self) -> dict[int, float]:
        if self.root is None:
            return {}
        times = {}
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(Exception):
                cpu = proc.cpu_times()
                times[proc.pid] = cpu.user + cpu.system
        return times

    def start(self) -> None:
        self.before = self._times()

    def stop(self) -> float:
        after = self._times()
        # A process started since start() (a new backend) spent all its CPU within the window.
        return sum(seconds - self.before.get(pid, 0.0) for pid, seconds in after.items())


def _wait_until_booted(meter: CpuMeter, *, settle: float = 0.5, timeout: float = 90.0) -> None:
    """Wait until gunicorn's workers have finished booting (imports, the segmenter's dictionary):
    their CPU time stops growing. The bench's ping answers as soon as one worker is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meter.start()
        time.sleep(settle)
        if meter.stop() < 0.05 * settle:
            return


def _window(work: Any, jobs: list[tuple[Any, ...]], *, server: CpuMeter, database: CpuMeter) -> dict[str, Any]:
    """Run `work` over `jobs` in parallel processes, all starting together once each is ready;
    figures for the window: rates, and the CPU of the clients, the server and the database."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(len(jobs)) as pool:
        barrier = manager.Barrier(len(jobs) + 1)
        pending = pool.map_async(work, [(*job, barrier) for job in jobs])
        barrier.wait()
        started = time.perf_counter()
        server.start()
        database.start()
        parts = pending.get()
        elapsed = time.perf_counter() - started
        server_cpu, database_cpu = server.stop(), database.stop()
    requests = sum(part["ok"] for part in parts)
    events = sum(part["accepted"] for part in parts)
    client_cpu = sum(part["cpu"] for part in parts)
    total_cpu = client_cpu + server_cpu + database_cpu

    def share(cpu: float) -> float | None:
        return round(cpu / total_cpu, 2) if total_cpu else None

    def per_request(cpu: float) -> float | None:
        return round(cpu * 1000 / requests, 2) if requests else None

    return {"seconds": round(elapsed, 2), "requests_per_second": round(requests / elapsed),
            "events": events, "errors": sum(p["errors"] for p in parts),
            "events_per_second": round(events / elapsed),
            "cpu_share": {"clients": share(client_cpu), "server": share(server_cpu), "database": share(database_cpu)},
            "cpu_ms_per_request": {"clients": per_request(client_cpu), "server": per_request(server_cpu),
                                   "database": per_request(database_cpu)},
            "cores_busy": round(total_cpu / elapsed, 2)}


def ingest(*, seconds: float, clients: int, workers: int) -> dict[str, Any]:
    """Three windows of `seconds`, one after the other on the same server: the minimal endpoint
    (GET /bench/ping, what any request costs: its rate × 50 is the ceiling for batches of 50), raw
    COPYs of batches of 50 from `workers` connections (the database floor), then the endpoint."""
    from django.conf import settings

    from analytics.services.storage import COLUMNS
    from bench import database
    from bench.server import gunicorn

    env = {**os.environ, "RATE_LIMIT_EVENTS_DEVICE": "1000000/m", "RATE_LIMIT_EVENTS_ADDRESS": "100000000/m"}
    pg = CpuMeter(int(settings.DATABASES["default"].get("PORT") or 5432))
    with gunicorn(workers=workers, log_path=RESULTS / "gunicorn-analytics.log", env=env) as port:
        server = CpuMeter(port)
        _wait_until_booted(server)
        # Warm every worker (URL conf, connections) before the windows.
        _window(_client, [(port, 900 + n, EVENTS_PATH, 1.0) for n in range(workers * 2)], server=server, database=pg)
        _say("window: GET /bench/ping")
        ping = _window(_client, [(port, n, PING_PATH, seconds) for n in range(clients)], server=server, database=pg)
        _say("window: raw COPY")
        copy_sql = f"COPY analytics_eventbuffer ({', '.join(COLUMNS)}) FROM STDIN"
        copy = _window(_copy_client, [(database.conninfo(), copy_sql, n, seconds) for n in range(workers)],
                       server=server, database=pg)
        _buffer_forget_raw()
        _say("window: POST /api/v1/events")
        events = _window(_client, [(port, n, EVENTS_PATH, seconds) for n in range(clients)], server=server,
                         database=pg)
    rate = events["events_per_second"]
    return {"clients": clients, "workers": workers, "events": events, "ping_baseline": ping, "raw_copy_baseline": copy,
            "events_per_second": rate, "ratio_to_aim": round(rate / AIM_EVENTS_PER_SECOND, 2),
            "ratio_to_ping_x50": round(rate / (ping["requests_per_second"] * BATCH), 2)
            if ping["requests_per_second"] else None,
            "ratio_to_raw_copy": round(rate / copy["events_per_second"], 2) if copy["events_per_second"] else None}


# ---------------------------------------------------------------------------------------------
# 2. The flush against a raw COPY into the same table


def flush_vs_copy() -> dict[str, Any]:
    """The flush of what the clients buffered, against a raw COPY of the very same rows into the
    same table (read out of the buffer beforehand, so the baseline's client does nothing but
    send bytes). The copies go in under other device ids and are deleted afterwards."""
    from django.db import connection

    from analytics.services.storage import COLUMNS, events_flush

    columns = ", ".join(COLUMNS)
    copied = [f"'raw-' || {c}" if c == "anonymous_id" else c for c in COLUMNS]
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY (SELECT {', '.join(copied)} FROM analytics_eventbuffer) TO STDOUT") as out:
        data = [bytes(block) for block in out]
    connection.close()
    started = time.perf_counter()
    result = events_flush()
    flush_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY analytics_event ({columns}) FROM STDIN") as copy:
            for block in data:
                copy.write(block)
        raw_seconds = time.perf_counter() - started
        cursor.execute("DELETE FROM analytics_event WHERE anonymous_id LIKE 'raw-%%'")
        rows = cursor.rowcount
    raw_rate = rows / raw_seconds if raw_seconds else 0.0
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


def timed(work: Any, repeat: int = 1) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


NAIVE_FUNNEL_SQL = """
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
    seconds, _ = timed(lambda: (kpi_total(first=dashboard_first, last=dashboard_last),
                                 kpi_daily(first=dashboard_first, last=dashboard_last),
                                 kpi_by_channel(first=dashboard_first, last=dashboard_last)), repeat=5)
    results["kpi_dashboard_90_days_ms"] = round(seconds * 1000, 1)
    funnel = Funnel.objects.create(name="bench", window_hours=24, steps=steps_parse(
        "product_view\nadd_to_cart\ncheckout_start\norder_paid"))
    seconds, report = timed(lambda: funnel_report(funnel=funnel, first=first, last=last), repeat=1)
    results["funnel_4_steps_30_days_seconds"] = round(seconds, 2)
    results["funnel_people"] = [step.people for step in report.steps]
    range_start, range_end = day_range(first, last)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '120s'")
        started = time.perf_counter()
        try:
            cursor.execute(NAIVE_FUNNEL_SQL, {"start": range_start, "end": range_end})
            results["naive_funnel_sql_seconds"] = round(time.perf_counter() - started, 2)
        except OperationalError as exc:  # the baseline may not finish within the timeout: say so
            results["naive_funnel_sql_seconds"] = f"> 120 ({type(exc).__name__})"
        cursor.execute("SET statement_timeout = 0")
    seconds, _ = timed(lambda: retention(first=first, last=first + dt.timedelta(days=6), unit="week", periods=8,
                                          today=last), repeat=1)
    results["retention_8_weeks_seconds"] = round(seconds, 2)
    seconds, found = timed(lambda: paths(first=first, last=last, after="pages/product/detail"), repeat=1)
    results["paths_from_one_page_seconds"] = round(seconds, 2)
    results["paths_visits"] = found.visits
    return results


# ---------------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _print_ingest(found: dict[str, Any]) -> None:
    def line(label: str, window: dict[str, Any]) -> str:
        share, ms = window["cpu_share"], window["cpu_ms_per_request"]
        return (f"  {label:<36} {window['events_per_second']:>7,} events/s {window['requests_per_second']:>5,} req/s "
                f"errors {window['errors']}; cores busy {window['cores_busy']}; CPU share / ms per request: "
                f"clients {share['clients']} / {ms['clients']}, server {share['server']} / {ms['server']}, "
                f"database {share['database']} / {ms['database']}")

    ping = found["ping_baseline"]
    print(f"ingestion over HTTP, batches of {BATCH}, {found['workers']} gunicorn sync workers, "
          f"{found['clients']} clients:", flush=True)
    print(line("POST /api/v1/events", found["events"]))
    print(line("raw COPY of 50 rows per transaction", found["raw_copy_baseline"]))
    print(line("GET /bench/ping (× 50 = ceiling)", {**ping, "events_per_second": ping["requests_per_second"] * BATCH}))
    print(f"  end to end {found['events_per_second']:,} events/s: {found['ratio_to_aim']} × the aim (25,000/s), "
          f"{found['ratio_to_ping_x50']} × ping × 50, {found['ratio_to_raw_copy']} × raw COPY", flush=True)


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
        _print_ingest(results["ingest"])
        results["flush"] = flush_vs_copy()
        flush = results["flush"]
        print(f"flush: {flush['flush_rows_per_second']:,} rows/s ({flush['flushed_rows']:,} taken, "
              f"{flush['stored']:,} stored); raw COPY of the same rows into analytics_event "
              f"{flush['raw_copy_rows_per_second']:,} rows/s; ratio {flush['ratio']} (aim ≥ 0.5)", flush=True)
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
