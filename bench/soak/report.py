"""The soak's summary: requests by kind and status, failures inside and outside the database
restart, faults injected, what the settling jobs did, and the invariants. Printed, and written
as JSON beside the logs."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOG_ERROR = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Exit)\b.*)$", re.MULTILINE)
# Django logs every 5xx it answers: "2026-12-06 13:37:14,837 ERROR django.request Internal Server Error: /path"
SERVER_ERROR = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ERROR django\.request (.+?): (/\S*)", re.MULTILINE)
NOTIFY_PATHS = {"/api/v1/payments/wechat/notify": "notify:payment",
                "/api/v1/payments/wechat/refund-notify": "notify:refund"}


def notify_failures(gunicorn_log: Path, trades: list[dict[str, Any]],
                    refunds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """WeChat's notifications to the mall (payments and refunds) that got a 5xx or no answer, as
    failures like the clients'. A 5xx is timed by the server's log line, written as it answered
    (Django logs its time in settings.TIME_ZONE, Shanghai); a notify that got no answer at all by
    the sandbox's record, which has a one-second resolution and may have waited for its timeout."""
    from wechat.sandbox.payments import NOTIFY_TIMEOUT_SECONDS

    failures = []
    text = gunicorn_log.read_text(errors="replace") if gunicorn_log.exists() else ""
    for moment, reason, path in SERVER_ERROR.findall(text):
        if path in NOTIFY_PATHS:
            at = dt.datetime.strptime(moment, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=SHANGHAI).timestamp()
            failures.append({"kind": NOTIFY_PATHS[path], "status": 500, "code": "", "started": at, "ended": at,
                             "sample": reason})
    for kind, records in (("notify:payment", trades), ("notify:refund", refunds)):
        for record in records:
            for delivery in record["deliveries"]:
                if delivery["kind"] != "genuine" or delivery["status"] is not None:
                    continue
                sent = dt.datetime.strptime(delivery["sent_at"], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI).timestamp()
                failures.append({"kind": kind, "status": None, "code": "", "started": sent,
                                 "ended": sent + 1 + NOTIFY_TIMEOUT_SECONDS, "sample": delivery["error"]})
    return failures


def split_by_window(failures: list[dict[str, Any]],
                    windows: list[tuple[float, float]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(failures that overlap a database restart window, the others)."""
    inside, outside = [], []
    for failure in failures:
        overlaps = any(failure["started"] <= end and failure["ended"] >= start for start, end in windows)
        (inside if overlaps else outside).append(failure)
    return inside, outside


def log_errors(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per log: how many tracebacks, and the distinct exception lines (the first ten)."""
    found = {}
    for name, path in paths.items():
        text = path.read_text(errors="replace") if path.exists() else ""
        lines = Counter(LOG_ERROR.findall(text))
        found[name] = {"tracebacks": text.count("Traceback (most recent call last)"),
                       "exceptions": [f"{n}× {line[:200]}" for line, n in lines.most_common(10)]}
    return found


def render(summary: dict[str, Any]) -> str:
    """The summary as text, for the terminal and the note."""
    meta = summary["meta"]
    out = [f"soak: {meta['minutes']:g} min of load ({meta['started_at']}), {meta['shoppers']} shoppers in "
           f"{meta['processes']} processes + 2 console operators; gunicorn {meta['gunicorn_workers']} sync workers, "
           f"Celery worker -c {meta['worker_concurrency']} and beat on the PostgreSQL broker, WeChat sandbox; "
           f"database {meta['database']}; git {meta['git']}", ""]
    out.append("requests by kind (status: count)")
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for key, n in summary["requests"].items():
        kind, status = key.rsplit(" ", 1)
        by_kind[kind][status] += n
    for kind in sorted(by_kind):
        statuses = by_kind[kind]
        out.append(f"  {kind:<26}{sum(statuses.values()):>7}   "
                   + "  ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    out.append("responses by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(summary["statuses"].items())))
    out.append("4xx by code: " + ", ".join(f"{key} ×{n}" for key, n in summary["refusals"].items()))
    failures = summary["failures"]
    out.append(f"5xx or no answer (clients and WeChat's notifies): {failures['in_window']} during the database "
               f"restart window, {failures['outside_window']} other")
    for sample in failures["outside_samples"]:
        out.append(f"  OUTSIDE +{sample['at']:.1f}s {sample['kind']} {sample['status']} {sample['code']} "
                   f"{sample['sample'][:160]!r}")
    if failures["in_window_by_kind"]:
        out.append("  during the restart: " + ", ".join(f"{k} {n}" for k, n in failures["in_window_by_kind"].items()))
    out.append(f"502 upstream_error (WeChat failed and the API said so, by design): {failures['upstream']} "
               + (f"({', '.join(f'{k} {n}' for k, n in failures['upstream_by_kind'].items())})"
                  if failures["upstream_by_kind"] else ""))
    out += ["", "what the shoppers and operators did: "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary["flows"].items()))]
    out += ["", "faults injected"]
    for event in summary["faults"]["events"]:
        extra = {k: v for k, v in event.items() if k not in ("kind", "at", "took")}
        out.append(f"  +{event['at']:.1f}s {event['kind']} ({event['took']:.1f}s){' ' + str(extra) if extra else ''}")
    for start, end in summary["faults"]["db_windows"]:
        out.append(f"  database restart window: +{start:.1f}s .. +{end:.1f}s (incl. grace)")
    wechat = summary["faults"]["wechat"]
    out.append(f"  WeChat sandbox: {wechat.get('total', {})} ({wechat.get('settings', {})})")
    for key, n in sorted(wechat.get("counts", {}).items()):
        out.append(f"    {key}: {n}")
    for error in summary["faults"]["errors"]:
        out.append(f"  INJECTION FAILED: {error}")
    out += ["", f"drain and settle: {summary['settle']['seconds']:.0f}s; jobs did {summary['settle']['jobs']}",
            "processes: " + ", ".join(f"{k} {v}" for k, v in summary["processes"].items())]
    for name, found in summary["logs"].items():
        out.append(f"  {name} log: {found['tracebacks']} traceback(s)")
        out += [f"    {line}" for line in found["exceptions"]]
    out += ["", "invariants"]
    for check in summary["checks"]:
        out.append(f"  [{'PASS' if check['passed'] else 'FAIL'}] {check['name']}: {check['summary']}")
        out += [f"      {p}" for p in check["problems"][:15]]
        if check["problem_count"] > 15:
            out.append(f"      … {check['problem_count'] - 15} more")
    out += ["", f"result: {'PASS' if summary['passed'] else 'FAIL'}"
            + ("" if summary["passed"] else f" ({'; '.join(summary['reasons'])})")]
    return "\n".join(out)


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n")
