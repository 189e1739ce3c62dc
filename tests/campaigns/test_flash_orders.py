"""Flash sales through the order API: the rush, the per-member limit, the unpaid timeout.

POST /api/v1/orders/ with items [{"sku_id", "quantity", "flash_item_id"}] prices the line at the
flash price and takes flash allowance and stock (campaigns.services.flash.flash_reserve) inside
order placement; the auto-cancel job gives them back. Real threads, one connection each.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import FlashItem, FlashPurchase, FlashReservation
from campaigns.services.flash import flash_release
from catalog.models import Stock, StockMovement
from payments.models import Payment
from shop.models import Order, OrderStatus
from shop.services.payments import order_cancel_expired
from tests.concurrency import run_concurrently
from tests.factories import FlashItemFactory, FlashSessionFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


def _order(shopper, item: FlashItem, *, key: str, quantity: int = 1):
    return shopper.client.post(
        "/api/v1/orders/", {"items": [{"sku_id": item.sku_id, "quantity": quantity, "flash_item_id": item.pk}]},
        format="json", HTTP_IDEMPOTENCY_KEY=key)


def _left(item: FlashItem) -> int:
    return FlashItem.objects.get(pk=item.pk).stock_left


def test_rush_200_buyers_for_20_units_over_http():
    # given 20 flash units (¥99 → ¥49, one per member) of a SKU with 100 in stock, and 200 shoppers
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=100)
    item = FlashItemFactory.create(sku=sku, flash_price_fen=4900, stock_total=20, per_member_limit=1)
    shoppers = [make_shopper() for _ in range(200)]

    # when all of them order one unit at the same moment
    responses = run_concurrently(lambda i: _order(shoppers[i], item, key=f"rush-{i}"), 200)

    # then exactly 20 orders; 180 clear flash_sold_out refusals; no counter goes wrong
    errors = [r for r in responses if not hasattr(r, "status_code")]
    assert errors == []
    assert sorted({r.status_code for r in responses}) == [201, 409]
    assert [r.status_code for r in responses].count(201) == 20
    refused = [r.json() for r in responses if r.status_code != 201]
    assert len(refused) == 180
    assert {(r["code"], r["message"]) for r in refused} == {("flash_sold_out", "已抢光")}
    assert Order.objects.count() == 20
    assert _left(item) == 0
    assert Stock.objects.get(sku=sku).available == 100 - 20
    assert sorted(StockMovement.objects.filter(sku=sku).values_list("delta", flat=True)) == [-1] * 20 + [100]
    assert FlashPurchase.objects.count() == 20
    assert set(FlashPurchase.objects.values_list("quantity", flat=True)) == {1}
    winners = {r.json()["order_no"] for r in responses if r.status_code == 201}
    assert set(FlashReservation.objects.values_list("order__order_no", flat=True)) == winners
    # every winner paid the flash price for the goods
    assert {o.lines.get().payable_fen for o in Order.objects.all()} == {4900}


@pytest.mark.parametrize("limit", [1, 2])
def test_one_member_firing_ten_orders_at_once_over_http_gets_the_limit(limit):
    default_freight()
    sku = SkuFactory.create(stock=100)
    item = FlashItemFactory.create(sku=sku, per_member_limit=limit)
    shopper = make_shopper()

    responses = run_concurrently(lambda i: _order(shopper, item, key=f"tap-{i}"), 10)

    assert [r.status_code for r in responses].count(201) == limit
    assert {r.json()["code"] for r in responses if r.status_code != 201} == {"flash_limit_exceeded"}
    assert FlashPurchase.objects.get(item=item, member=shopper.member).quantity == limit
    assert _left(item) == 20 - limit
    assert Stock.objects.get(sku=sku).available == 100 - limit


@pytest.fixture
def unpaid_flash_order(mall):
    """An unpaid flash order for 2 units (session timeout 7 minutes); the shopper opened the pay sheet."""
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=100)
    session = FlashSessionFactory.create(unpaid_timeout_minutes=7)
    item = FlashItemFactory.create(sku=sku, session=session, per_member_limit=2)
    shopper = make_shopper()
    response = _order(shopper, item, key="flash-1", quantity=2)
    assert response.status_code == 201, response.json()
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert shopper.client.post(f"/api/v1/orders/{order.order_no}/pay").status_code == 200
    return shopper, order, item


def test_a_flash_order_must_be_paid_within_the_sessions_timeout(unpaid_flash_order):
    shopper, order, item = unpaid_flash_order

    assert abs(order.expires_at - order.created_at - dt.timedelta(minutes=7)) < dt.timedelta(seconds=2)
    body = shopper.client.get(f"/api/v1/orders/{order.order_no}/").json()
    assert dt.datetime.fromisoformat(body["expires_at"]) == order.expires_at
    assert _left(item) == 18
    assert FlashPurchase.objects.get(item=item, member=shopper.member).quantity == 2


def test_the_auto_cancel_gives_flash_stock_allowance_and_stock_back_once(unpaid_flash_order, sandbox):
    # given the flash order's deadline has passed
    shopper, order, item = unpaid_flash_order
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    # when the auto-cancel job runs, twice
    first = order_cancel_expired()
    second = order_cancel_expired()

    # then the order is cancelled once and everything it held comes back once
    assert first == {"cancelled": 1, "paid": 0, "failed": 0}
    assert second == {"cancelled": 0, "paid": 0, "failed": 0}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert sandbox.trade(order.order_no)["state"] == "CLOSED"
    assert Payment.objects.get(out_trade_no=order.order_no).status == "closed"
    assert _left(item) == 20
    assert FlashPurchase.objects.get(item=item, member=shopper.member).quantity == 0
    assert FlashReservation.objects.filter(order=order, released_at__isnull=False).count() == 1
    assert Stock.objects.get(sku=item.sku).available == 100
    assert StockMovement.objects.filter(reference=order.order_no, reason="order_release").count() == 1
    assert flash_release(order_id=order.pk) == 0
    assert _left(item) == 20
    # and the member may buy the flash item again
    assert _order(shopper, item, key="flash-2", quantity=2).status_code == 201
    assert _left(item) == 18


def test_two_auto_cancel_runs_at_once_give_back_once(unpaid_flash_order, sandbox):
    shopper, order, item = unpaid_flash_order
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    results = run_concurrently(lambda i: order_cancel_expired(), 2)

    assert all(isinstance(r, dict) for r in results), results
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert _left(item) == 20
    assert FlashPurchase.objects.get(item=item, member=shopper.member).quantity == 0
    assert Stock.objects.get(sku=item.sku).available == 100


def test_the_shopper_cancelling_gives_it_back_too(unpaid_flash_order):
    shopper, order, item = unpaid_flash_order

    first = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")
    second = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert _left(item) == 20
    assert FlashPurchase.objects.get(item=item, member=shopper.member).quantity == 0
    assert Stock.objects.get(sku=item.sku).available == 100


def test_a_flash_item_of_a_session_not_running_is_refused_and_changes_nothing():
    default_freight()
    sku = SkuFactory.create(stock=100)
    now = timezone.now()
    item = FlashItemFactory.create(sku=sku, session=FlashSessionFactory.create(starts_at=now + dt.timedelta(hours=1)))
    shopper = make_shopper()

    response = _order(shopper, item, key="early")

    assert response.status_code == 409
    assert response.json()["code"] == "flash_not_active"
    assert Order.objects.count() == 0
    assert _left(item) == 20
    assert Stock.objects.get(sku=sku).available == 100
    assert FlashPurchase.objects.count() == 0
