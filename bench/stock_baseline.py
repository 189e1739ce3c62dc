"""The database's own ceiling for a hot SKU: raw conditional UPDATEs on one stock row.

Order placement serialises on the hot SKU's row lock (DESIGN.md §6: conditional UPDATE with the
row count checked). The fastest any code can take units from that row is PostgreSQL running
just that statement, autocommitted, from as many connections as there are buyers; orders/s is
reported as a ratio to it, measured in the same database in the same run.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.load import MAX_REQUESTS_PER_CLIENT, Measurement

TAKE_ONE = "UPDATE catalog_stock SET available = available - 1 WHERE sku_id = %s AND available >= 1"


def run(*, conninfo: dict[str, Any], sku_id: int, clients: int, warmup: float,
        duration: float) -> Measurement:
    """`clients` connections each taking one unit of `sku_id` in a loop, in autocommit."""
    import psycopg

    connections = [psycopg.connect(**conninfo, autocommit=True) for _ in range(clients)]
    measurement = Measurement(label="raw UPDATE (psycopg, autocommit)", clients=clients, seconds=duration)
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    lock = threading.Lock()
    try:
        threads = [threading.Thread(target=_taker, args=(conn, sku_id, window_start, window_end,
                                                         measurement, lock))
                   for conn in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for conn in connections:
            conn.close()
    return measurement


def _taker(conn: Any, sku_id: int, window_start: float, window_end: float, measurement: Measurement,
           lock: threading.Lock) -> None:
    """Take one unit per statement until the window closes; a miss (no row updated) is an error."""
    part: dict[str, Any] = {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.perf_counter() >= window_end:
            break
        started = time.perf_counter()
        updated = conn.execute(TAKE_ONE, (sku_id,), prepare=True).rowcount
        finished = time.perf_counter()
        part["ok_total"] += updated
        if window_start <= finished <= window_end:
            if updated == 1:
                part["ok"] += 1
                part["latencies_ms"].append((finished - started) * 1000)
            else:
                part["errors"] += 1
    with lock:
        measurement.merge(part)
