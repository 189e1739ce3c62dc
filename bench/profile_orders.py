"""Where order placement spends its time: cProfile over in-process placements.

    python -m bench.profile_orders [--orders 300] [--lines 1] [--top 25] [--sold-out]

Recreates the bench database (as `python -m bench` does), loads the bench catalog, warms up, then
places `--orders` orders of `--lines` lines through the API with Django's test client (the whole
request: authentication, pricing, the transaction, the response) under cProfile, and prints the
functions with the most cumulative and the most own time, and the queries one order runs.
With `--sold-out`, the requests are a flash-sale rush's losers instead: orders of a flash item with
nothing left, each answered 409 `flash_sold_out` (what the rush's p99 is made of).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
import uuid
from typing import Any


def main() -> None:
    from bench import database

    parser = argparse.ArgumentParser(prog="python -m bench.profile_orders")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sold-out", action="store_true", help="profile sold-out flash answers (409) instead")
    args = parser.parse_args()
    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        print(profile(orders=args.orders, lines=args.lines, top=args.top, sold_out=args.sold_out))
        database.close_django_connections()


def profile(*, orders: int, lines: int, top: int, sold_out: bool = False) -> str:
    from django.db import connection
    from django.test import Client

    from bench.catalog import load_catalog
    from bench.flash_sale import load_flash
    from campaigns.models import FlashItem
    from catalog.models import Sku, Stock

    data = load_catalog()
    sku_ids = [data.hot_sku_id, *Sku.objects.exclude(pk=data.hot_sku_id).order_by("id")
               .values_list("pk", flat=True)[: lines - 1]]
    Stock.objects.filter(sku_id__in=sku_ids).update(available=10**8)
    body = json.dumps({"items": [{"sku_id": s, "quantity": 1} for s in sku_ids]})
    token, expected = data.tokens[0], 201
    if sold_out:
        flash = load_flash(product_id=data.product_ids[0], clients=1)
        gone = FlashItem.objects.get(pk=flash.sold_out_item_id)
        body = json.dumps({"items": [{"sku_id": gone.sku_id, "quantity": 1, "flash_item_id": gone.pk}]})
        token, expected = flash.tokens[0], 409
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def place() -> None:
        response = client.post("/api/v1/orders/", data=body, content_type="application/json",
                               headers={"Idempotency-Key": uuid.uuid4().hex})
        if response.status_code != expected:
            raise RuntimeError(f"placement answered {response.status_code}: {response.content[:200]!r}")

    for _ in range(10):
        place()
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)  # an execute wrapper: counts across the request's own connection handling
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        place()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(orders):
        place()
    profiler.disable()
    elapsed = time.perf_counter() - started
    out = io.StringIO()
    out.write(f"{orders} placements of {lines} line(s) in {elapsed:.2f} s under cProfile "
              f"({elapsed / orders * 1000:.2f} ms each); {len(statements)} statements per order\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    out.write("The statements of one order:\n")
    for number, sql in enumerate(statements, 1):
        out.write(f"  {number:2d}. {sql if len(sql) <= 160 else sql[:157] + '...'}\n")
    return out.getvalue()


if __name__ == "__main__":
    main()
