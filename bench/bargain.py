"""砍价 help rate on one launch: 50 clients calling bargain_help() on the same launch at once.

Each client is a thread on its own database connection (as a gunicorn worker would be) helping
with a fresh member each time (a member helps a launch once), all on one launch that needs more
helpers than any run gives it: what is measured is the rate of cuts on one hot launch row (every
help locks it for its transaction), against the bare conditional `UPDATE … SET current_price_fen
= current_price_fen - 1 WHERE … > floor` in autocommit from as many connections on another row.
The check after the run: the cuts form one unbroken sequence (seq 1..n), every cut starts from the
price the one before left, the price never went below the floor, and the launch's counters agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import threading
import time
import uuid
from typing import Any

from bench.load import Measurement

HELPERS_NEEDED = 30_000  # PositiveSmallIntegerField: at most 32,767; more than any run gives
START_FEN = 10**12
MEMBERS_PER_CLIENT = 400
RAW_CUT = ("UPDATE campaigns_bargainlaunch SET current_price_fen = current_price_fen - 1 "
           "WHERE id = %s AND current_price_fen > floor_price_fen + 1")


def run(*, clients: int = 50, duration: float = 5.0, warmup: float = 1.0) -> dict[str, Any]:
    """Helps per second, p50/p99, errors, the raw UPDATE's rate and the ratio, and the sequence check."""
    launch_no, helpers = _launch(clients)
    raw_launch_no, _ = _launch(0)
    raw = _raw(raw_launch_no, clients=clients, warmup=warmup, duration=duration)
    helps = _helps(launch_no, helpers, warmup=warmup, duration=duration)
    return {
        "clients": clients, "helps_per_s": round(helps.rate, 1), "p50_ms": round(helps.percentile(50), 2),
        "p99_ms": round(helps.percentile(99), 2), "errors": helps.errors, "error_samples": helps.error_samples,
        "raw_updates_per_s": round(raw.rate, 1),
        "ratio_to_raw_updates": round(helps.rate / raw.rate, 4) if raw.rate else 0.0,
        "consistency": _check(launch_no),
    }


def _launch(clients: int) -> tuple[str, list[list[int]]]:
    """A running activity with one launch needing HELPERS_NEEDED helpers, and clients × MEMBERS_PER_CLIENT
    fresh members to help it (each client helps with its own)."""
    from django.utils import timezone

    from campaigns.models import BargainActivity
    from campaigns.services.bargain import bargain_launch
    from catalog.models import Sku
    from members.models import Member

    run_id = uuid.uuid4().hex[:8]
    now = timezone.now()
    sku = Sku.objects.order_by("pk").first() or _sku()
    activity = BargainActivity.objects.create(
        name=f"bench 砍价 {run_id}", sku=sku, start_price_fen=START_FEN, floor_price_fen=1,
        helpers_needed=HELPERS_NEEDED, helps_per_helper=1, stock_total=1, stock_left=1,
        starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(days=1))
    launcher = Member.objects.create(openid=f"bench-bargain-{run_id}-launcher")
    launch, _ = bargain_launch(member_id=launcher.pk, activity_id=activity.pk)
    members = Member.objects.bulk_create(Member(openid=f"bench-bargain-{run_id}-{i}", nickname=f"帮砍{i}")
                                         for i in range(clients * MEMBERS_PER_CLIENT))
    ids = [m.pk for m in members]
    return launch.launch_no, [ids[i::clients] for i in range(clients)] if clients else []


def _sku() -> Any:
    """A SKU for a run on an empty bench database (python -m bench.bargain)."""
    from catalog.models import Category, Product, Sku

    category = Category.objects.create(name="bench 砍价")
    product = Product.objects.create(category=category, name="bench 砍价商品", is_on_shelf=True)
    return Sku.objects.create(product=product, code="BENCH-BARGAIN", specs={"规格": "砍价装"}, price_fen=19900,
                              cost_fen=5000)


def _helps(launch_no: str, helpers: list[list[int]], *, warmup: float, duration: float) -> Measurement:
    from django.db import connection

    from campaigns.services.bargain import bargain_help

    measurement = Measurement(label="bargain_help()", clients=len(helpers), seconds=duration)
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    lock = threading.Lock()
    barrier = threading.Barrier(len(helpers))

    def client(member_ids: list[int]) -> None:
        part: dict[str, Any] = {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}
        pool = iter(member_ids)
        try:
            barrier.wait()
            for member_id in itertools.takewhile(lambda _: time.perf_counter() < window_end, pool):
                started = time.perf_counter()
                try:
                    bargain_help(helper_id=member_id, launch_no=launch_no)
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

    # Each helper helps once, so the daily caps never bind; every help still takes its allowance rows.
    threads = [threading.Thread(target=client, args=(ids,)) for ids in helpers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measurement


def _raw(launch_no: str, *, clients: int, warmup: float, duration: float) -> Measurement:
    import psycopg

    from bench import database
    from campaigns.models import BargainLaunch

    launch_id = BargainLaunch.objects.get(launch_no=launch_no).pk
    measurement = Measurement(label="raw UPDATE current_price_fen", clients=clients, seconds=duration)
    window_start = time.perf_counter() + warmup
    window_end = window_start + duration
    lock = threading.Lock()

    def client() -> None:
        part: dict[str, Any] = {"ok": 0, "errors": 0, "ok_total": 0, "latencies_ms": [], "error_samples": []}
        with psycopg.connect(**database.conninfo(), autocommit=True) as conn:
            while time.perf_counter() < window_end:
                started = time.perf_counter()
                ok = conn.execute(RAW_CUT, [launch_id]).rowcount == 1
                finished = time.perf_counter()
                part["ok_total"] += ok
                if window_start <= finished <= window_end:
                    part["ok" if ok else "errors"] += 1
                    part["latencies_ms"].append((finished - started) * 1000)
        with lock:
            measurement.merge(part)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measurement


def _check(launch_no: str) -> str:
    from campaigns.models import BargainHelp, BargainLaunch

    launch = BargainLaunch.objects.get(launch_no=launch_no)
    cuts = list(BargainHelp.objects.filter(launch=launch).order_by("seq").values_list("seq", "cut_fen",
                                                                                      "price_after_fen"))
    price = launch.start_price_fen
    for expected_seq, (seq, cut, after) in enumerate(cuts, start=1):
        price -= cut
        if seq != expected_seq or after != price or cut < 1:
            return f"MISMATCH at cut {expected_seq}: seq {seq}, cut {cut}, price after {after}, expected {price}"
    if (launch.helpers_count, launch.current_price_fen) != (len(cuts), price) or price < launch.floor_price_fen:
        return (f"MISMATCH: launch says {launch.helpers_count} helpers at {launch.current_price_fen}, "
                f"the cuts say {len(cuts)} at {price}")
    return f"ok ({len(cuts)} cuts in one sequence, price {price} ≥ floor {launch.floor_price_fen})"


def render(result: dict[str, Any]) -> str:
    return (f"砍价 bargain_help(), {result['clients']} clients on one launch: {result['helps_per_s']:.1f} helps/s "
            f"p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms; raw UPDATE "
            f"{result['raw_updates_per_s']:.1f}/s, ratio {result['ratio_to_raw_updates']:.4f}"
            + (f"  {result['errors']} errors {result['error_samples']}" if result["errors"] else "")
            + f"\n  cuts: {result['consistency']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bargain",
                                     description="Time clients helping one bargain launch, on a fresh bench database.")
    parser.add_argument("--clients", type=int, default=50, help="concurrent helpers (default 50)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds (default 5)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 200:
        parser.error("--clients must be between 1 and 200")
    from bench import database

    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        result = run(clients=args.clients, duration=args.duration)
        database.close_django_connections()
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
