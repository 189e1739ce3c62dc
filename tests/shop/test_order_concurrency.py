"""Many buyers, few units, the real PostgreSQL: stock never goes below zero."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from catalog.errors import InsufficientStock
from catalog.models import Stock, StockMovement
from shop.models import Order
from shop.services.orders import CheckoutInput, LineInput, order_place
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_buyers_for_ten_units_make_exactly_ten_orders():
    # given a SKU with stock 10 and 50 shoppers, each with their own connection
    default_freight()
    sku = SkuFactory.create(stock=10)
    shoppers = [make_shopper() for _ in range(50)]

    # when they all place an order for one unit at the same moment (over HTTP)
    def buy(i: int):
        return shoppers[i].client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                       format="json", HTTP_IDEMPOTENCY_KEY=f"buy-{i}")

    responses = run_concurrently(buy, 50)

    # then exactly ten succeed, the rest get a clear insufficient_stock, and stock ends at zero
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10
    refused = [r.json() for r in responses if r.status_code != 201]
    assert len(refused) == 40
    assert {(r["code"], r["message"]) for r in refused} == {("insufficient_stock", "库存不足")}
    assert {r.status_code for r in responses if r.status_code != 201} == {409}
    assert Order.objects.count() == 10
    assert Stock.objects.get(sku=sku).available == 0
    assert StockMovement.objects.filter(sku=sku).aggregate(s=Sum("delta"))["s"] == 0


def test_mixed_quantities_never_oversell():
    default_freight()
    sku = SkuFactory.create(stock=7)
    shoppers = [make_shopper() for _ in range(20)]

    def buy(i: int):
        return order_place(member=shoppers[i].member,
                           data=CheckoutInput(items=(LineInput(sku.pk, 1 + i % 3),)))

    results = run_concurrently(buy, 20)

    # Seven buyers want a single unit and stock only goes down: if one of them was refused the
    # stock was gone by then, otherwise those seven alone took it all. Either way all 7 sell.
    placed = [r[0] for r in results if isinstance(r, tuple)]
    refused = [r for r in results if not isinstance(r, tuple)]
    assert all(isinstance(r, InsufficientStock) and r.code == "insufficient_stock" for r in refused), refused
    assert len(placed) + len(refused) == 20
    sold = sum(order.lines.get().quantity for order in placed)
    assert sold == 7
    assert sold + Stock.objects.get(sku=sku).available == 7
    assert Stock.objects.get(sku=sku).available == 0
    assert Order.objects.count() == len(placed)


def test_two_skus_in_opposite_orders_do_not_deadlock():
    default_freight()
    a, b = SkuFactory.create(stock=100), SkuFactory.create(stock=100)
    shoppers = [make_shopper() for _ in range(20)]

    def buy(i: int):
        first, second = (a, b) if i % 2 else (b, a)
        return order_place(member=shoppers[i].member,
                           data=CheckoutInput(items=(LineInput(first.pk, 1), LineInput(second.pk, 1))))

    results = run_concurrently(buy, 20)

    assert not [r for r in results if isinstance(r, Exception)]
    assert Stock.objects.get(sku=a).available == 80
    assert Stock.objects.get(sku=b).available == 80


def test_the_same_idempotency_key_sent_concurrently_makes_one_order():
    default_freight()
    sku = SkuFactory.create(stock=10)
    shopper = make_shopper()

    def buy(i: int):
        return shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                   format="json", HTTP_IDEMPOTENCY_KEY="double-tap")

    responses = run_concurrently(buy, 8)

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["order_no"] for r in responses}) == 1
    assert Order.objects.count() == 1
    assert Stock.objects.get(sku=sku).available == 9
