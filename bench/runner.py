"""`python -m bench`: set up the bench database, serve it with gunicorn, load it, report ratios.

Every figure that matters is a ratio to a baseline measured in the same run on the same machine
(the minimal DRF endpoint for HTTP reads; raw conditional UPDATEs for order placement), because
the load generator shares the cores with the server and absolute numbers move with the machine.
Endpoints take turns in short rounds (ping, list, filtered list, detail, ping, list, ...) so that
whatever else the machine is doing meanwhile weighs on the baseline and the endpoint alike; the
per-round ratios show how much that noise moved them. Nothing here fails on a missed target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import database, flash_sale, group_buy, growth, load, queries, report, stock_baseline
from bench.catalog import HOT_SKU_STOCK, BenchData, load_catalog
from bench.load import Measurement, Target
from bench.server import BASE_DIR, gunicorn, redis_binary, redis_server

RESULTS_DIR = BASE_DIR / "bench" / "results"
RUSH_WARMUP_S = 3.0  # the gated rush's fresh server: seconds of flash placement before the burst
UNCACHED_PATHS = 200_000  # distinct URLs, far more than a run requests: repeats are rare
LATEST = RESULTS_DIR / "latest.json"


@dataclass(frozen=True)
class Plan:
    """How long and how hard to push."""

    duration: float  # measured seconds per endpoint, over all rounds
    rounds: int  # windows per endpoint, taken in turns with the others
    warmup: float  # unmeasured seconds before each window
    workers: int
    clients: int  # concurrent clients for the catalog reads
    order_clients: int  # concurrent buyers of the hot SKU
    flash_clients: int  # concurrent buyers of the flash-sale item, one member each
    group_clients: int  # members joining the group-buy groups at once
    targeted_members: int  # size of the segment for the targeted-issue job
    job_members: int  # members for the birthday job and segment evaluation
    jobs: bool  # run the batch-job benchmarks (targeted issue, points, birthdays, segments, commissions)
    quick: bool

    @property
    def window(self) -> float:
        return self.duration / self.rounds


def parse_args(argv: list[str] | None) -> tuple[Plan, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Throughput and latency of the catalog API and order placement, as ratios to "
                    "baselines measured in the same run (results also in bench/results/latest.json).")
    parser.add_argument("--quick", action="store_true", help="short windows (whole run under ~45 s)")
    parser.add_argument("--duration", type=float,
                        help="measured seconds per endpoint, over all rounds (default 15, quick 3)")
    parser.add_argument("--rounds", type=int, help="windows per endpoint, in turns (default 5, quick 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for reads (default 8)")
    parser.add_argument("--order-clients", type=int, default=32,
                        help="concurrent buyers of the hot SKU, one member each (default 32, at most 64)")
    parser.add_argument("--flash-clients", type=int, default=200,
                        help="concurrent buyers of the flash-sale item, one member each (default 200)")
    parser.add_argument("--group-clients", type=int, default=200,
                        help="members joining 50 groups of 3 at once, then paying at once (default 200)")
    parser.add_argument("--targeted-members", type=int,
                        help="members the targeted coupon issue goes to (default 100000, quick 10000)")
    parser.add_argument("--job-members", type=int,
                        help="members for the birthday job and segment evaluation (default 1100000, the "
                             "issue's size; quick 50000)")
    parser.add_argument("--skip-jobs", action="store_true",
                        help="only the HTTP benchmarks; skip the batch jobs (targeted issue, points, "
                             "birthdays, segments, commission settlement)")
    args = parser.parse_args(argv)
    duration = args.duration or (3.0 if args.quick else 15.0)
    rounds = args.rounds or (1 if args.quick else 5)
    if duration <= 0 or min(rounds, args.workers, args.clients) < 1 or not 1 <= args.order_clients <= 64:
        parser.error("duration, rounds, workers and clients must be positive; order clients at most 64")
    if not 1 <= args.flash_clients <= 250 or not 1 <= args.group_clients <= 250:
        parser.error("flash and group clients must be between 1 and 250 (PostgreSQL max_connections is 300)")
    plan = Plan(duration=duration, rounds=rounds, warmup=1.0, workers=args.workers, clients=args.clients,
                order_clients=args.order_clients, flash_clients=args.flash_clients,
                group_clients=args.group_clients,
                targeted_members=args.targeted_members or (10_000 if args.quick else 100_000),
                job_members=args.job_members or (50_000 if args.quick else 1_100_000),
                jobs=not args.skip_jobs, quick=args.quick)
    return plan, args.json


def main(argv: list[str] | None = None) -> int:
    plan, json_path = parse_args(argv)
    started = time.monotonic()
    started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    database.configure_django()
    with database.exclusive_run():
        _say(f"database {database.database_name()}: recreate, migrate, load the catalog")
        database.recreate_and_migrate()
        data = load_catalog()
        flash = flash_sale.load_flash(product_id=data.product_ids[1], clients=plan.flash_clients)
        groups = group_buy.load_group_buy(product_id=data.product_ids[2], clients=plan.group_clients)
        rush = flash_sale.load_rush(product_id=data.product_ids[3], name="postgresql")
        gated_rush = flash_sale.load_rush(product_id=data.product_ids[3], name="redis-gate")
        reads, orders_target, minimal_target = _targets(data, plan)
        flash_target = flash_sale.flash_target(flash)
        sold_out_target = flash_sale.sold_out_target(flash)
        query_counts = {t.label: queries.count(t)
                        for t in [*reads, orders_target, minimal_target, flash_target, sold_out_target]}
        database.close_django_connections()  # the server and the raw baseline get the database alone

        _say(f"gunicorn with {plan.workers} sync workers; {plan.rounds} round(s) of {plan.window:g}s "
             f"windows (+{plan.warmup:g}s warm-up each)")
        with gunicorn(workers=plan.workers, log_path=RESULTS_DIR / "gunicorn.log") as port:
            read_windows = _read_rounds(reads, port, plan)
            raw_windows, minimal_windows, order_windows = _order_rounds(orders_target, minimal_target, data,
                                                                        port, plan)
            flash_raw, flash_windows, sold_windows, flash_pings = _flash_rounds(
                flash_target, sold_out_target, reads[0], flash, port, plan)
            _say(f"flash-sale rush: {flash_sale.RUSH_BUYERS} members order {flash_sale.RUSH_UNITS} units at once "
                 f"(no Redis)")
            rush_burst, rush_pings, rush_writes = flash_sale.run_rush(rush, port=port)
            _say(f"group-buy rush: {plan.group_clients} members join {group_buy.GROUPS} groups of "
                 f"{group_buy.GROUP_SIZE} at once, then pay at once")
            group_join, group_pay = group_buy.run(groups, port=port)

        consistency = _check_consistency(data, raw_windows, minimal_windows, order_windows)
        flash_consistency = flash_sale.check_consistency(
            flash, orders_created=sum(w.ok_total for w in flash_windows),
            raw_taken=sum(w.ok_total for w in flash_raw))
        group_consistency = group_buy.check_consistency(groups, paid=group_pay.ok(200))
        rushes = [flash_sale.rush_block(rush, rush_burst, rush_pings, reached_writes=rush_writes),
                  _gated_rush(gated_rush, flash, plan)]
        _say("growth: the catalog at more products, placement with 1 and 20 lines (in-process)")
        growth_figures = growth.run(token=data.tokens[-1], avoid_sku_ids=(data.hot_sku_id, flash.sku_id),
                                    quick=plan.quick)
        jobs = _jobs(plan) if plan.jobs else {}
        database.close_django_connections()
    results = _results(plan, reads, read_windows, raw_windows, order_windows, query_counts,
                       minimal_windows=minimal_windows,
                       started_at=started_at, consistency=consistency)
    results["flash"] = {**report.orders_block(flash_windows, flash_raw,
                                              queries=query_counts[flash_target.label]),
                        "consistency": flash_consistency,
                        "sold_out": report.endpoint_row(sold_windows, flash_pings, path="/api/v1/orders/",
                                                        queries=query_counts[sold_out_target.label],
                                                        target=report.LIST_DETAIL_TARGET)}
    results["flash_rush"] = rushes
    results["group_buy"] = group_buy.block(group_join, group_pay, group_consistency)
    results["jobs"] = jobs
    results["growth"] = growth_figures
    print(report.render(results))
    report.write_json(results, LATEST)
    if json_path:
        report.write_json(results, json_path)
    _say(f"done in {time.monotonic() - started:.0f}s; figures in {LATEST.relative_to(BASE_DIR)}"
         + (f" and {json_path}" if json_path else ""))
    return 0


def _targets(data: BenchData, plan: Plan) -> tuple[list[Target], Target, Target]:
    """The reads (ping first: it is the baseline), the order placement and its minimal twin."""
    filtered = f"/api/v1/products/?ordering=-sales&category={data.filter_category_id}"
    reads = [
        Target("GET /bench/ping", ("/bench/ping",)),
        Target("GET /api/v1/products/", ("/api/v1/products/",)),
        Target("GET /api/v1/products/?ordering=-sales&category=", (filtered,)),
        Target("GET /api/v1/products/<id>/ (random ids)",
               tuple(f"/api/v1/products/{pid}/" for pid in data.product_ids)),
        # The same reads with a query string never seen before: every request misses the
        # catalog response cache (core.api.cache), so these rows show what the database costs.
        Target("GET /api/v1/products/ (uncached)",
               tuple(f"/api/v1/products/?nocache={n}" for n in range(UNCACHED_PATHS))),
        Target("GET /api/v1/products/<id>/ (uncached)",
               tuple(f"/api/v1/products/{data.product_ids[n % len(data.product_ids)]}/?nocache={n}"
                     for n in range(UNCACHED_PATHS))),
    ]
    body = json.dumps({"items": [{"sku_id": data.hot_sku_id, "quantity": 1}]}).encode()
    orders = Target("POST /api/v1/orders/", ("/api/v1/orders/",), method="POST", body=body,
                    tokens=data.tokens[: plan.order_clients], idempotency_keys=True, expected_status=201)
    minimal = Target("POST /bench/minimal-order", ("/bench/minimal-order",), method="POST",
                     body=json.dumps({"sku_id": data.hot_sku_id}).encode(),
                     tokens=data.tokens[: plan.order_clients], expected_status=201)
    return reads, orders, minimal


def _read_rounds(reads: list[Target], port: int, plan: Plan) -> list[list[Measurement]]:
    """The reads in turns, round after round; returns each endpoint's windows (result[endpoint][round])."""
    windows: list[list[Measurement]] = [[] for _ in reads]
    for number in range(1, plan.rounds + 1):
        _say(f"round {number}/{plan.rounds}: reads, {plan.clients} clients")
        for target, endpoint_windows in zip(reads, windows, strict=True):
            endpoint_windows.append(load.run(target, port=port, clients=plan.clients, warmup=plan.warmup,
                                             duration=plan.window))
    return windows


def _order_rounds(target: Target, minimal: Target, data: BenchData, port: int,
                  plan: Plan) -> tuple[list[Measurement], list[Measurement], list[Measurement]]:
    """The two baselines (raw UPDATEs, the minimal write endpoint) and order placement in turns;
    returns (raw windows, minimal windows, order windows)."""
    raw_windows, minimal_windows, order_windows = [], [], []
    for number in range(1, plan.rounds + 1):
        _say(f"round {number}/{plan.rounds}: raw UPDATE, POST /bench/minimal-order, then POST /api/v1/orders/; "
             f"{plan.order_clients} clients")
        raw_windows.append(stock_baseline.run(conninfo=database.conninfo(), sku_id=data.hot_sku_id,
                                              clients=plan.order_clients, warmup=plan.warmup,
                                              duration=plan.window))
        minimal_windows.append(load.run(minimal, port=port, clients=plan.order_clients, warmup=plan.warmup,
                                        duration=plan.window))
        order_windows.append(load.run(target, port=port, clients=plan.order_clients, warmup=plan.warmup,
                                      duration=plan.window))
    return raw_windows, minimal_windows, order_windows


def _flash_rounds(target: Target, sold_out: Target, ping: Target, flash: flash_sale.FlashData, port: int,
                  plan: Plan) -> tuple[list[Measurement], list[Measurement], list[Measurement], list[Measurement]]:
    """Raw UPDATEs on the flash SKU's stock row and flash-sale placement, in turns, as many clients
    each; then the sold-out item's refusals beside ping, as many clients each.
    Returns (raw, placement, sold-out, ping) windows."""
    raw_windows, flash_windows, sold_windows, ping_windows = [], [], [], []
    for number in range(1, plan.rounds + 1):
        _say(f"round {number}/{plan.rounds}: raw UPDATE, flash-sale POST /api/v1/orders/, the sold-out item, "
             f"ping; {plan.flash_clients} clients")
        raw_windows.append(stock_baseline.run(conninfo=database.conninfo(), sku_id=flash.sku_id,
                                              clients=plan.flash_clients, warmup=plan.warmup,
                                              duration=plan.window))
        flash_windows.append(load.run(target, port=port, clients=plan.flash_clients, warmup=plan.warmup,
                                      duration=plan.window))
        sold_windows.append(load.run(sold_out, port=port, clients=plan.flash_clients, warmup=plan.warmup,
                                     duration=plan.window))
        ping_windows.append(load.run(ping, port=port, clients=plan.flash_clients, warmup=plan.warmup,
                                     duration=plan.window))
    return raw_windows, flash_windows, sold_windows, ping_windows


def _gated_rush(data: flash_sale.RushData, sustained: flash_sale.FlashData, plan: Plan) -> dict[str, Any]:
    """The rush again with the Redis gate on: a Redis server of its own and a second gunicorn that
    alone sees REDIS_URL (so its caches and rate limits are Redis's too, as in production with
    Redis), warmed for a few seconds with the sustained flash placement, then the burst.
    Without redis-server installed, says so instead."""
    if redis_binary() is None:
        _say("flash-sale rush with the Redis gate: skipped, redis-server is missing (scripts/install_redis.sh)")
        return {"mode": data.name, "buyers": len(data.tokens), "units": flash_sale.RUSH_UNITS,
                "skipped": "redis-server is missing: run scripts/install_redis.sh"}
    with redis_server(log_path=RESULTS_DIR / "redis.log") as url, \
            gunicorn(workers=plan.workers, log_path=RESULTS_DIR / "gunicorn-redis.log",
                     env={**os.environ, "REDIS_URL": url}) as port:
        _say(f"flash-sale rush: {flash_sale.RUSH_BUYERS} members order {flash_sale.RUSH_UNITS} units at once "
             f"(Redis gate; a second gunicorn with REDIS_URL, warmed {RUSH_WARMUP_S:g}s first)")
        # Every worker places a few orders of the sustained item (its check is done), so the burst
        # meets warm workers, as the rush without Redis does after the sustained rows.
        load.run(flash_sale.flash_target(sustained), port=port, clients=plan.workers * 2, warmup=0.0,
                 duration=RUSH_WARMUP_S)
        result, pings, writes = flash_sale.run_rush(data, port=port)
        return flash_sale.rush_block(data, result, pings, reached_writes=writes, gate_url=url)


def _jobs(plan: Plan) -> dict[str, Any]:
    """The batch jobs, timed in this process after the server has stopped (nothing else runs)."""
    from bench import bargain, distribution, greetings, points, segments, targeted_issue

    _say(f"job: targeted coupon issue to {plan.targeted_members:,} members")
    jobs: dict[str, Any] = {"targeted_issue": targeted_issue.run(plan.targeted_members)}
    _say("job: points spending, 32 clients")
    jobs["points_spend"] = points.run(clients=32, duration=max(2.0, plan.window), warmup=plan.warmup)
    small = min(plan.targeted_members, plan.job_members)
    _say(f"job: segment evaluation over {small:,} members (the growth row's first size)")
    jobs["segments_small"] = segments.run(small)
    _say(f"job: birthday greetings over {plan.job_members:,} members")
    jobs["birthdays"] = greetings.run(plan.job_members)
    _say(f"job: segment evaluation over {plan.job_members:,} members")
    jobs["segments"] = segments.run(plan.job_members)
    _say(f"job: commission settlement of {plan.targeted_members:,} frozen commissions")
    jobs["distribution"] = distribution.run(commissions=plan.targeted_members)
    _say("job: 砍价 helps on one launch, 50 clients")
    jobs["bargain_help"] = bargain.run(clients=50, duration=max(2.0, plan.window), warmup=plan.warmup)
    return jobs


def _check_consistency(data: BenchData, raw_windows: list[Measurement], minimal_windows: list[Measurement],
                       order_windows: list[Measurement]) -> str:
    """Every 201 (placement's or the minimal endpoint's) is one order and one unit off the hot SKU,
    and every raw UPDATE one unit more.

    Four orders more than the load placed: the in-process query counts place two of each kind.
    """
    from catalog.models import Stock
    from shop.models import Order

    placed = Order.objects.filter(lines__sku_id=data.hot_sku_id).count()
    expected_orders = sum(w.ok_total for w in [*order_windows, *minimal_windows]) + 4
    available = Stock.objects.get(sku_id=data.hot_sku_id).available
    expected_available = HOT_SKU_STOCK - expected_orders - sum(w.ok_total for w in raw_windows)
    if placed == expected_orders and available == expected_available:
        return f"ok ({placed} orders in the database, hot SKU stock {available})"
    return (f"MISMATCH: {placed} orders in the database for {expected_orders} created; hot SKU stock "
            f"{available}, expected {expected_available}")


def _results(plan: Plan, reads: list[Target], read_windows: list[list[Measurement]],
             raw_windows: list[Measurement], order_windows: list[Measurement], query_counts: dict[str, int],
             *, minimal_windows: list[Measurement], started_at: str, consistency: str) -> dict[str, Any]:
    """All figures as one JSON-able dict; the ping windows (reads[0]) are the reads' baseline."""
    pings = read_windows[0]
    rows = [report.endpoint_row(windows, pings, path=target.paths[0], queries=query_counts[target.label],
                                target=None if i == 0 else report.LIST_DETAIL_TARGET)
            for i, (target, windows) in enumerate(zip(reads, read_windows, strict=True))]
    return {
        "meta": {
            "started_at": started_at, "git": git_revision(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "database": database.database_name(),
            "workers": plan.workers, "clients": plan.clients, "order_clients": plan.order_clients,
            "duration_s": plan.duration, "warmup_s": plan.warmup, "quick": plan.quick,
            "rounds": plan.rounds, "ping_per_round": [round(w.rate, 1) for w in pings],
        },
        "endpoints": rows,
        "orders": report.orders_block(order_windows, raw_windows,
                                      queries=query_counts[order_windows[0].label],
                                      minimal=minimal_windows,
                                      minimal_queries=query_counts[minimal_windows[0].label]),
        "consistency": consistency,
    }


def git_revision() -> str:
    """The commit measured, with "+dirty" when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _say(message: str) -> None:
    print(f"bench: {message}", flush=True)
