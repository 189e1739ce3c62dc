"""What the shop tells shoppers: paid, shipped, after-sales progress — after commit, one credit each.

What must hold: with no subscribe credit, shipping sends nothing and logs why; with
one credit, exactly one message is sent and the credit is used (on a real Celery worker).
WeChat is the sandbox over HTTP; the send task runs eagerly through `.apply()` except where a
real worker is started.
"""

from __future__ import annotations

import itertools
import time

import pytest
from django.db import transaction
from django.utils import timezone

from catalog.models import Sku
from members.models import Member
from shop.models import AfterSale, AfterSaleKind, Order, OrderLine, OrderStatus, Shipment, ShipmentLine
from shop.notifications import notify_after_sale_progress, notify_order_paid, notify_order_shipped
from shop.services.orders import CheckoutInput, LineInput, order_place, order_ship
from tests.builders import lines_of, order_up_to, paid_order, requested_after_sale
from tests.celery_worker import real_worker
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper
from wechat.models import FINAL_OUTCOMES, MessageLog, MessageOutcome, SubscribeConsent
from wechat.tasks import send_subscribe_message

PAID = "sandbox-tmpl-order-paid"
SHIPPED = "sandbox-tmpl-order-shipped"
AFTER_SALE = "sandbox-tmpl-after-sale-progress"
_numbers = itertools.count(1)


def goods(lines: list[tuple[str, int]], *, unit_fen: int = 4990) -> list[tuple[Sku, int]]:
    """[(product name, quantity)] as order lines: a new SKU of each product at ¥49.90, in stock."""
    return [(SkuFactory.create(product__name=name, price_fen=unit_fen, stock=10), quantity) for name, quantity in lines]


def subscribe(shopper, sandbox, template_id: str) -> None:
    """The shopper taps 允许 in wx.requestSubscribeMessage; the mini-program tells us."""
    answer = sandbox.subscribe(shopper.member.openid, {template_id: "accept"})
    response = shopper.client.post("/api/v1/subscriptions", {"results": answer}, format="json")
    assert response.status_code == 200, response.content


def credits(member: Member, template_id: str) -> int:
    row = SubscribeConsent.objects.filter(member_id=member.pk, template_id=template_id).first()
    return row.credits if row else 0


def deliver() -> None:
    """What the worker would do: run the send task of every message still pending."""
    for log_id in MessageLog.objects.filter(outcome=MessageOutcome.PENDING).order_by("pk").values_list("pk", flat=True):
        send_subscribe_message.apply(args=(log_id,))


# --- must be true 5 ------------------------------------------------------------------------------


def test_with_no_credit_shipping_sends_nothing_and_logs_why(shopper, sandbox, django_capture_on_commit_callbacks):
    sandbox.subscribe(shopper.member.openid, {SHIPPED: "accept"})  # even WeChat's consent is not ours to spend
    order = paid_order(member=shopper.member, lines=goods([("有机奶粉", 2)]))

    with django_capture_on_commit_callbacks(execute=False):
        order_ship(order=order, carrier="SF", tracking_no="SF1234567890123")
    deliver()

    log = MessageLog.objects.get(template_key="order_shipped")
    assert (log.outcome, log.errcode, log.attempts) == (MessageOutcome.NO_CREDIT, "no_credit", 0)
    assert log.errmsg == "用户未订阅该消息或订阅次数已用完，未发送"
    assert log.member_id == shopper.member.pk and log.reference.startswith(order.order_no)
    assert sandbox.messages() == []
    assert sandbox.stats().get("subscribe_send", 0) == 0


@pytest.mark.django_db(transaction=True)
def test_with_one_credit_shipping_sends_exactly_one_message_on_a_real_worker(sandbox):


    default_freight()
    shopper = make_shopper()
    subscribe(shopper, sandbox, SHIPPED)
    assert credits(shopper.member, SHIPPED) == 1
    order = paid_order(member=shopper.member,
                       lines=goods([("有机婴儿奶粉 1段 800g 罐装 新西兰原装进口", 2), ("婴儿湿巾", 1)]))

    with real_worker():
        order_ship(order=order, carrier="SF", tracking_no="SF1234567890123")  # commits; the task goes to the broker
        log = MessageLog.objects.get(template_key="order_shipped")
        deadline = time.monotonic() + 60
        while MessageLog.objects.get(pk=log.pk).outcome not in FINAL_OUTCOMES:
            assert time.monotonic() < deadline, "the worker did not send the message"
            time.sleep(0.2)

    log.refresh_from_db()
    assert (log.outcome, log.attempts) == (MessageOutcome.SENT, 1)
    assert credits(shopper.member, SHIPPED) == 0
    delivered = sandbox.messages(touser=shopper.member.openid)
    assert len(delivered) == 1
    assert delivered[0]["template_id"] == SHIPPED
    assert delivered[0]["page"] == f"pages/order/detail?order_no={order.order_no}"
    data = delivered[0]["data"]
    assert data["character_string1"] == order.order_no
    assert data["thing2"] == "有机婴儿奶粉 1段 800g 罐…等3件"
    assert data["thing3"] == "顺丰速运"
    assert data["character_string4"] == "SF1234567890123"
    assert data["time5"].startswith(f"{timezone.localdate().year}年")
    assert sandbox.subscriptions(shopper.member.openid) == {SHIPPED: 0}


# --- order paid -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_paying_queues_the_paid_message_and_it_is_sent_with_one_credit(mall, sandbox):
    default_freight()
    sku = SkuFactory.create(product__name="纯棉短袖T恤", price_fen=3990, stock=10)
    shopper = make_shopper()
    subscribe(shopper, sandbox, PAID)
    order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 2),)))
    assert shopper.client.post(f"/api/v1/orders/{order.order_no}/pay").status_code == 200

    sandbox.pay(order.order_no)  # WeChat notifies the mall; the order becomes paid and commits
    deliver()

    order.refresh_from_db()
    log = MessageLog.objects.get(template_key="order_paid", reference=order.order_no)
    assert log.outcome == MessageOutcome.SENT
    [message] = sandbox.messages(touser=shopper.member.openid)
    assert message["data"] == {
        "character_string1": order.order_no,
        "amount2": f"¥{order.paid_fen // 100}.{order.paid_fen % 100:02d}",
        "thing3": "纯棉短袖T恤 ×2",
        "time4": timezone.localtime(order.paid_at).strftime("%Y年%-m月%-d日 %H:%M"),
    }
    assert credits(shopper.member, PAID) == 0


def test_a_change_that_rolls_back_queues_no_message(shopper, django_capture_on_commit_callbacks):
    order = paid_order(member=shopper.member, lines=goods([("有机奶粉", 1)]))
    MessageLog.objects.all().delete()  # given: the paid message not logged yet (paying logged it)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notify_order_paid(order_id=order.pk)
            raise RuntimeError("the payment failed after all")

    assert callbacks == []
    assert not MessageLog.objects.exists()


def test_a_notification_that_fails_never_breaks_the_change(shopper, django_capture_on_commit_callbacks):
    order = paid_order(member=shopper.member, lines=goods([("有机奶粉", 1)]))
    MessageLog.objects.all().delete()  # given: no message logged yet (paying logged one)

    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        notify_order_paid(order_id=987654321)  # no such order: logged, swallowed
        Order.objects.filter(pk=order.pk).update(operator_remark="仍可写入")  # the transaction is still usable

    assert Order.objects.get(pk=order.pk).operator_remark == "仍可写入"
    assert not MessageLog.objects.exists()


# --- shipped: one message per package -----------------------------------------------------------------


def test_each_package_is_its_own_message_with_its_own_goods(shopper, sandbox, django_capture_on_commit_callbacks):
    subscribe(shopper, sandbox, SHIPPED)
    order = paid_order(member=shopper.member, lines=goods([("蛋糕", 1), ("蜡烛", 3)]))
    cake, candles = OrderLine.objects.filter(order=order).order_by("id")
    first = Shipment.objects.create(order=order, carrier="顺丰速运", carrier_code="SF", tracking_no="SF100200300")
    ShipmentLine.objects.create(shipment=first, order_line=cake, quantity=1)
    second = Shipment.objects.create(order=order, carrier="ZTO", tracking_no="ZT900800700")
    ShipmentLine.objects.create(shipment=second, order_line=candles, quantity=3)

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        notify_order_shipped(order_id=order.pk, shipment_id=first.pk)
        notify_order_shipped(order_id=order.pk, shipment_id=second.pk)
        notify_order_shipped(order_id=order.pk, shipment_id=first.pk)  # asked twice: still one message
    deliver()

    assert len(callbacks) == 2
    logs = {log.reference: log for log in MessageLog.objects.filter(template_key="order_shipped")}
    assert logs[f"{order.order_no}:{first.pk}"].outcome == MessageOutcome.SENT
    assert logs[f"{order.order_no}:{second.pk}"].outcome == MessageOutcome.NO_CREDIT  # one credit, two packages
    [message] = sandbox.messages()
    assert (message["data"]["thing2"], message["data"]["thing3"], message["data"]["character_string4"]) == (
        "蛋糕", "顺丰速运", "SF100200300")
    assert logs[f"{order.order_no}:{second.pk}"].data["thing2"] == "蜡烛 ×3"
    assert logs[f"{order.order_no}:{second.pk}"].data["thing3"] == "中通快递"


# --- after-sales progress ----------------------------------------------------------------------------


@pytest.fixture
def after_sale(shopper):
    """A return of one of two ¥49.90 units of a shipped order."""
    order = order_up_to(OrderStatus.SHIPPED, member=shopper.member, lines=goods([("有机奶粉", 2)]))
    return requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind=AfterSaleKind.RETURN_REFUND)


def progress(after_sale, event: str, capture) -> MessageLog:
    with capture(execute=False), transaction.atomic():
        notify_after_sale_progress(after_sale_id=after_sale.pk, event=event)
    deliver()
    return MessageLog.objects.get(template_key="after_sale_progress", reference=f"{after_sale.after_sale_no}:{event}")


def test_approved_tells_the_shopper_to_send_the_goods_back(after_sale, shopper, sandbox,
                                                           django_capture_on_commit_callbacks):
    subscribe(shopper, sandbox, AFTER_SALE)

    log = progress(after_sale, "approved", django_capture_on_commit_callbacks)

    assert log.outcome == MessageOutcome.SENT
    [message] = sandbox.messages()
    assert message["page"] == f"pages/aftersale/detail?after_sale_no={after_sale.after_sale_no}"
    assert {k: v for k, v in message["data"].items() if k != "time5"} == {
        "character_string1": after_sale.after_sale_no, "phrase2": "审核通过", "amount3": "¥49.90",
        "thing4": "请寄回商品并在小程序填写退货单号"}


def test_rejected_shows_the_reason_cut_to_fit(after_sale, shopper, sandbox, django_capture_on_commit_callbacks):
    subscribe(shopper, sandbox, AFTER_SALE)
    AfterSale.objects.filter(pk=after_sale.pk).update(
        reject_reason="商品已拆封且影响二次销售，不符合七天无理由退货条件，请联系客服")

    log = progress(after_sale, "rejected", django_capture_on_commit_callbacks)

    assert log.outcome == MessageOutcome.SENT
    data = sandbox.messages()[0]["data"]
    assert data["phrase2"] == "审核未通过"
    assert data["thing4"] == "商品已拆封且影响二次销售，不符合七天无…"
    assert len(data["thing4"]) == 20


def test_refunded_and_without_a_credit(after_sale, shopper, sandbox, django_capture_on_commit_callbacks):
    log = progress(after_sale, "refunded", django_capture_on_commit_callbacks)

    assert log.outcome == MessageOutcome.NO_CREDIT
    assert log.data["phrase2"] == "退款成功" and log.data["amount3"] == "¥49.90"
    assert sandbox.messages() == []


def test_an_unknown_after_sale_event_is_a_programming_error(after_sale):
    with pytest.raises(ValueError, match="unknown after-sale event"):
        notify_after_sale_progress(after_sale_id=after_sale.pk, event="returned")


def test_a_member_without_credit_does_not_use_another_members(shopper, other_shopper, sandbox,
                                                              django_capture_on_commit_callbacks):
    subscribe(other_shopper, sandbox, PAID)
    order = paid_order(member=shopper.member, lines=goods([("有机奶粉", 1)]))

    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        notify_order_paid(order_id=order.pk)
    deliver()

    assert MessageLog.objects.get(template_key="order_paid").outcome == MessageOutcome.NO_CREDIT
    assert credits(other_shopper.member, PAID) == 1
