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

from bench import bargain, distribution, growth
from bench.load import Measurement

LIST_DETAIL_TARGET = 0.5  # catalog throughput ≥ half of the minimal DRF endpoint's
ORDERS_TO_MINIMAL_TARGET = 0.5  # placement ≥ half of the minimal write endpoint's orders/s


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
                 queries: int, minimal: list[Measurement] | None = None,
                 minimal_queries: int | None = None) -> dict[str, Any]:
    """Order placement on one hot SKU against the raw conditional-UPDATE rate on the same row and,
    when measured, against the minimal write endpoint (bench/urls.py) on the same row."""
    orders, raw = Measurement.combined(order_windows), Measurement.combined(raw_windows)
    per_round = [_ratio(o.rate, r.rate) for o, r in zip(order_windows, raw_windows, strict=True)]
    extra: dict[str, Any] = {}
    if minimal:
        least = Measurement.combined(minimal)
        per_minimal = [_ratio(o.rate, m.rate) for o, m in zip(order_windows, minimal, strict=True)]
        extra = {
            "minimal_per_s": round(least.rate, 1), "minimal_errors": least.errors,
            "minimal_p50_ms": round(least.percentile(50), 2), "minimal_p99_ms": round(least.percentile(99), 2),
            "minimal_queries": minimal_queries,
            "minimal_ratio_to_raw_updates": round(statistics.median(
                [_ratio(m.rate, r.rate) for m, r in zip(minimal, raw_windows, strict=True)]), 4),
            "ratio_to_minimal": round(statistics.median(per_minimal), 4),
            "ratio_to_minimal_per_round": [round(r, 4) for r in per_minimal],
            "target_ratio_to_minimal": ORDERS_TO_MINIMAL_TARGET,
        }
    return {**extra,
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
    ]
    if "minimal_per_s" in o:
        met = "met" if o["ratio_to_minimal"] >= o["target_ratio_to_minimal"] else "NOT MET"
        lines[-2:-2] = [
            f"  {'POST /bench/minimal-order':<42} {o['minimal_per_s']:>9.1f} orders/s"
            f"  p50 {o['minimal_p50_ms']:.2f} ms  p99 {o['minimal_p99_ms']:.2f} ms"
            f"  {o['minimal_queries']} queries/order"
            f"  (÷ raw {o['minimal_ratio_to_raw_updates']:.4f})"
            + (f"  {o['minimal_errors']} errors" if o["minimal_errors"] else ""),
        ]
        lines.append(f"  ratio orders/s ÷ minimal-order/s: {o['ratio_to_minimal']:.4f} "
                     f"{_spread(o['ratio_to_minimal_per_round'], 4)}  target ≥ {o['target_ratio_to_minimal']}: {met}")
    lines.append(f"  consistency: {results['consistency']}")
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
        if so := f.get("sold_out"):
            lines.append(f"  {'the same rush on a sold-out item (409)':<42} {so['requests_per_s']:>9.1f} answers/s"
                         f"  p50 {so['p50_ms']:.2f} ms  p99 {so['p99_ms']:.2f} ms  {so['queries_per_request']} queries"
                         f"  ratio to ping ({f['clients']} clients) {so['ratio_to_ping']:.3f} "
                         f"{_spread(so['ratio_per_round'])}".rstrip())
    lines += _render_rushes(results.get("flash_rush") or [])
    g = results.get("group_buy")
    if g:
        lines += ["", f"group-buy rush: {g['join']['clients']} members join {g['groups']} groups of "
                      f"{g['group_size']} at once (two seats left in each), then all pay at once"]
        for part in (g["join"], g["pay"]):
            lines.append(f"  {part['label']:<58} {part['per_s']:>8.1f} /s  p50 {part['p50_ms']:.1f} ms  "
                         f"p99 {part['p99_ms']:.1f} ms  ({part['ok']} ok in {part['seconds']:.2f} s"
                         + (f", {part['errors']} errors" if part["errors"] else "") + ")")
            lines += [f"  error sample: {sample}" for sample in part["error_samples"]]
        lines.append(f"  consistency: {g['consistency']}")
    lines += _render_jobs(results.get("jobs") or {})
    lines += growth.render(results.get("growth") or {})
    lines += _render_segments_growth(results.get("jobs") or {})
    lines += _render_issue_table(results)
    for row in [*results["endpoints"], {"endpoint": "POST /api/v1/orders/", **o},
                *([{"endpoint": "POST /api/v1/orders/ (flash)", **f}] if f else [])]:
        for sample in row.get("error_samples") or []:
            lines.append(f"  error sample {row['endpoint']}: {sample}")
    return "\n".join(lines)


def _render_rushes(rushes: list[dict[str, Any]]) -> list[str]:
    """The flash-sale rush bursts: one line of latencies and one of answers and checks per mode."""
    if not rushes:
        return []
    lines = ["", f"flash-sale rush: {rushes[0]['buyers']} members (one order each, released together) for "
                 f"{rushes[0]['units']} units of a fresh item, one per member; without Redis, then with the "
                 f"Redis gate (a second server with REDIS_URL)"]
    for r in rushes:
        if "skipped" in r:
            lines.append(f"  {r['mode']:<11} skipped: {r['skipped']}")
            continue
        lines += [
            f"  {r['mode']:<11} burst {r['seconds']:.2f} s ({r['per_s']:.0f} answers/s)  p50 {r['p50_ms']:.0f} ms  "
            f"p99 {r['p99_ms']:.0f} ms  (target < {r['target_p99_ms']:.0f}: ×{r['ratio_to_target']:.2f});  "
            f"winners p50 {r['winners_p50_ms']:.0f} / p99 {r['winners_p99_ms']:.0f} ms;  "
            f"losers p50 {r['losers_p50_ms']:.0f} / p99 {r['losers_p99_ms']:.0f} ms",
            f"  {'':<11} the same crowd's GET /bench/ping at once just before: {r['ping_seconds']:.2f} s, "
            f"p99 {r['ping_p99_ms']:.0f} ms" + (f" ({r['ping_errors']} errors)" if r["ping_errors"] else "")
            + f"; losers' p99 ÷ ping's: {r['losers_p99_to_ping_p99']:.2f}",
            f"  {'':<11} {r['reached_writes']} reached the write transaction"
            + (f"; {r['other_answers']} other answers" if r["other_answers"] else "")
            + f";  consistency: {r['consistency']}",
        ]
        lines += [f"  {'':<11} other answer: {sample}" for sample in r["other_samples"]]
    return lines


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


def _render_segments_growth(jobs: dict[str, Any]) -> list[str]:
    small, large = jobs.get("segments_small"), jobs.get("segments")
    if not small or not large or not small["evaluate_seconds"]:
        return []
    return [f"  segment job: {small['members']:,} members {small['evaluate_seconds']:.2f} s, "
            f"{large['members']:,} members {large['evaluate_seconds']:.2f} s: "
            f"×{large['evaluate_seconds'] / small['evaluate_seconds']:.2f} "
            f"for ×{large['members'] / small['members']:.1f} members "
            f"(preview ×{large['preview_seconds'] / max(small['preview_seconds'], 1e-6):.2f})"]


def _render_issue_table(results: dict[str, Any]) -> list[str]:
    """The figures that speak to the aims, in one place: each with its ratio, range and aim."""
    o, f = results["orders"], results.get("flash") or {}
    jobs = results.get("jobs") or {}
    detail = next((r for r in results["endpoints"] if r["endpoint"].startswith("GET /api/v1/products/<id>/ (random")),
                  None)
    miss = next((r for r in results["endpoints"] if r["endpoint"].startswith("GET /api/v1/products/<id>/ (uncached")),
                None)
    rows = [("what", "figure", "ratio (range)", "aim")]
    minimal = (f"{o['ratio_to_minimal']:.3f} {_spread(o['ratio_to_minimal_per_round'])} of minimal-order, "
               if "ratio_to_minimal" in o else "")
    rows.append(("POST /api/v1/orders/, hot SKU", f"{o['orders_per_s']:.0f}/s p99 {o['p99_ms']:.0f} ms, "
                 f"{o['queries_per_request']} queries",
                 f"{minimal}{o['ratio_to_raw_updates']:.4f} {_spread(o['ratio_per_round'], 4)} of raw UPDATEs",
                 "≥ 0.5 of minimal-order; ≤ 12 queries"))
    if f:
        sold = f.get("sold_out") or {}
        rows.append((f"flash placement, {f['clients']} clients", f"{f['orders_per_s']:.0f}/s p50 {f['p50_ms']:.0f} ms "
                     f"p99 {f['p99_ms']:.0f} ms, {f['queries_per_request']} queries",
                     f"{f['ratio_to_raw_updates']:.4f} {_spread(f['ratio_per_round'], 4)} of raw UPDATEs; sold-out "
                     f"{sold.get('ratio_to_ping', 0):.3f} {_spread(sold.get('ratio_per_round') or [0])} of ping",
                     "p99 < 1 s; sold-out at read speed"))
    for r in results.get("flash_rush") or []:
        title = f"flash-sale rush: {r['buyers']} buyers, {r['units']} units, at once ({r['mode']})"
        if "skipped" in r:
            rows.append((title, "skipped", r["skipped"], "p99 < 1 s"))
            continue
        checked = "consistent" if r["consistency"].startswith("ok") else "MISMATCH"
        rows.append((title, f"p99 {r['p99_ms']:.0f} ms (winners {r['winners_p99_ms']:.0f}, losers "
                     f"{r['losers_p99_ms']:.0f}); {r['placed']}×201 {r['sold_out']}×409 in {r['seconds']:.2f} s",
                     f"p99 ÷ 1 s = {r['ratio_to_target']:.2f}; losers' p99 ÷ ping burst's "
                     f"{r['losers_p99_to_ping_p99']:.2f}; {checked}", "p99 < 1 s; losers at read speed"))
    if p := jobs.get("points_spend"):
        rows.append((f"points_spend(), {p['clients']} clients", f"{p['own_member']['spends_per_s']:.0f}/s "
                     f"(one shared member {p['shared_member']['spends_per_s']:.0f}/s)",
                     f"{p['own_member']['ratio_to_raw_updates']:.4f} of raw UPDATEs "
                     f"(shared {p['shared_member']['ratio_to_raw_updates']:.4f})", "≥ 0.1 of raw"))
    if detail and miss:
        rows.append(("product detail (random ids)",
                     f"{detail['requests_per_s']:.0f}/s, {miss['queries_per_request']} queries on a miss",
                     f"{detail['ratio_to_ping']:.3f} {_spread(detail['ratio_per_round'])} of ping "
                     f"(miss {miss['ratio_to_ping']:.3f} {_spread(miss['ratio_per_round'])})",
                     "≥ 0.5 of ping; ≤ 3 queries on a miss"))
    if b := jobs.get("birthdays"):
        rows.append((f"birthday job, {b['members']:,} members, {b['due_today']:,} due",
                     f"{b['seconds']:.1f} s ({b['greetings_per_second']:.1f} greetings/s, "
                     f"{b['ms_per_greeting']:.1f} ms each; poster on first view "
                     f"{b['first_view_poster_ms']:.0f} ms)", "one run: no range",
                     "< 60 s"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = ["", "the aims (issue table): same-run ratios; the range is min–max over the rounds"]
    for row in rows:
        out.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
                   + "  " + row[3])
    return out


def _spread(values: list[float], digits: int = 3) -> str:
    """(min–max) of the per-round ratios; empty with a single round, there is nothing to compare."""
    return f"({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else ""


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
