"""`python -m bench soak --minutes 10`: the mall under a mixed load while the harness breaks things.

1. A database of its own (`bench_soak`), migrated, with the demo mall in it (catalogue, members,
   orders in every state, coupons and campaigns), stock topped up, the beat schedule synced and
   two console operators.
2. The mall in production shape on loopback (bench.soak.stack): gunicorn, a Celery worker and
   beat on the configured broker, the WeChat sandbox.
3. For the given minutes: shoppers (bench.soak.shoppers) and two console operators
   (bench.soak.operator) use it, while the fault schedule (bench.soak.schedule) kills the worker
   several times, restarts PostgreSQL once and makes WeChat fail or time out a share of calls.
4. The queues drain, the jobs that settle payments and refunds by asking WeChat run for
   everything still open, and the invariants are checked (bench.soak.checks), the nightly points
   and counters reconciles among them.
5. The summary is printed and written to bench/results/soak/summary.json, beside every process's
   log. The exit status is 1 if an invariant failed, a process died, or a request got a 5xx (or
   no answer) outside the database restart's window.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
from collections import Counter
from typing import Any

from bench import database
from bench.runner import git_revision
from bench.server import ping
from bench.soak import checks, report, schedule, shoppers, stack
from bench.soak.operator import approve_remaining, run_console

SUMMARY = "summary.json"
SAMPLES = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak",
        description="Soak the mall (gunicorn, Celery worker and beat, WeChat sandbox) under a mixed load while "
                    "killing the worker, restarting PostgreSQL and failing WeChat calls; then check that nothing "
                    "was lost (summary also in bench/results/soak/summary.json).")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load (default 10)")
    parser.add_argument("--shoppers", type=int, default=12, help="concurrent shoppers (default 12)")
    parser.add_argument("--processes", type=int, default=2, help="processes the shoppers are spread over (default 2)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    parser.add_argument("--worker-kills", type=int,
                        help="times the Celery worker is killed and restarted (default: one per 2 minutes, at least 3)")
    parser.add_argument("--no-db-restart", action="store_true", help="leave PostgreSQL running")
    parser.add_argument("--seed", type=int, default=11, help="seed of the shoppers' and the faults' choices")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or min(args.shoppers, args.processes, args.workers) < 1:
        parser.error("minutes, shoppers, processes and workers must be positive")
    if args.worker_kills is None:
        args.worker_kills = max(3, round(args.minutes / 2))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    duration = args.minutes * 60
    ports, env = stack.environment()
    database.configure_django()
    from django.conf import settings

    from shop.demo.sandbox import sandbox_register_paid_orders
    from wechat.sandbox.client import SandboxControl

    embedded = not os.environ.get("DATABASE_URL")
    started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with database.exclusive_run():
        _say(f"database {database.database_name()}: recreate, migrate, load the demo mall")
        data = stack.prepare(seed=args.seed)
        database.close_django_connections()
        mall = stack.Stack(ports, env, gunicorn_workers=args.workers)
        _say(f"starting the sandbox (:{ports.sandbox}), gunicorn (:{ports.app}), the Celery worker and beat")
        with mall.running():
            control = SandboxControl(mall.sandbox_url)
            sandbox_register_paid_orders(mall.sandbox_url, data.paid_trades)
            injector = schedule.Injector(
                schedule.Settings(duration=duration, worker_kills=args.worker_kills,
                                  restart_database=embedded and not args.no_db_restart,
                                  wechat_delay_seconds=settings.WECHAT_HTTP_TIMEOUT + 2, seed=args.seed),
                stack=mall, sandbox=control)
            load_started = time.time()
            _say(f"load for {args.minutes:g} min: {args.shoppers} shoppers, 2 operators; faults: "
                 + ", ".join(f"+{at:.0f}s {action}" for at, action in injector.plan()))
            console_tally, console_stop = shoppers.Tally(), threading.Event()
            console = threading.Thread(target=run_console, daemon=True, args=(
                mall.app_url, list(data.operators), console_tally, console_stop, args.seed))
            plan = shoppers.Plan(app_port=ports.app, sandbox_port=ports.sandbox, stop_at=load_started + duration,
                                 skus=data.skus, products=data.products, flash_items=data.flash_items,
                                 seed=args.seed)
            processes, results = shoppers.start(plan, shoppers=args.shoppers, processes=args.processes)
            console.start()
            injector.start()
            _follow(injector, load_started, duration)
            load = shoppers.collect(processes, results, timeout=shoppers.REQUEST_TIMEOUT * (shoppers.RETRIES + 2) + 60)
            console_stop.set()
            console.join(timeout=60)
            injector.stop()

            alive = _processes(mall)
            if not mall.worker.alive():
                mall.worker.start()
            _say("load over; the operators review what is left, the queues drain, then what is open is "
                 "settled by asking WeChat")
            settle_started = time.monotonic()
            approve_remaining(mall.app_url, list(data.operators), console_tally)
            checks.drain()
            jobs = checks.settle()
            settle_seconds = time.monotonic() - settle_started
            last_fault = max([e["ended"] for e in injector.events if e["kind"] == "worker_killed_and_restarted"]
                             + [end for _, end in injector.db_windows] + [load_started])
            after_faults = checks.jobs_after_faults(stack.RESULTS_DIR / "worker.log", last_fault=last_fault,
                                                    until=time.time())
            mall.stop_load_processes()
            _say("checking the invariants")
            results_checks = [*checks.run_all(control, since=load_started), after_faults]
            trades, refunds, wechat = control.trades(), control.refunds(), control.faults_report()
    database.close_django_connections()

    summary = _summary(args, started_at, load_started, load, console_tally, injector, trades, refunds, wechat,
                       results_checks, alive, jobs, settle_seconds)
    print(report.render(summary), flush=True)
    path = stack.results_path(SUMMARY)
    report.write_json(summary, path)
    _say(f"summary in {path.relative_to(stack.BASE_DIR)}; logs beside it")
    return 0 if summary["passed"] else 1


def _follow(injector: schedule.Injector, started: float, duration: float) -> None:
    """Say each fault as it happens, until the load's time is up."""
    shown = 0
    while time.time() < started + duration:
        time.sleep(min(5.0, max(0.1, started + duration - time.time())))
        for event in injector.events[shown:]:
            _say(f"+{event['started'] - started:.0f}s {event['kind']}")
        shown = len(injector.events)


def _processes(mall: stack.Stack) -> dict[str, str]:
    """Which of the long-running processes survived the load (the worker is killed on purpose)."""
    return {
        "gunicorn": "alive" if ping(mall.ports.app) == 200 else "DEAD",
        "beat": "alive" if mall.beat.alive() else "DEAD",
        "sandbox": "alive" if mall.sandbox.alive() else "DEAD",
        "worker": f"{'alive' if mall.worker.alive() else 'DEAD'}, started {mall.worker.starts} time(s)",
    }


def _summary(args: argparse.Namespace, started_at: str, load_started: float, load: dict[str, Any],
             console: shoppers.Tally, injector: schedule.Injector, trades: list[dict[str, Any]],
             refunds: list[dict[str, Any]], wechat: dict[str, Any], results_checks: list[checks.Check],
             alive: dict[str, str], jobs: dict[str, int], settle_seconds: float) -> dict[str, Any]:
    requests = Counter(load["requests"]) + console.requests
    flows = Counter(load["flows"]) + console.flows
    statuses: Counter[str] = Counter()
    for key, n in requests.items():
        kind, status = key.rsplit(" ", 1)
        if not kind.startswith("sandbox:"):
            statuses[status] += n
    failures = (load["failures"] + console.failures
                + report.notify_failures(stack.RESULTS_DIR / "gunicorn.log", trades, refunds))
    upstream = load["upstream"] + console.upstream
    inside, outside = report.split_by_window(failures, injector.db_windows)
    reasons = [f"{c.name}: {len(c.problems)} problem(s)" for c in results_checks if not c.passed]
    if outside:
        reasons.append(f"{len(outside)} 5xx / unanswered request(s) outside the database restart")
    reasons += [f"{name} {state}" for name, state in alive.items() if "DEAD" in state and name != "worker"]
    if injector.errors:
        reasons.append(f"{len(injector.errors)} fault injection(s) failed")
    if not statuses.get("200"):
        reasons.append("no request succeeded")
    return {
        "meta": {"started_at": started_at, "git": git_revision(), "minutes": args.minutes, "shoppers": args.shoppers,
                 "processes": args.processes, "gunicorn_workers": args.workers,
                 "worker_concurrency": stack.WORKER_CONCURRENCY, "database": database.database_name(),
                 "soak_settings": stack.SOAK_SETTINGS, "seed": args.seed},
        "requests": dict(requests), "statuses": dict(statuses), "flows": dict(flows),
        "refusals": dict((Counter(load["refusals"]) + console.refusals).most_common()),
        "failures": {
            "in_window": len(inside), "outside_window": len(outside),
            "in_window_by_kind": dict(Counter(f["kind"] for f in inside).most_common()),
            "outside_samples": [{**f, "at": f["started"] - load_started} for f in outside[:SAMPLES]],
            "upstream": len(upstream), "upstream_by_kind": dict(Counter(f["kind"] for f in upstream).most_common()),
        },
        "faults": {
            "events": [{**{k: v for k, v in e.items() if k not in ("started", "ended")},
                        "at": e["started"] - load_started, "took": e["ended"] - e["started"]} for e in injector.events],
            "db_windows": [(start - load_started, end - load_started) for start, end in injector.db_windows],
            "wechat": {k: v for k, v in wechat.items() if k != "injected"}, "errors": injector.errors,
        },
        "settle": {"seconds": settle_seconds, "jobs": jobs},
        "processes": alive,
        "logs": report.log_errors({name: stack.RESULTS_DIR / f"{name}.log"
                                   for name in ("gunicorn", "worker", "beat", "sandbox")}),
        "checks": [c.as_json() for c in results_checks],
        "passed": not reasons, "reasons": reasons,
    }


def _say(message: str) -> None:
    print(f"soak: {message}", flush=True)
