"""How cost grows with work: the same request over more data, the same use case over more lines.

In-process, after the HTTP phase (the server has stopped, nothing else runs), with Django's test
client against the bench database, so each figure is a median time per request (ms) and the
report gives it as a ratio to the smallest size, next to the ratio of the data itself:

- the product list (uncached: a query string never seen) and a product page (uncached, random
  ids) at 200, 10,000 and 100,000 products: the catalog is topped up in bulk between sizes;
- order placement with a 1-line and a 20-line cart (the queries each runs, too).

A row whose time grows like its data (or faster) shows a scan: the note under the table says why.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from typing import Any

PRODUCT_SIZES = (200, 10_000, 100_000)
QUICK_PRODUCT_SIZES = (200, 10_000)
SAMPLES = 40  # requests per figure (the first one warms, uncounted)
PLACEMENTS = 25


def run(*, token: str, avoid_sku_ids: tuple[int, ...], quick: bool = False) -> dict[str, Any]:
    """{"catalog": [{products, list_ms, detail_ms, list_queries, detail_queries}], "placement": {...}}."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    rows = []
    for size in QUICK_PRODUCT_SIZES if quick else PRODUCT_SIZES:
        _top_up_products(size)
        ids = _on_shelf_ids()
        rng = random.Random(size)
        list_ms, list_queries = _timed(client, [f"/api/v1/products/?nocache=g{size}-{n}" for n in range(SAMPLES)])
        detail_ms, detail_queries = _timed(
            client, [f"/api/v1/products/{rng.choice(ids)}/?nocache=g{size}-{n}" for n in range(SAMPLES)])
        rows.append({"products": size, "list_ms": list_ms, "detail_ms": detail_ms,
                     "list_queries": list_queries, "detail_queries": detail_queries})
    return {"catalog": rows, "placement": _placement(token, avoid_sku_ids)}


def _timed(client: Any, paths: list[str]) -> tuple[float, int]:
    """Median ms over `paths` after one warm-up request, and the queries of the last one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(paths[0])
    times = []
    queries = 0
    for path in paths[1:]:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"growth bench: {path} answered {response.status_code}")
        queries = len(captured.captured_queries)
    return round(statistics.median(times), 2), queries


def _placement(token: str, avoid_sku_ids: tuple[int, ...]) -> dict[str, Any]:
    """1-line and 20-line carts of plentiful SKUs (not the load's hot ones, whose stock the
    consistency checks count), placed PLACEMENTS times each by one member."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Sku, Stock

    sku_ids = list(Sku.objects.filter(is_active=True, product__is_on_shelf=True).exclude(pk__in=avoid_sku_ids)
                   .order_by("id").values_list("pk", flat=True)[:20])
    Stock.objects.filter(sku_id__in=sku_ids).update(available=10**8)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    figures: dict[str, Any] = {}
    for lines in (1, 20):
        body = json.dumps({"items": [{"sku_id": s, "quantity": 1} for s in sku_ids[:lines]]})
        times, queries = [], 0
        for n in range(PLACEMENTS + 1):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.post("/api/v1/orders/", data=body, content_type="application/json",
                                       headers={"Idempotency-Key": uuid.uuid4().hex})
                elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                raise RuntimeError(f"growth bench: a {lines}-line order answered {response.status_code}")
            if n:  # the first one warms
                times.append(elapsed)
                queries = len(captured.captured_queries)
        figures[f"lines_{lines}"] = {"ms": round(statistics.median(times), 2), "queries": queries}
    return figures


def _on_shelf_ids() -> list[int]:
    from catalog.models import Product

    return list(Product.objects.filter(is_on_shelf=True).values_list("pk", flat=True))


def _top_up_products(size: int) -> None:
    """Add plain on-shelf products (2 SKUs each, in stock) until the catalog has `size`; ANALYZE."""
    from django.db import connection

    from catalog.models import Category, Product, Sku, Stock

    have = Product.objects.count()
    if have >= size:
        return
    leaves = list(Category.objects.filter(parent__isnull=False).values_list("pk", flat=True))
    for start in range(have, size, 5_000):
        count = min(5_000, size - start)
        products = Product.objects.bulk_create(
            Product(category_id=leaves[n % len(leaves)], name=f"增长商品{start + n:06d}", subtitle="精选",
                    is_on_shelf=True, min_price_fen=1990, sales_count=(start + n) % 5000)
            for n in range(count))
        skus = Sku.objects.bulk_create(
            Sku(product=p, code=f"G{p.pk:07d}-{j}", specs={"规格": f"{j + 1}号"}, price_fen=1990 + 500 * j,
                original_price_fen=2990, cost_fen=900)
            for p in products for j in range(2))
        Stock.objects.bulk_create(Stock(sku=sku, available=100) for sku in skus)
    with connection.cursor() as cursor:
        for table in (Product._meta.db_table, Sku._meta.db_table, Stock._meta.db_table):
            cursor.execute(f'ANALYZE "{table}"')


def render(growth: dict[str, Any]) -> list[str]:
    """The growth table: each figure and its ratio to the smallest size, beside the data's ratio."""
    rows = growth.get("catalog") or []
    if not rows:
        return []
    base = rows[0]
    lines = ["", "growth (in-process, median ms per request; ratio to the smallest size, and the data's own ratio)"]
    for row in rows:
        data = row["products"] / base["products"]
        lines.append(
            f"  {row['products']:>7,} products  data ×{data:<6.0f} list {row['list_ms']:>7.2f} ms "
            f"×{row['list_ms'] / base['list_ms']:.2f} ({row['list_queries']} queries)   "
            f"detail {row['detail_ms']:>7.2f} ms ×{row['detail_ms'] / base['detail_ms']:.2f} "
            f"({row['detail_queries']} queries)")
    p = growth.get("placement")
    if p:
        one, twenty = p["lines_1"], p["lines_20"]
        lines.append(f"  placement: 1 line {one['ms']:.2f} ms ({one['queries']} queries), 20 lines "
                     f"{twenty['ms']:.2f} ms ({twenty['queries']} queries): ×{twenty['ms'] / one['ms']:.2f} "
                     f"for ×20 lines")
    return lines
