"""Turning measurements into the figures: a dict for JSON, and the table printed at the end.

Each endpoint was measured in several windows, each next to a window of its baseline; the ratio
reported is the median of the per-window ratios, so one window disturbed by something else on the
machine does not move it, and the per-window range shows how much disturbance there was.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bench import bargain, distribution
from bench.load import Measurement

LIST_DETAIL_TARGET = 0.5  # catalog throughput ≥ half of the minimal DRF endpoint's


def endpoint_row(windows: list[Measurement], baselines: list[Measurement], *, path: str, queries: int,
                 target: float | None) -> dict[str, Any]:
    """One line of the HTTP table; `target` is the ratio to reach, None for the baseline itself."""
    total = Measurement.combined(windows)
    per_round = [_ratio(w.rate, b.rate) for w, b in zip(windows, baselines, strict=True)]
    ratio = statistics.median(per_round)
    return {
        "endpoint": total.label, "example_path": path, "clients": total.clients, "seconds": total.seconds,
        "requests": total.ok, "errors": total.errors, "error_samples": total.error_samples,
        "requests_per_s": round(total.rate, 1), "ratio_to_ping": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "p50_ms": round(total.percentile(50), 2), "p99_ms": round(total.percentile(99), 2),
        "queries_per_request": queries,
        "target_ratio": target, "target_met": None if target is None else ratio >= target,
    }


def orders_block(order_windows: list[Measurement], raw_windows: list[Measurement], *,
                 queries: int) -> dict[str, Any]:
    """Order placement on one hot SKU against the raw conditional-UPDATE rate on the same row."""
    orders, raw = Measurement.combined(order_windows), Measurement.combined(raw_windows)
    per_round = [_ratio(o.rate, r.rate) for o, r in zip(order_windows, raw_windows, strict=True)]
    return {
        "clients": orders.clients, "seconds": orders.seconds,
        "orders": orders.ok, "errors": orders.errors, "error_samples": orders.error_samples,
        "orders_per_s": round(orders.rate, 1),
        "p50_ms": round(orders.percentile(50), 2), "p99_ms": round(orders.percentile(99), 2),
        "queries_per_request": queries,
        "raw_updates_per_s": round(raw.rate, 1), "raw_errors": raw.errors,
        "raw_p50_ms": round(raw.percentile(50), 2), "raw_p99_ms": round(raw.percentile(99), 2),
        "ratio_to_raw_updates": round(statistics.median(per_round), 4),
        "ratio_per_round": [round(r, 4) for r in per_round],
    }


def _ratio(rate: float, baseline: float) -> float:
    return rate / baseline if baseline else 0.0


def render(results: dict[str, Any]) -> str:
    """The human-readable report."""
    meta = results["meta"]
    pings = ", ".join(f"{r:.0f}" for r in meta["ping_per_round"])
    lines = [
        "",
        f"bench @ {meta['git']}  {meta['started_at']}  cpus={meta['cpu_count']}  "
        f"gunicorn sync workers={meta['workers']}  clients={meta['clients']}",
        f"{meta['duration_s']:g}s measured per endpoint in {meta['rounds']} round(s), "
        f"{meta['warmup_s']:g}s warm-up before each window; ping per round: {pings} req/s",
        "ratio = median over rounds of (endpoint req/s ÷ ping req/s in the same round); range in brackets",
        "",
        f"{'endpoint':<48} {'req/s':>8} {'ratio':>6} {'(range)':>15} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'queries':>7}  target",
    ]
    for row in results["endpoints"]:
        if row["target_ratio"] is None:
            verdict = "(baseline)"
        else:
            verdict = f"≥ {row['target_ratio']}: {'met' if row['target_met'] else 'NOT MET'}"
        errors = f"  {row['errors']} errors" if row["errors"] else ""
        lines.append(f"{row['endpoint']:<48} {row['requests_per_s']:>8.1f} {row['ratio_to_ping']:>6.3f} "
                     f"{_spread(row['ratio_per_round']):>15} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} "
                     f"{row['queries_per_request']:>7}  {verdict}{errors}")
    o = results["orders"]
    lines += [
        "",
        f"order placement: one hot SKU, {o['clients']} clients (one member and token each), "
        f"a fresh Idempotency-Key per order",
        f"  {'raw UPDATE … available >= 1 (autocommit)':<42} {o['raw_updates_per_s']:>9.1f} upd/s   "
        f"p50 {o['raw_p50_ms']:.2f} ms  p99 {o['raw_p99_ms']:.2f} ms",
        f"  {'POST /api/v1/orders/':<42} {o['orders_per_s']:>9.1f} orders/s"
        f"  p50 {o['p50_ms']:.2f} ms  p99 {o['p99_ms']:.2f} ms  {o['queries_per_request']} queries/order"
        + (f"  {o['errors']} errors" if o["errors"] else ""),
        f"  ratio orders/s ÷ raw updates/s: {o['ratio_to_raw_updates']:.4f} "
        f"{_spread(o['ratio_per_round'], 4)}".rstrip(),
        f"  consistency: {results['consistency']}",
    ]
    f = results.get("flash")
    if f:
        lines += [
            "",
            f"flash-sale placement: one activity SKU, {f['clients']} clients (one member each, a fresh "
            f"Idempotency-Key per order)",
            f"  {'raw UPDATE … available >= 1 (autocommit)':<42} {f['raw_updates_per_s']:>9.1f} upd/s   "
            f"p50 {f['raw_p50_ms']:.2f} ms  p99 {f['raw_p99_ms']:.2f} ms",
            f"  {'POST /api/v1/orders/ (flash_item_id)':<42} {f['orders_per_s']:>9.1f} orders/s"
            f"  p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms  {f['queries_per_request']} queries/order"
            + (f"  {f['errors']} errors" if f["errors"] else ""),
            f"  ratio orders/s ÷ raw updates/s: {f['ratio_to_raw_updates']:.4f} "
            f"{_spread(f['ratio_per_round'], 4)}".rstrip(),
            f"  consistency: {f['consistency']}",
        ]
    lines += _render_jobs(results.get("jobs") or {})
    for row in [*results["endpoints"], {"endpoint": "POST /api/v1/orders/", **o},
                *([{"endpoint": "POST /api/v1/orders/ (flash)", **f}] if f else [])]:
        for sample in row.get("error_samples") or []:
            lines.append(f"  error sample {row['endpoint']}: {sample}")
    return "\n".join(lines)


def _render_jobs(jobs: dict[str, Any]) -> list[str]:
    """The batch jobs: seconds and rows per second (their own baselines where they have one)."""
    if not jobs:
        return []
    lines = ["", "batch jobs (in-process, after the server stopped)"]
    if t := jobs.get("targeted_issue"):
        lines.append(f"  targeted coupon issue: {t['members']:,} members in {t['seconds']:.2f} s "
                     f"({t['rows_per_second']:,.0f} members/s)")
    if p := jobs.get("points_spend"):
        for shape, title in (("own_member", "32 members"), ("shared_member", "one shared member")):
            r = p[shape]
            lines.append(f"  points_spend, {p['clients']} clients, {title}: {r['spends_per_s']:.1f} spends/s "
                         f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms; "
                         f"raw UPDATE {r['raw_updates_per_s']:.1f}/s, "
                         f"ratio {r['ratio_to_raw_updates']:.4f}" + (f"  {r['errors']} errors" if r["errors"] else ""))
        lines.append(f"  points ledger: {p['ledger']}")
    for key, title in (("birthdays", "birthday job"), ("segments", "segment evaluation")):
        if row := jobs.get(key):
            lines.append(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    if d := jobs.get("distribution"):
        lines += ["  " + line for line in distribution.render(d).splitlines()]
    if b := jobs.get("bargain_help"):
        lines += ["  " + line for line in bargain.render(b).splitlines()]
    return lines


def _spread(values: list[float], digits: int = 3) -> str:
    """(min–max) of the per-round ratios; empty with a single round, there is nothing to compare."""
    return f"({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else ""


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
