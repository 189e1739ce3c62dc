"""Settling by query: a trade whose payable timed out is asked about at WeChat (the sandbox, over
HTTP). Whatever the kind — an order, a paid card — WeChat's "paid" is stored the same way as a
notify would be: one PaymentNotification under its transaction id, the trade moved to paid with
its audit row, the payable moved on once; asking again, or the late notify, changes nothing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import CardPlan, CardPurchase, CardPurchaseStatus, MemberCardPeriod
from members.services.cards import card_purchase_create, card_purchase_prepay, card_purchases_cancel_expired
from payments.models import Payment, PaymentEvent, PaymentNotification, PaymentStatus
from payments.services import payment_settle_by_query
from shop.models import Order, OrderEvent, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_place
from shop.services.payments import order_cancel_expired, order_prepay
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid_quietly(mall, sandbox):
    """An order (2 × ¥99.00) and a card purchase (¥19.90) of one shopper, both prepaid and paid at
    WeChat with their notifies lost, both past their payment deadline."""
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=10)
    shopper = make_shopper()
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 2),)))
    order_prepay(member=shopper.member, order_no=order.order_no, client_ip="203.0.113.9")
    plan = CardPlan.objects.create(name="体验月卡", price_fen=1990, days=30, discount_percent=95,
                                   points_multiplier=Decimal("1.50"))
    purchase = card_purchase_create(member=shopper.member, plan_id=plan.pk)
    card_purchase_prepay(member=shopper.member, purchase_no=purchase.purchase_no, client_ip="203.0.113.9")
    for out_trade_no in (order.order_no, purchase.purchase_no):
        sandbox.pay(out_trade_no, notify=False)
    past = timezone.now() - dt.timedelta(seconds=1)
    Order.objects.filter(pk=order.pk).update(expires_at=past)
    CardPurchase.objects.filter(pk=purchase.pk).update(expires_at=past)
    return order, purchase


def stored(out_trade_no: str) -> tuple[str, str, int, str, dict[str, str]]:
    """The notification stored for a trade: transaction id, trade number, amount, outcome, and
    the raw body WeChat answered, parsed."""
    notification = PaymentNotification.objects.get(out_trade_no=out_trade_no)
    raw = {child.tag: child.text or "" for child in ET.fromstring(notification.raw_xml)}
    return (notification.transaction_id, notification.out_trade_no, notification.total_fee_fen,
            notification.outcome, raw)


def snapshot() -> list[list[tuple]]:
    return [
        sorted(PaymentNotification.objects.values_list("transaction_id", "out_trade_no", "total_fee_fen",
                                                       "outcome", "raw_xml")),
        sorted(Payment.objects.values_list("out_trade_no", "status", "transaction_id", "paid_at")),
        sorted(PaymentEvent.objects.values_list("payment__out_trade_no", "action", "from_status", "to_status")),
        sorted(OrderEvent.objects.values_list("order_id", "action")),
        sorted(MemberCardPeriod.objects.values_list("purchase_id", "starts_at", "ends_at")),
    ]


def test_a_card_paid_and_confirmed_by_query_stores_its_notification_exactly_like_an_order(paid_quietly, sandbox):
    order, purchase = paid_quietly

    # the housekeeping jobs ask WeChat before giving up on either
    orders = order_cancel_expired()
    cards = card_purchases_cancel_expired()

    assert orders == cards == {"cancelled": 0, "paid": 1, "failed": 0}
    for out_trade_no, amount_fen, outcome in ((order.order_no, 19800, "paid"),
                                              (purchase.purchase_no, 1990, "card_paid")):
        trade = sandbox.trade(out_trade_no)
        transaction_id, number, fee, stored_outcome, raw = stored(out_trade_no)
        assert (transaction_id, number, fee, stored_outcome) == (trade["transaction_id"], out_trade_no, amount_fen,
                                                                outcome)
        # the raw body is WeChat's signed orderquery answer about this trade, as for any kind
        assert (raw["trade_state"], raw["out_trade_no"], raw["transaction_id"], raw["total_fee"]) == (
            "SUCCESS", out_trade_no, trade["transaction_id"], str(amount_fen))
        payment = Payment.objects.get(out_trade_no=out_trade_no)
        assert (payment.status, payment.transaction_id, payment.amount_fen) == (
            PaymentStatus.PAID, trade["transaction_id"], amount_fen)
        assert list(PaymentEvent.objects.filter(payment=payment).values_list(
            "action", "from_status", "to_status", "actor", "data__source")) == [
            ("paid", "pending", "paid", "wechat", "orderquery")]
    assert set(stored(order.order_no)[4]) == set(stored(purchase.purchase_no)[4])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert CardPurchase.objects.get(pk=purchase.pk).status == CardPurchaseStatus.PAID
    assert MemberCardPeriod.objects.filter(purchase=purchase).count() == 1
    before = snapshot()

    # asking again, the jobs running again, and the notifies that finally arrive change nothing
    assert payment_settle_by_query(out_trade_no=order.order_no) is True
    assert payment_settle_by_query(out_trade_no=purchase.purchase_no) is True
    assert order_cancel_expired() == card_purchases_cancel_expired() == {"cancelled": 0, "paid": 0, "failed": 0}
    late = [sandbox.notify(no, times=2)["deliveries"] for no in (order.order_no, purchase.purchase_no)]

    assert [d["acknowledged"] for deliveries in late for d in deliveries] == [True] * 4
    assert snapshot() == before


def test_a_trade_never_opened_is_not_asked_about_and_an_unpaid_one_is_closed(mall, sandbox):
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=10)
    shopper = make_shopper()
    never, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))
    opened, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))
    order_prepay(member=shopper.member, order_no=opened.order_no, client_ip="203.0.113.9")

    assert payment_settle_by_query(out_trade_no=never.order_no) is False
    assert sandbox.stats().get("orderquery", 0) == 0
    assert payment_settle_by_query(out_trade_no=opened.order_no) is False
    assert payment_settle_by_query(out_trade_no=opened.order_no) is False

    assert not Payment.objects.filter(out_trade_no=never.order_no).exists()
    assert sandbox.trade(opened.order_no)["state"] == "CLOSED"
    payment = Payment.objects.get(out_trade_no=opened.order_no)
    assert list(PaymentEvent.objects.filter(payment=payment).values_list(
        "action", "from_status", "to_status", "actor")) == [("closed", "pending", "closed", "system")]
    assert not PaymentNotification.objects.exists()
