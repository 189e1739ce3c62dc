"""Points spending under concurrency: 32 clients calling points_spend(), against raw UPDATEs.

Each client is a thread on its own database connection (as a gunicorn worker or a Celery worker
would be) spending one point per operation for a fresh reference, each in its own transaction:
the balance's conditional UPDATE, the FIFO lot it takes from and the ledger row. Two shapes:
every client its own member (many shoppers), and all clients on one member (the worst case: one
hot balance row, the shape of "two orders spending the same points"). The baseline is the bare
`UPDATE members_member SET points_balance = points_balance - 1 WHERE … >= 1` in autocommit from
as many connections on the same rows, measured in the same run.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from bench.load import Measurement

START_POINTS = 1_000_000_000
RAW_TAKE = "UPDATE members_member SET points_balance = points_balance - 1 WHERE id = %s AND points_balance >= 1"


def run(*, clients: int = 32, duration: float = 5.0, warmup: float = 1.0) -> dict[str, Any]:
    """Both shapes; returns ops/s, p50/p99 and the ratio to the raw UPDATE for each, plus a ledger check."""
    own, shared = _members(clients), _members(1)
    raw_own, raw_shared = _bare_members(clients), _bare_members(1)
    results: dict[str, Any] = {"clients": clients}
    shapes = (("own_member", own, raw_own), ("shared_member", shared * clients, raw_shared * clients))
    for shape, member_ids, raw_ids in shapes:
        raw = _raw(raw_ids, warmup=warmup, duration=duration)
        spend = _spends(member_ids, warmup=warmup, duration=duration)
        results[shape] = {
            "spends_per_s": round(spend.rate, 1), "p50_ms": round(spend.percentile(50), 2),
            "p99_ms": round(spend.percentile(99), 2), "errors": spend.errors,
            "raw_updates_per_s": round(raw.rate, 1),
            "ratio_to_raw_updates": round(spend.rate / raw.rate, 4) if raw.rate else 0.0,
        }
    results["ledger"] = _ledger_check(sorted(set(own + shared)))
    return results


def _members(count: int) -> list[int]:
    from members.models import Member
    from members.models.points import PointsKind
    from members.services.points import points_award

    run_id = uuid.uuid4().hex[:8]
    members = Member.objects.bulk_create(Member(openid=f"bench-points-{run_id}-{i}") for i in range(count))
    for member in members:
        points_award(member_id=member.pk, points=START_POINTS, kind=PointsKind.CAMPAIGN, reference=f"bench:{run_id}")
    return [m.pk for m in members]


def _bare_members(count: int) -> list[int]:
    """Members for the raw baseline: a balance and no ledger (the raw UPDATE bypasses it anyway)."""
    from members.models import Member

    run_id = uuid.uuid4().hex[:8]
    return [m.pk for m in Member.objects.bulk_create(
        Member(openid=f"bench-raw-{run_id}-{i}", points_balance=START_POINTS) for i in range(count))]


def _spends(member_ids: list[int], *, warmup: float, duration: float) -> Measurement:
    from django.db import connection

    from members.services.points import points_spend

    measurement = Measurement(label="points_spend()", clients=len(member_ids), seconds=duration)
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    lock = threading.Lock()

    def client(i: int, member_id: int) -> None:
        part: dict[str, Any] = {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}
        n = 0
        try:
            while time.perf_counter() < window_end:
                n += 1
                started = time.perf_counter()
                try:
                    points_spend(member_id=member_id, points=1, reference=f"bench-{i}-{n}")
                    ok = True
                except Exception as exc:  # noqa: BLE001 - counted and sampled, the run goes on
                    ok = False
                    if len(part["error_samples"]) < 3:
                        part["error_samples"].append(repr(exc)[:200])
                finished = time.perf_counter()
                part["ok_total"] += ok
                if window_start <= finished <= window_end:
                    part["ok" if ok else "errors"] += 1
                    if ok:
                        part["latencies_ms"].append((finished - started) * 1000)
        finally:
            connection.close()
        with lock:
            measurement.merge(part)

    threads = [threading.Thread(target=client, args=(i, m)) for i, m in enumerate(member_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measurement


def _raw(member_ids: list[int], *, warmup: float, duration: float) -> Measurement:
    import psycopg

    from bench import database

    measurement = Measurement(label="raw UPDATE points_balance", clients=len(member_ids), seconds=duration)
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    lock = threading.Lock()

    def client(conn: Any, member_id: int) -> None:
        part: dict[str, Any] = {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}
        while time.perf_counter() < window_end:
            started = time.perf_counter()
            updated = conn.execute(RAW_TAKE, (member_id,), prepare=True).rowcount
            finished = time.perf_counter()
            part["ok_total"] += updated
            if window_start <= finished <= window_end:
                part["ok" if updated == 1 else "errors"] += 1
                part["latencies_ms"].append((finished - started) * 1000)
        with lock:
            measurement.merge(part)

    connections = [psycopg.connect(**database.conninfo(), autocommit=True) for _ in member_ids]
    try:
        threads = [threading.Thread(target=client, args=(c, m)) for c, m in zip(connections, member_ids, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for conn in connections:
            conn.close()
    return measurement


def _ledger_check(member_ids: list[int]) -> str:
    """The spending members' balances equal their ledgers' sums."""
    from django.db.models import Sum

    from members.models import Member
    from members.models.points import PointsEntry

    ledger = PointsEntry.objects.filter(member_id__in=member_ids).aggregate(s=Sum("delta"))["s"] or 0
    balance = Member.objects.filter(pk__in=member_ids).aggregate(s=Sum("points_balance"))["s"] or 0
    verdict = "ok" if ledger == balance else "MISMATCH"
    return f"{verdict} (ledger sum {ledger}, balances {balance})"
