"""The HTTP load generator: closed-loop clients over loopback, bounded in time and count.

Each client is a thread with its own `http.client` connection that sends its next request as
soon as the previous answer is read (a closed loop, like shoppers waiting on a page). Clients are
spread over a few processes so the generator is not capped by one interpreter's GIL; it still
shares the machine's cores with the server, which is why the report gives ratios to a baseline
measured the same way in the same run rather than absolute targets.

Only the standard library is imported here: the worker processes are spawned, not forked.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30.0
MAX_REQUESTS_PER_CLIENT = 200_000  # a hard stop in case the clock-based one misbehaves
MAX_PROCESSES = 4
ERROR_SAMPLES = 3


@dataclass(frozen=True)
class Target:
    """One endpoint under load: what every client sends."""

    label: str
    paths: tuple[str, ...]  # each request picks one at random (e.g. product ids)
    method: str = "GET"
    body: bytes | None = None
    tokens: tuple[str, ...] = ()  # client i authenticates with tokens[i % len(tokens)]
    idempotency_keys: bool = False  # a fresh Idempotency-Key per request, as the mini-program sends
    expected_status: int = 200


@dataclass
class Measurement:
    """What the clients saw inside the measurement window (warm-up excluded)."""

    label: str
    clients: int
    seconds: float
    ok: int = 0
    errors: int = 0
    ok_total: int = 0  # expected answers over the whole run, warm-up and tail included
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms (0 when nothing completed)."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]

    @classmethod
    def combined(cls, windows: list[Measurement]) -> Measurement:
        """One endpoint's windows (its rounds) added up into one measurement."""
        total = cls(label=windows[0].label, clients=windows[0].clients, seconds=0.0)
        for window in windows:
            total.seconds += window.seconds
            total.merge({"ok": window.ok, "errors": window.errors, "ok_total": window.ok_total,
                         "latencies_ms": window.latencies_ms, "error_samples": window.error_samples})
        return total

    def merge(self, part: dict[str, Any]) -> None:
        self.ok += part["ok"]
        self.errors += part["errors"]
        self.ok_total += part["ok_total"]
        self.latencies_ms.extend(part["latencies_ms"])
        self.error_samples.extend(part["error_samples"][: ERROR_SAMPLES - len(self.error_samples)])


def run(target: Target, *, port: int, clients: int, warmup: float, duration: float) -> Measurement:
    """Load `target` with `clients` concurrent clients: `warmup` seconds unmeasured, then `duration`."""
    ctx = multiprocessing.get_context("spawn")
    processes = max(1, min(clients, os.cpu_count() or 1, MAX_PROCESSES))
    groups = [list(range(clients))[i::processes] for i in range(processes)]
    # All processes start their window together, once every one of them has imported and is ready.
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_process_main, daemon=True,
                    args=(target, port, group, warmup, duration, barrier, results))
        for group in groups
    ]
    for worker in workers:
        worker.start()
    measurement = Measurement(label=target.label, clients=clients, seconds=duration)
    try:
        for _ in workers:
            measurement.merge(results.get(timeout=warmup + duration + REQUEST_TIMEOUT + 60))
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return measurement


def _process_main(target: Target, port: int, client_ids: list[int], warmup: float, duration: float,
                  barrier: Any, results: Any) -> None:
    """One load process: a thread per client, all sharing one measurement window."""
    barrier.wait()
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    parts = [_new_part() for _ in client_ids]
    threads = [threading.Thread(target=_client, args=(target, port, cid, window_start, window_end, part),
                                daemon=True)
               for cid, part in zip(client_ids, parts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = _new_part()
    for part in parts:
        for key in ("ok", "errors", "ok_total"):
            total[key] += part[key]
        total["latencies_ms"].extend(part["latencies_ms"])
        total["error_samples"].extend(part["error_samples"])
    results.put(total)


def _new_part() -> dict[str, Any]:
    return {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}


def _client(target: Target, port: int, client_id: int, window_start: float, window_end: float,
            part: dict[str, Any]) -> None:
    """A closed-loop client: request, read the whole answer, repeat until the window closes.

    A request counts (rate and latency) when it completes inside the window; warm-up requests
    only warm the server's workers and connections.
    """
    rng = random.Random(client_id)
    headers = {"Accept": "application/json", "Host": f"{HOST}:{port}"}
    if target.tokens:
        headers["Authorization"] = f"Bearer {target.tokens[client_id % len(target.tokens)]}"
    if target.body is not None:
        headers["Content-Type"] = "application/json"
    # http.client reconnects by itself when the server closes (gunicorn's sync workers always do).
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= window_end:
                break
            if target.idempotency_keys:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            started = time.perf_counter()
            status, detail = _send(conn, target, rng.choice(target.paths), headers)
            finished = time.perf_counter()
            if status == target.expected_status:
                part["ok_total"] += 1
            if not window_start <= finished <= window_end:
                continue
            if status == target.expected_status:
                part["ok"] += 1
                part["latencies_ms"].append((finished - started) * 1000)
            else:
                part["errors"] += 1
                if len(part["error_samples"]) < ERROR_SAMPLES:
                    part["error_samples"].append(f"{status}: {detail.decode(errors='replace')}")
    finally:
        conn.close()


def _send(conn: http.client.HTTPConnection, target: Target, path: str,
          headers: dict[str, str]) -> tuple[int | None, bytes]:
    """One request: (status, start of the body), or (None, the error) when the connection failed."""
    try:
        conn.request(target.method, path, body=target.body, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body[:200]
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return None, repr(exc).encode()
