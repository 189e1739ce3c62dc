"""Issue 5, must-be-true #1 over HTTP: two orders spending the same points at the same moment —
one succeeds, the other gets 409 points_insufficient and rolls back whole (no order, its coupon
still available, its stock not taken); the balance never goes negative and equals the ledger sum.
And a cancel racing the auto-cancel job returns the points once.

Real threads, each on its own database connection (tests/concurrency.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponStatus
from catalog.models import Stock, StockMovement
from members.models import Member, PointsEntry, PointsKind
from members.services.points import points_reconcile, points_spend
from shop.models import Order, OrderStatus
from shop.services.orders import order_cancel
from shop.services.payments import order_cancel_expired
from tests.campaigns.support_checkout import give, template
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper
from tests.shop.support_member_price import balance, give_points, ledger_sum

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(shopper) -> APIClient:
    """A client of its own per thread, with the shopper's token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {shopper.token}")
    return client


def test_two_orders_spending_the_whole_balance_at_once_one_succeeds(db):
    # given a member with 1,000 points, two coupons, and a ¥200 SKU with 10 units
    default_freight()
    shopper = make_shopper()
    give_points(shopper.member, 1000)
    sku = SkuFactory.create(price_fen=20000, cost_fen=0, stock=10)
    t = template(threshold_fen=10000, amount_fen=1000)
    coupons = [give(shopper.member, t), give(shopper.member, t)]

    # when two orders, each with its own coupon and all 1,000 points, are placed at the same moment
    def buy(i: int):
        return client_for(shopper).post(
            "/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}], "coupon_ids": [coupons[i].pk],
                                "points": 1000}, format="json")

    responses = run_concurrently(buy, 2)

    # then exactly one order exists; the other got 409 points_insufficient
    assert sorted(r.status_code for r in responses) == [201, 409], [r.json() for r in responses]
    won = next(i for i, r in enumerate(responses) if r.status_code == 201)
    lost = 1 - won
    assert responses[lost].json()["code"] == "points_insufficient"
    assert responses[lost].json()["message"] == "积分不足"
    order = Order.objects.get()
    assert order.order_no == responses[won].json()["order_no"]
    assert (order.points_used, order.points_fen) == (1000, 1000)
    # the balance is 0, never negative, and the ledger adds up to it; one spend, for the order
    assert balance(shopper.member) == 0 == ledger_sum(shopper.member)
    assert list(PointsEntry.objects.filter(kind=PointsKind.SPEND).values_list("reference", "delta")) == [
        (order.order_no, -1000)]
    assert points_reconcile() == []
    # the failed order's coupon is still available and its stock was not taken
    assert Coupon.objects.get(pk=coupons[won].pk).status == CouponStatus.LOCKED
    assert Coupon.objects.get(pk=coupons[lost].pk).status == CouponStatus.AVAILABLE
    assert Stock.objects.get(sku=sku).available == 9
    assert StockMovement.objects.filter(reason="order_reserve").count() == 1


def test_a_spend_committed_while_the_order_is_placed_makes_the_order_fail_and_roll_back(db):
    """The deterministic interleaving: the order's preview-time read saw the points, a concurrent
    spend holds them uncommitted, the order's conditional UPDATE waits, then finds them gone."""
    default_freight()
    shopper = make_shopper()
    give_points(shopper.member, 1000)
    sku = SkuFactory.create(price_fen=20000, cost_fen=0, stock=10)
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1000))
    spent, release = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def other_spend() -> None:
        try:
            with transaction.atomic():
                points_spend(member_id=shopper.member.pk, points=600, reference="elsewhere")
                spent.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def order() -> None:
        try:
            result["response"] = client_for(shopper).post(
                "/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}], "coupon_ids": [coupon.pk],
                                    "points": 1000}, format="json")
        finally:
            connection.close()

    holder = threading.Thread(target=other_spend)
    holder.start()
    assert spent.wait(timeout=30)
    buyer = threading.Thread(target=order)
    buyer.start()
    _wait_for_a_lock_wait()
    release.set()
    holder.join(timeout=30)
    buyer.join(timeout=30)

    response = result["response"]
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "points_insufficient"
    assert not Order.objects.exists()
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.AVAILABLE
    assert Stock.objects.get(sku=sku).available == 10
    assert balance(shopper.member) == 400 == ledger_sum(shopper.member)


def _wait_for_a_lock_wait(timeout: float = 20.0) -> None:
    """Until some backend of this database waits on a lock (the order's UPDATE of the balance)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the order never waited for the member row")


def test_the_shopper_and_the_auto_cancel_job_cancelling_at_once_return_the_points_once(db):
    default_freight()
    shopper = make_shopper()
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=10)
    orders = []
    for _ in range(5):
        response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}],
                                                           "points": 1000}, format="json")
        assert response.status_code == 201, response.json()
        orders.append(Order.objects.get(order_no=response.json()["order_no"]))
    assert balance(shopper.member) == 0
    Order.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    # when, for each order, the shopper cancels while the auto-cancel job runs
    def race(i: int):
        if i == 0:
            return order_cancel_expired()
        return client_for(shopper).post(f"/api/v1/orders/{orders[i - 1].order_no}/cancel", {}, format="json")

    results = run_concurrently(race, 6)

    assert all(not isinstance(r, Exception) for r in results), results
    assert all(r.status_code == 200 for r in results[1:])
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == 5
    returns = PointsEntry.objects.filter(kind=PointsKind.CANCEL_RETURN)
    assert sorted(returns.values_list("reference", flat=True)) == sorted(f"cancel:{o.order_no}" for o in orders)
    assert set(returns.values_list("delta", flat=True)) == {1000}
    assert balance(shopper.member) == 5000 == ledger_sum(shopper.member)
    assert Stock.objects.get(sku=sku).available == 10
    # and once more, afterwards, changes nothing
    for order in orders:
        order_cancel(order=order, reason="again", actor="system")
    assert PointsEntry.objects.filter(kind=PointsKind.CANCEL_RETURN).count() == 5
    assert Member.objects.get(pk=shopper.member.pk).points_balance == 5000
