"""The last-seat race on the real PostgreSQL: five members' payments for a group's last seat arrive at
once, each notify on its own connection. Exactly one is seated, the group never holds more than its
size, and the others are placed per the activity: each leads a new group (the default), or is
refunded in full through the real refund path — and the activity stock and the refunds add up."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import GroupBuy, GroupBuyActivity, GroupBuyItem, GroupBuySeat, GroupBuyStatus, SeatStatus
from shop.models import Order, OrderStatus, Refund, RefundState, RefundStatus
from shop.services.orders import CheckoutInput, GroupChoice, LineInput, order_place
from shop.services.payments import order_prepay
from tests.builders import buyer, pay, payment_notification
from tests.celery_worker import celery_eager
from tests.concurrency import run_concurrently
from tests.factories import GroupBuyItemFactory, SkuFactory, default_freight
from wechat.pay_v2 import NOTIFY_ACK

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 5


def group_order(item: GroupBuyItem, *, group: GroupBuy | None = None) -> Order:
    order, _ = order_place(member=buyer(), data=CheckoutInput(
        items=(LineInput(item.sku_id, 1),), group=GroupChoice(item.pk, group.pk if group else None)))
    return order


def group_with_one_seat_left(overflow: str) -> tuple[GroupBuyItem, GroupBuy, list[Order]]:
    """A 3-person group whose leader and one friend paid, and five unpaid orders to join it."""
    default_freight()
    item = GroupBuyItemFactory.create(sku=SkuFactory.create(price_fen=9900, stock=50), group_price_fen=5900,
                                      stock_total=10, activity__overflow=overflow)
    pay(group_order(item))
    group = GroupBuy.objects.get()
    pay(group_order(item, group=group))
    racers = [group_order(item, group=group) for _ in range(RACERS)]
    assert GroupBuy.objects.get(pk=group.pk).seats_left == 1
    return item, group, racers


def notify(order: Order, *, sandbox=None) -> bytes:
    """The signed payment notify WeChat sends for `order` (paid at the sandbox first when given)."""
    order = Order.objects.select_related("member").get(pk=order.pk)
    order_prepay(member=order.member, order_no=order.order_no, client_ip="203.0.113.9")
    sandbox.pay(order.order_no, notify=False)
    transaction_id = sandbox.trade(order.order_no)["transaction_id"]
    return payment_notification(out_trade_no=order.order_no, transaction_id=transaction_id,
                                amount_fen=order.payable_fen, openid=order.member.openid, paid_at=timezone.now())


def post_notify(body: bytes) -> tuple[int, bytes]:
    response = Client().post(reverse("payment-wechat-notify"), body, content_type="text/xml")
    return response.status_code, response.content


def test_five_pay_for_the_last_seat_at_once_one_is_seated_the_others_open_new_groups(sandbox):
    # given a group with one seat left and five members about to pay for it (default: open a new group)
    item, group, racers = group_with_one_seat_left(GroupBuyActivity.Overflow.OPEN_NEW)
    bodies = [notify(order, sandbox=sandbox) for order in racers]

    # when their five payment notifies arrive at the same moment
    results = run_concurrently(lambda i: post_notify(bodies[i]), RACERS)

    # then every notify was answered SUCCESS; the group holds exactly its three members
    assert results == [(200, NOTIFY_ACK)] * RACERS
    group.refresh_from_db()
    assert (group.status, group.seats_taken, group.seats_left) == (GroupBuyStatus.SUCCEEDED, 3, 0)
    assert GroupBuySeat.objects.filter(group=group, status=SeatStatus.SEATED).count() == 3
    # the four others each lead a new group of their own, forming, one seat taken
    others = GroupBuy.objects.exclude(pk=group.pk)
    assert sorted((g.status, g.seats_taken) for g in others) == [(GroupBuyStatus.FORMING, 1)] * (RACERS - 1)
    assert all(o.status == OrderStatus.PAID for o in Order.objects.all())
    assert Refund.objects.count() == 0
    # every paid unit holds its activity stock: 2 + 5 of 10
    assert GroupBuyItem.objects.get(pk=item.pk).stock_left == 10 - 2 - RACERS
    assert all(g.seats_taken <= g.size for g in GroupBuy.objects.all())


def test_five_pay_for_the_last_seat_at_once_the_others_are_refunded_when_the_activity_says_so(mall, sandbox):
    # given the same race, with the activity set to refund whoever finds the group full
    with celery_eager():
        item, group, racers = group_with_one_seat_left(GroupBuyActivity.Overflow.REFUND)
        bodies = [notify(order, sandbox=sandbox) for order in racers]

        # when the five notifies arrive at once
        results = run_concurrently(lambda i: post_notify(bodies[i]), RACERS)

    # then one is seated, the group is exactly full, and no other group was opened
    assert results == [(200, NOTIFY_ACK)] * RACERS
    group.refresh_from_db()
    assert (group.status, group.seats_taken) == (GroupBuyStatus.SUCCEEDED, 3)
    assert GroupBuy.objects.count() == 1
    seated = GroupBuySeat.objects.filter(order__in=racers, status=SeatStatus.SEATED)
    refunded = GroupBuySeat.objects.filter(order__in=racers, status=SeatStatus.REFUND)
    assert (seated.count(), refunded.count()) == (1, RACERS - 1)
    # each of the four was refunded in full through WeChat, once
    refunds = list(Refund.objects.order_by("order_id"))
    assert sorted(r.order_id for r in refunds) == sorted(refunded.values_list("order_id", flat=True))
    for refund in refunds:
        assert (refund.amount_fen, refund.status) == (refund.order.paid_fen, RefundStatus.PROCESSING)
        sandbox.settle_refund(refund.out_refund_no)
    refunded_orders = Order.objects.filter(pk__in=[r.order_id for r in refunds])
    assert {(o.refund_state, o.status) for o in refunded_orders} == {(RefundState.FULL, OrderStatus.CLOSED)}
    assert [o.refunded_fen for o in refunded_orders] == [5900 + o.freight_fen for o in refunded_orders]
    # the activity stock adds up: the three seated hold theirs, the refunded gave theirs back
    assert GroupBuyItem.objects.get(pk=item.pk).stock_left == 10 - 3
