"""Paying through WeChat Pay v2, over HTTP: the sandbox pays and notifies the live mall."""

from __future__ import annotations

import pytest
import requests

from catalog.models import Stock
from payments.models import Payment, PaymentNotification
from shop.models import ORDER_PAYABLE_KIND, Order, OrderEvent, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_place, order_ship
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper
from wechat.sandbox.client import SandboxRefused

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def placed(mall):
    """A shopper whose openid WeChat knows, and their unpaid order for 2 × ¥99.00."""
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=10)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 2),)))
    return shopper, order, sku


def payment_of(order: Order) -> Payment:
    return Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)


def pay_params(shopper, order):
    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/pay")
    assert response.status_code == 200, response.content
    return response.json()


def test_pay_returns_request_payment_params_the_phone_accepts(placed, sandbox):
    shopper, order, _ = placed
    params = pay_params(shopper, order)

    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"].startswith("prepay_id=")
    assert params["signType"] == "MD5"

    result = sandbox.request_payment(params)  # what wx.requestPayment does

    assert [d["acknowledged"] for d in result["deliveries"]] == [True]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_fen == order.payable_fen == 19800
    payment = payment_of(order)
    assert payment.status == "paid" and payment.transaction_id == sandbox.trade(order.order_no)["transaction_id"]


def test_paying_twice_reuses_the_same_wechat_trade(placed, sandbox):
    shopper, order, _ = placed
    first, second = pay_params(shopper, order), pay_params(shopper, order)
    assert first["package"] == second["package"]
    assert Payment.objects.filter(out_trade_no=order.order_no).count() == 1


def test_three_concurrent_notifies_make_one_paid_transition(placed, sandbox):
    shopper, order, _ = placed
    pay_params(shopper, order)

    result = sandbox.pay(order.order_no, times=3, concurrent=True)

    assert [d["acknowledged"] for d in result["deliveries"]] == [True, True, True]
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Payment.objects.filter(out_trade_no=order.order_no, status="paid").count() == 1
    assert PaymentNotification.objects.filter(out_trade_no=order.order_no).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


@pytest.mark.parametrize("kind", ["bad_sign", "unsigned", "wrong_amount", "other_appid", "other_mch_id",
                                  "malformed"])
def test_forged_notifies_are_rejected_and_change_nothing(placed, sandbox, kind):
    shopper, order, _ = placed
    pay_params(shopper, order)

    result = sandbox.forge_notify(order.order_no, kind=kind)

    delivery = result["deliveries"][-1]
    assert delivery["acknowledged"] is False
    assert delivery["status"] == 400
    assert "<return_code><![CDATA[FAIL]]></return_code>" in delivery["answer"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.paid_fen == 0
    assert not PaymentNotification.objects.exists()
    assert payment_of(order).status == "pending"


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><a>", b"<xml></xml>", b"\xff\xfe<x/>",
                                  b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'])
def test_garbage_to_the_notify_url_is_a_4xx(mall, body):
    response = requests.post(f"{mall.url}/api/v1/payments/wechat/notify", data=body,
                             headers={"Content-Type": "text/xml"}, timeout=10)
    assert response.status_code == 400
    assert "FAIL" in response.text


def test_a_repeated_notify_never_moves_a_shipped_order_back(placed, sandbox):
    shopper, order, _ = placed
    pay_params(shopper, order)
    sandbox.pay(order.order_no)
    order_ship(order=order, carrier="中通", tracking_no="ZT100200300")

    again = sandbox.notify(order.order_no, times=2)

    assert [d["acknowledged"] for d in again["deliveries"]] == [True, True]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def cancel_leaving_the_trade_open(order: Order) -> None:
    """A cancel recorded without closing the WeChat trade: order_cancel() alone. Every cancel a
    person or a job asks for closes the trade first (order_cancel_unpaid, the auto-cancel), so a
    payment reaching a cancelled order is the rare case the revival and the refund still cover."""
    order_cancel(order=order, reason="买家取消", actor="member")


def test_late_payment_for_a_cancelled_order_revives_it_when_stock_allows(placed, sandbox):
    shopper, order, sku = placed
    pay_params(shopper, order)
    cancel_leaving_the_trade_open(order)
    assert Stock.objects.get(sku=sku).available == 10

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not order.needs_refund
    assert Stock.objects.get(sku=sku).available == 8
    assert OrderEvent.objects.filter(order=order, action="revived").count() == 1


def test_late_payment_without_stock_is_kept_and_flagged_for_refund(placed, sandbox):
    shopper, order, sku = placed
    pay_params(shopper, order)
    cancel_leaving_the_trade_open(order)
    other = make_shopper()
    order_place(member=other.member, data=CheckoutInput(items=(LineInput(sku.pk, 9),)))

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.needs_refund is True and order.paid_fen == 19800
    assert payment_of(order).status == "paid"
    assert Stock.objects.get(sku=sku).available == 1


def test_a_shopper_cancelling_closes_the_wechat_trade_so_the_open_pay_sheet_cannot_pay(placed, sandbox):
    shopper, order, sku = placed
    pay_params(shopper, order)

    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert sandbox.trade(order.order_no)["state"] == "CLOSED"
    assert payment_of(order).status == "closed"
    with pytest.raises(SandboxRefused) as refused:
        sandbox.pay(order.order_no)
    assert refused.value.code == "ORDERCLOSED"
    assert Stock.objects.get(sku=sku).available == 10


def test_a_shopper_cancelling_an_order_paid_at_wechat_whose_notify_is_lost_finds_it_paid(placed, sandbox):
    # given an order paid at WeChat whose notify never arrives (the pay sheet was open meanwhile)
    shopper, order, sku = placed
    pay_params(shopper, order)
    paid = sandbox.pay(order.order_no, notify=False)

    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")

    # the cancel asked WeChat first: the payment is recorded and the cancel refused
    assert response.status_code == 409 and response.json()["code"] == "invalid_order_status"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_fen == 19800
    assert payment_of(order).transaction_id == paid["transaction_id"]
    assert PaymentNotification.objects.filter(transaction_id=paid["transaction_id"]).exists()
    assert Stock.objects.get(sku=sku).available == 8


def test_a_cancel_while_wechat_pay_is_down_is_refused_and_changes_nothing(placed, sandbox):
    shopper, order, sku = placed
    pay_params(shopper, order)
    sandbox.faults(fail_ratio=1, paths=["/pay/pay/orderquery"])

    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")

    assert response.status_code == 502 and response.json()["code"] == "upstream_error"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert sandbox.trade(order.order_no)["state"] == "NOTPAY"
    assert Stock.objects.get(sku=sku).available == 8
