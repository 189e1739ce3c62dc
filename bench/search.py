"""Search and home-page benchmarks: search quality over the demo catalogue, search and suggestion
speed over a 10,000-product catalogue, and the decorated home page uncached and cached.

    python -m bench.search                 # everything, about 2 minutes
    python -m bench.search --quality-only  # the quality cases only, about 20 s
    python -m bench.search --json out.json

1. **Quality** (bench/search_cases.py, 100+ queries with the products a shopper expects: words,
   partial words, pinyin, initials, typos, synonyms, brands, attributes) over the demo catalogue
   (shop.demo.catalog, built without pictures): precision@5 (expected products among the first
   five, out of min(5, expected)) and MRR (1 / rank of the first expected product, 0 past 10),
   overall and per kind, and the queries that scored below 1. Grow the cases when a search goes wrong.
2. **Speed**: 10,000 more products named from the demo's words (brand, words, spec), indexed by
   the same rebuild the nightly job runs (its time is reported). gunicorn as in `python -m bench`;
   8 clients; every figure is a ratio to a baseline of the same run: search req/s ÷ the plain
   product list's req/s (uncached, `?nocache=`), target ≥ 0.5; p99 of suggestions; the home page
   (the demo's decorated page) uncached (PAGE_CACHE_SECONDS=0, a second server) and cached ÷ ping.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import database, load
from bench.search_cases import CASES
from bench.server import gunicorn

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SPEED_PRODUCTS = 10_000
QUERIES = ("奶粉", "nf", "naifen", "奶分", "尿不湿", "面膜 补水", "坚果", "kouhong", "保温杯", "婴儿 湿巾",
           "玻尿酸", "饼干", "曲奇", "jg", "四件套", "咖啡")
PREFIXES = ("奶", "nai", "n", "面", "mm", "坚", "kou", "保温", "bw", "婴儿", "曲", "zhi")


def _say(message: str) -> None:
    print(f"bench.search: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ quality


def quality() -> dict[str, Any]:
    """Score every case over the demo catalogue (which must be loaded); returns the figures."""
    from catalog.search.query import product_search
    from tests.catalog.support_search import demo_catalogue

    ids = demo_catalogue()
    key_of = {pk: key for key, pk in ids.items()}
    by_kind: dict[str, list[tuple[float, float]]] = {}
    misses = []
    started = time.perf_counter()
    for query, expected_keys, kind in CASES:
        expected = set(expected_keys.split())
        found = [key_of.get(pk, "?") for pk in
                 product_search(query=query).products[:10].values_list("pk", flat=True)]
        precision = len(expected & set(found[:5])) / min(5, len(expected))
        rank = next((i for i, key in enumerate(found, start=1) if key in expected), None)
        reciprocal = 1 / rank if rank else 0.0
        by_kind.setdefault(kind, []).append((precision, reciprocal))
        if precision < 1 or reciprocal < 1:
            misses.append({"query": query, "kind": kind, "expected": sorted(expected), "found": found[:5],
                           "p@5": round(precision, 2), "rr": round(reciprocal, 2)})
    seconds = time.perf_counter() - started
    scores = [score for rows in by_kind.values() for score in rows]
    return {
        "cases": len(CASES),
        "precision_at_5": round(statistics.mean(p for p, _ in scores), 3),
        "mrr": round(statistics.mean(r for _, r in scores), 3),
        "by_kind": {kind: {"cases": len(rows), "precision_at_5": round(statistics.mean(p for p, _ in rows), 3),
                           "mrr": round(statistics.mean(r for _, r in rows), 3)} for kind, rows in by_kind.items()},
        "misses": misses,
        "ms_per_query_in_process": round(seconds * 1000 / len(CASES), 1),
    }


# ------------------------------------------------------------------------------ speed


def load_speed_catalogue(*, count: int = SPEED_PRODUCTS, seed: int = 7) -> float:
    """`count` products named from the demo catalogue's words, with SKUs and stock, then the whole
    index rebuilt; returns the rebuild's seconds."""
    from catalog.models import Category, Product, Sku, Stock
    from catalog.search.index import search_index_rebuild
    from shop.demo.catalog import CATALOG

    rng = random.Random(seed)
    leaves = list(Category.objects.filter(parent__isnull=False))
    names = [(p.name.split(" "), p.subtitle) for top in CATALOG for child in top.children for p in child.products]
    brands = sorted({words[0] for words, _ in names if len(words) > 1})
    products = []
    for n in range(count):
        words, subtitle = rng.choice(names)
        body = " ".join(words[1:] if len(words) > 1 else words)
        products.append(Product(category=rng.choice(leaves), name=f"{rng.choice(brands)} {body} {n % 97 + 1}号",
                                subtitle=subtitle, is_on_shelf=n % 20 != 1, min_price_fen=rng.randrange(990, 59900),
                                sales_count=rng.randint(0, 5000)))
    products = Product.objects.bulk_create(products, batch_size=2000)
    skus = Sku.objects.bulk_create((Sku(product=p, code=f"SPEED-{p.pk}", specs={"规格": "标准装"},
                                        price_fen=p.min_price_fen) for p in products), batch_size=2000)
    Stock.objects.bulk_create((Stock(sku=s, available=0 if s.pk % 10 == 0 else 100) for s in skus), batch_size=2000)
    started = time.perf_counter()
    search_index_rebuild()
    return time.perf_counter() - started


def _row(window: load.Measurement, baseline: load.Measurement) -> dict[str, Any]:
    return {"label": window.label, "req_s": round(window.rate, 1), "p50_ms": round(window.percentile(50), 1),
            "p99_ms": round(window.percentile(99), 1), "errors": window.errors,
            "ratio_to_baseline": round(window.rate / baseline.rate, 3) if baseline.rate else 0.0,
            "error_samples": window.error_samples[:3]}


def speed(*, seconds: float, clients: int, workers: int) -> dict[str, Any]:
    from urllib.parse import quote

    from shop.demo.storefront import load_home_page_demo
    from tests.factories import default_freight

    default_freight()
    _say(f"loading {SPEED_PRODUCTS:,} products and rebuilding the index")
    rebuild = load_speed_catalogue()
    load_home_page_demo()
    database.close_django_connections()
    ping = load.Target("GET /bench/ping", ("/bench/ping",))
    plain = load.Target("GET /api/v1/products/ (uncached)",
                        tuple(f"/api/v1/products/?nocache={n}" for n in range(5000)))
    search = load.Target("GET /api/v1/search/products?q=…",
                         tuple(f"/api/v1/search/products?q={quote(q)}" for q in QUERIES))
    suggest = load.Target("GET /api/v1/search/suggest?q=…",
                          tuple(f"/api/v1/search/suggest?q={quote(p)}" for p in PREFIXES))
    home = load.Target("GET /api/v1/pages/home", ("/api/v1/pages/home",))
    warmup = 1.0
    with gunicorn(workers=workers, log_path=RESULTS_DIR / "gunicorn-search.log") as port:
        windows = {t.label: load.run(t, port=port, clients=clients, warmup=warmup, duration=seconds)
                   for t in (ping, plain, search, suggest, home)}
    with gunicorn(workers=workers, log_path=RESULTS_DIR / "gunicorn-search-uncached.log",
                  env={**os.environ, "PAGE_CACHE_SECONDS": "0"}) as port:
        uncached_ping = load.run(ping, port=port, clients=clients, warmup=warmup, duration=seconds)
        uncached_home = load.run(load.Target("GET /api/v1/pages/home (uncached)", home.paths), port=port,
                                 clients=clients, warmup=warmup, duration=seconds)
    base, plain_window = windows[ping.label], windows[plain.label]
    return {
        "products": SPEED_PRODUCTS, "index_rebuild_seconds": round(rebuild, 1),
        "rows": [
            _row(base, base), _row(plain_window, base),
            {**_row(windows[search.label], base),
             "ratio_to_product_list": round(windows[search.label].rate / plain_window.rate, 3)},
            _row(windows[suggest.label], base),
            _row(windows[home.label], base),
            _row(uncached_home, uncached_ping),
        ],
    }


def render(results: dict[str, Any]) -> str:
    lines = []
    q = results.get("quality")
    if q:
        lines.append(f"Search quality: {q['cases']} queries over the demo catalogue — precision@5 "
                     f"{q['precision_at_5']:.3f}, MRR {q['mrr']:.3f} "
                     f"({q['ms_per_query_in_process']} ms/query in process)")
        for kind, row in q["by_kind"].items():
            lines.append(f"  {kind:<10} {row['cases']:>3} queries  P@5 {row['precision_at_5']:.3f}  "
                         f"MRR {row['mrr']:.3f}")
        for miss in q["misses"]:
            lines.append(f"  below 1: {miss['query']!r} ({miss['kind']}) expected {' '.join(miss['expected'])} "
                         f"got {' '.join(miss['found'])} P@5 {miss['p@5']} RR {miss['rr']}")
    s = results.get("speed")
    if s:
        lines.append(f"Speed over {s['products']:,} more products (index rebuilt in {s['index_rebuild_seconds']} s):")
        lines.append(f"  {'endpoint':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'÷ ping':>8}")
        for row in s["rows"]:
            extra = f"  ÷ product list {row['ratio_to_product_list']:.3f}" if "ratio_to_product_list" in row else ""
            errors = f"  errors {row['errors']}" if row["errors"] else ""
            lines.append(f"  {row['label']:<42} {row['req_s']:>8.1f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                         f"{row['ratio_to_baseline']:>8.3f}{extra}{errors}")
        lines.append("  (the uncached home page is measured on a second server with PAGE_CACHE_SECONDS=0, "
                     "against that server's own ping)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    database.configure_django()
    results: dict[str, Any] = {}
    with database.exclusive_run():
        _say(f"database {database.database_name()}: recreate, migrate, load the demo catalogue")
        database.recreate_and_migrate()
        results["quality"] = quality()
        print(render(results), flush=True)
        if not args.quality_only:
            results["speed"] = speed(seconds=args.seconds, clients=args.clients, workers=args.workers)
            print(render({"speed": results["speed"]}), flush=True)
        database.close_django_connections()
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "search.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
