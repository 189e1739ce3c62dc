"""The auto-cancel job: asks WeChat first, closes the trade, cancels once, releases stock once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Stock, StockMovement
from payments.models import Payment
from shop.models import Order, OrderEvent, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_place
from shop.services.payments import order_cancel_expired
from tests.celery_worker import real_worker
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expired(mall):
    """An unpaid order for 3 units whose payment deadline passed; the shopper opened the pay sheet."""
    default_freight()
    sku = SkuFactory.create(price_fen=5000, stock=10)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 3),)))
    assert shopper.client.post(f"/api/v1/orders/{order.order_no}/pay").status_code == 200
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    return shopper, order, sku


def test_expired_order_is_cancelled_once_and_its_wechat_trade_closed(expired, sandbox):
    _, order, sku = expired

    first = order_cancel_expired()
    second = order_cancel_expired()

    assert first == {"cancelled": 1, "paid": 0, "failed": 0}
    assert second == {"cancelled": 0, "paid": 0, "failed": 0}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert Stock.objects.get(sku=sku).available == 10
    assert StockMovement.objects.filter(reference=order.order_no, reason="order_release").count() == 1
    assert OrderEvent.objects.filter(order=order, action="cancelled", actor="system").count() == 1
    assert sandbox.trade(order.order_no)["state"] == "CLOSED"
    assert Payment.objects.get(out_trade_no=order.order_no).status == "closed"


def test_an_order_wechat_reports_paid_is_marked_paid_not_cancelled(expired, sandbox):
    _, order, sku = expired
    sandbox.pay(order.order_no, notify=False)  # paid at WeChat; the notify is late

    assert order_cancel_expired() == {"cancelled": 0, "paid": 1, "failed": 0}

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_fen == order.payable_fen
    assert Stock.objects.get(sku=sku).available == 7
    assert sandbox.trade(order.order_no)["state"] == "SUCCESS"
    # the notify that finally arrives is a no-op
    late = sandbox.notify(order.order_no)
    assert late["deliveries"][0]["acknowledged"] is True
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1


def test_orders_not_yet_expired_are_left_alone(mall):
    default_freight()
    sku = SkuFactory.create(stock=5)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))

    assert order_cancel_expired() == {"cancelled": 0, "paid": 0, "failed": 0}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_an_order_never_sent_to_wechat_is_cancelled_without_asking(mall, sandbox):
    default_freight()
    sku = SkuFactory.create(stock=5)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 2),)))
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert order_cancel_expired()["cancelled"] == 1
    assert Stock.objects.get(sku=sku).available == 5
    assert sandbox.stats().get("orderquery", 0) == 0


def test_paying_after_the_deadline_is_refused(expired):
    shopper, order, _ = expired
    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/pay")
    assert response.status_code == 409
    assert response.json()["code"] == "order_expired"


def test_the_beat_task_runs_on_a_real_celery_worker(expired, sandbox):
    import time

    from shop.tasks import cancel_expired_orders

    _, order, sku = expired
    with real_worker():
        cancel_expired_orders.delay()  # through the broker, as beat sends it
        deadline = time.monotonic() + 60
        while Order.objects.get(pk=order.pk).status != OrderStatus.CANCELLED:
            assert time.monotonic() < deadline, "the worker did not cancel the order"
            time.sleep(0.2)

    assert Stock.objects.get(sku=sku).available == 10
