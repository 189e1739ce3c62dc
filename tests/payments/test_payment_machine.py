"""The trade's lifecycle: pending → paid, pending → closed, closed → paid (WeChat's word that a
trade was paid always wins); one PaymentEvent per change, a repeat is a no-op, nothing else moves."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import transaction
from django.utils import timezone

from core.state import InvalidTransition
from payments.models import PAYMENT_MACHINE, Payment, PaymentEvent, PaymentNotification, PaymentStatus
from payments.services import payment_prepay, payment_settle_by_query
from shop.models import ORDER_PAYABLE_KIND, Order, OrderEvent, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_place
from shop.services.payments import order_cancel_expired, order_prepay
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

ALLOWED = {("pending", "paid"), ("pending", "closed"), ("closed", "paid")}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(PaymentStatus.values, repeat=2)))
def test_payment_transitions_follow_the_table(db, source, target):
    payment = Payment.objects.create(kind=ORDER_PAYABLE_KIND, out_trade_no=f"T-{source}-{target}", amount_fen=100,
                                     status=source)

    if (source, target) in ALLOWED:
        with transaction.atomic():
            moved, changed = PAYMENT_MACHINE.transition(pk=payment.pk, to=target, action="paid")
        assert (changed, moved.status) == (True, target)
        assert list(PaymentEvent.objects.filter(payment=payment).values_list("from_status", "to_status")) == [
            (source, target)]
    elif source == target:
        with transaction.atomic():
            _, changed = PAYMENT_MACHINE.transition(pk=payment.pk, to=target, action="paid")
        assert changed is False
        assert not PaymentEvent.objects.exists()
    else:
        with pytest.raises(InvalidTransition), transaction.atomic():
            PAYMENT_MACHINE.transition(pk=payment.pk, to=target, action="paid")
        assert Payment.objects.get(pk=payment.pk).status == source
        assert not PaymentEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_closed_trade_that_wechat_says_was_paid_becomes_paid_and_every_change_is_audited(mall, sandbox):
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=10)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 2),)))
    order_prepay(member=shopper.member, order_no=order.order_no, client_ip="203.0.113.9")
    payment = Payment.objects.get(out_trade_no=order.order_no)
    assert (payment.status, PaymentEvent.objects.count()) == (PaymentStatus.PENDING, 0)

    # WeChat lost the trade; past the deadline the job closes ours and cancels the order
    sandbox.reset()
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert order_cancel_expired() == {"cancelled": 1, "paid": 0, "failed": 0}
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CLOSED
    assert payment_settle_by_query(out_trade_no=order.order_no) is False  # a repeat changes nothing

    # …and yet the same trade number is paid at WeChat: its notify wins over our close
    payment_prepay(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no, amount_fen=order.payable_fen,
                   description="测试商品", openid=shopper.member.openid, client_ip="203.0.113.9",
                   expires_at=timezone.now() + dt.timedelta(minutes=5))
    paid = sandbox.pay(order.order_no)

    assert [d["acknowledged"] for d in paid["deliveries"]] == [True]
    payment.refresh_from_db()
    trade = sandbox.trade(order.order_no)
    assert (payment.status, payment.transaction_id) == (PaymentStatus.PAID, trade["transaction_id"])
    assert list(PaymentEvent.objects.filter(payment=payment).order_by("id").values_list(
        "action", "from_status", "to_status", "actor", "data__trade_state", "data__transaction_id")) == [
        ("closed", "pending", "closed", "system", "ORDERNOTEXIST", None),
        ("paid", "closed", "paid", "wechat", None, trade["transaction_id"]),
    ]
    assert PaymentNotification.objects.get(out_trade_no=order.order_no).outcome == "revived"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, action="revived").count() == 1
