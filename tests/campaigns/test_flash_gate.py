"""The optional Redis gate in front of a flash-sale rush (campaigns.services.flash_gate), against a
real Redis server: Debian's redis-server (scripts/install_redis.sh), started here on a free port.

With REDIS_URL set the gate admits only as many buyers to PostgreSQL as there are units;
PostgreSQL still decides every sale, and units a cancellation gives back are sold again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.db import connection

from campaigns.models import FlashItem, FlashPurchase
from catalog.models import Stock
from shop.models import Order
from shop.services.orders import order_cancel
from tests.concurrency import run_concurrently
from tests.factories import FlashItemFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert shutil.which(binary), "redis-server is missing: run scripts/install_redis.sh"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)  # the server is starting
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def gate(settings, redis_url) -> redis.Redis:
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


def _order(shopper, item: FlashItem, *, key: str):
    return shopper.client.post(
        "/api/v1/orders/", {"items": [{"sku_id": item.sku_id, "quantity": 1, "flash_item_id": item.pk}]},
        format="json", HTTP_IDEMPOTENCY_KEY=key)


def _order_numbers_drawn() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM shop_order_no_seq")
        value, called = cursor.fetchone()
    return value if called else value - 1


def test_rush_200_buyers_for_20_units_with_the_gate_sells_exactly_20(gate, caplog):
    # given 20 flash units of a SKU with 100 in stock, 200 shoppers, and the gate on
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=100)
    item = FlashItemFactory.create(sku=sku, flash_price_fen=4900, stock_total=20, per_member_limit=1)
    shoppers = [make_shopper() for _ in range(200)]
    drawn_before = _order_numbers_drawn()

    # when all of them order one unit at the same moment
    responses = run_concurrently(lambda i: _order(shoppers[i], item, key=f"gate-{i}"), 200)

    # then exactly 20 orders and 180 flash_sold_out, and only the 20 reached PostgreSQL's
    # transaction (each draws an order number first); the gate answered every one of the 200
    # (more threads than the client's pool holds wait for a connection, they do not skip it)
    assert [r for r in responses if not hasattr(r, "status_code")] == []
    assert [r.getMessage() for r in caplog.records if r.name == "campaigns.services.flash_gate"] == []
    assert [r.status_code for r in responses].count(201) == 20
    assert {r.json()["code"] for r in responses if r.status_code != 201} == {"flash_sold_out"}
    assert _order_numbers_drawn() - drawn_before == 20
    assert Order.objects.count() == 20
    assert FlashItem.objects.get(pk=item.pk).stock_left == 0
    assert FlashPurchase.objects.count() == 20
    assert Stock.objects.get(sku=sku).available == 100 - 20
    assert int(gate.get(f"flash:gate:{item.pk}:left")) == 0


def test_units_a_cancellation_gives_back_are_sold_again_through_the_gate(gate):
    default_freight()
    item = FlashItemFactory.create(sku=SkuFactory.create(stock=10), stock_total=1, per_member_limit=1)
    first, second = make_shopper(), make_shopper()
    placed = _order(first, item, key="first")
    assert (placed.status_code, _order(second, item, key="early").json()["code"]) == (201, "flash_sold_out")

    order_cancel(order=Order.objects.get(order_no=placed.json()["order_no"]), reason="不想要了", actor="member")

    assert _order(second, item, key="again").status_code == 201
    assert FlashItem.objects.get(pk=item.pk).stock_left == 0


def test_with_redis_unreachable_postgresql_alone_decides(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    default_freight()
    item = FlashItemFactory.create(sku=SkuFactory.create(stock=10), stock_total=1, per_member_limit=1)

    responses = [_order(make_shopper(), item, key=f"k{i}") for i in range(2)]

    assert [r.status_code for r in responses] == [201, 409]
    assert FlashItem.objects.get(pk=item.pk).stock_left == 0
