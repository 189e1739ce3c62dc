"""Refunds end to end over HTTP: the gateway call after commit (mutual TLS to the sandbox), WeChat's
encrypted notify back to the live mall, failures, retries, the refund job, late payments."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Stock, StockMovement
from shop.models import (
    AfterSale,
    AfterSaleStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Refund,
    RefundNotification,
    RefundState,
    RefundStatus,
)
from shop.models.aftersales import RefundEvent
from shop.services.aftersales import after_sale_approve, after_sale_confirm_return
from shop.services.refunds import refund_retry, refunds_process_due
from tests.builders import (
    lines_of,
    operator,
    order_discount,
    paid_order,
    placed_order,
    receive,
    requested_after_sale,
    ship,
)
from tests.celery_worker import celery_eager
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager():
    with celery_eager():
        yield


@pytest.fixture
def shop_(mall, sandbox, eager, monkeypatch):
    """Two SKUs, a buyer and a paid order for 2 × cream + 1 × lotion with ¥8.88 off the order."""
    default_freight()
    cream, lotion = SkuFactory.create(price_fen=4590, stock=10), SkuFactory.create(price_fen=2990, stock=10)
    buyer = make_shopper()
    order_discount(monkeypatch, 888)
    order = paid_order(member=buyer.member, lines=[(cream, 2), (lotion, 1)], sandbox=sandbox)
    return buyer, order, cream, lotion


def stock(sku) -> int:
    return Stock.objects.get(sku=sku).available


def test_an_approved_refund_goes_to_wechat_and_its_notify_completes_it(shop_, sandbox):
    buyer, order, cream, lotion = shop_
    cream_line, lotion_line = lines_of(order)
    after_sale = requested_after_sale(order=order, lines={lotion_line: 1})
    assert after_sale.amount_fen == lotion_line.payable_fen and lotion_line.payable_fen != 2990

    after_sale = after_sale_approve(after_sale=after_sale, operator=operator("ops"))

    # approved before shipping: the unit is back in stock at once, the refund is with WeChat
    assert (stock(cream), stock(lotion)) == (8, 10)
    refund = Refund.objects.get(after_sale=after_sale)
    assert refund.out_refund_no == after_sale.after_sale_no
    assert refund.status == RefundStatus.PROCESSING and refund.refund_id
    assert sandbox.refund(refund.out_refund_no)["refund_fee"] == lotion_line.payable_fen
    assert Order.objects.get(pk=order.pk).refunded_fen == 0

    settled = sandbox.settle_refund(refund.out_refund_no)

    assert [d["acknowledged"] for d in settled["deliveries"]] == [True]
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.succeeded_at is not None
    assert order.refunded_fen == lotion_line.payable_fen
    assert order.refund_state == RefundState.PARTIAL and order.get_refund_state_display() == "部分退款"
    cream_line, lotion_line = lines_of(order)
    assert (lotion_line.refunded_quantity, lotion_line.refunded_fen) == (1, lotion_line.payable_fen)
    assert (cream_line.refunded_quantity, cream_line.refunded_fen) == (0, 0)
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSaleStatus.REFUNDED
    assert list(RefundEvent.objects.filter(refund=refund).values_list("action", flat=True)) == [
        "created", "submitted", "succeeded"]
    assert OrderEvent.objects.filter(order=order, action="refunded").count() == 1
    detail = buyer.client.get(f"/api/v1/after-sales/{after_sale.after_sale_no}/").json()
    assert detail["status_label"] == "已退款" and detail["order_refund_state_label"] == "部分退款"
    assert detail["refund"]["status"] == "succeeded"
    assert [p["label"] for p in detail["progress"]] == ["提交申请", "审核通过", "退款处理中", "退款成功"]


def test_the_refund_notify_delivered_twice_and_at_once_gives_one_completed_refund(shop_, sandbox):
    buyer, order, _, lotion = shop_
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[1]: 1}),
                                    operator=operator("ops"))
    refund = Refund.objects.get(after_sale=after_sale)

    first = sandbox.settle_refund(refund.out_refund_no, times=2)
    again = sandbox.refund_notify(refund.out_refund_no, times=3, concurrent=True)

    deliveries = first["deliveries"] + again["deliveries"]
    assert [d["acknowledged"] for d in deliveries] == [True] * 5  # every repeat gets the SUCCESS XML
    order.refresh_from_db()
    assert order.refunded_fen == refund.amount_fen
    assert lines_of(order)[1].refunded_quantity == 1
    assert RefundNotification.objects.filter(out_refund_no=refund.out_refund_no).count() == 1
    assert RefundEvent.objects.filter(refund=refund, action="succeeded").count() == 1
    assert OrderEvent.objects.filter(order=order, action="refunded").count() == 1
    assert stock(lotion) == 10  # restocked once, at approval


@pytest.mark.parametrize("kind", ["wrong_key", "other_appid", "other_mch_id", "malformed", "not_encrypted",
                                  "wrong_amount"])
def test_forged_refund_notifies_are_answered_fail_and_change_nothing(shop_, sandbox, kind):
    buyer, order, _, _ = shop_
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[1]: 1}),
                                    operator=operator("ops"))
    refund = Refund.objects.get(after_sale=after_sale)

    delivery = sandbox.forge_refund_notify(refund.out_refund_no, kind=kind)["deliveries"][0]

    assert delivery["status"] == 400 and delivery["acknowledged"] is False
    assert "<return_code><![CDATA[FAIL]]></return_code>" in delivery["answer"]
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PROCESSING
    assert Order.objects.get(pk=order.pk).refunded_fen == 0
    assert RefundNotification.objects.count() == 0


def test_a_refused_refund_is_visible_and_a_retry_completes_it(shop_, sandbox):
    buyer, order, _, _ = shop_
    sandbox.refund_options(fail_next=["NOTENOUGH"])
    ops = operator("ops")

    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[0]: 2}),
                                    operator=ops)

    refund = Refund.objects.get(after_sale=after_sale)
    assert refund.status == RefundStatus.FAILED
    assert refund.last_error.startswith("NOTENOUGH")
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSaleStatus.REFUNDING
    assert Order.objects.get(pk=order.pk).refunded_fen == 0

    refund = refund_retry(refund=refund, operator=ops)
    assert refund_retry(refund=refund, operator=ops).status == RefundStatus.PROCESSING  # a repeat: no-op

    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PROCESSING
    sandbox.settle_refund(refund.out_refund_no)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert Order.objects.get(pk=order.pk).refunded_fen == refund.amount_fen
    assert list(RefundEvent.objects.filter(refund=refund).values_list("action", flat=True)) == [
        "created", "failed", "retried", "submitted", "succeeded"]
    assert RefundEvent.objects.get(refund=refund, action="retried").operator == ops
    assert len(sandbox.refunds()) == 1


def test_an_unknown_outcome_stays_pending_and_the_refund_job_sends_it_again(shop_, sandbox, settings):
    buyer, order, _, _ = shop_
    sandbox.refund_options(fail_next=["SYSTEMERROR"])

    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[0]: 1}),
                                    operator=operator("ops"))
    refund = Refund.objects.get(after_sale=after_sale)
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    assert "SYSTEMERROR" in refund.last_error

    assert refunds_process_due()["submitted"] == 0  # too soon
    counts = refunds_process_due(now=timezone.now() + dt.timedelta(seconds=settings.REFUND_RESUBMIT_AFTER_SECONDS))

    assert counts["submitted"] == 1
    refund.refresh_from_db()
    assert (refund.status, refund.attempts, refund.last_error) == (RefundStatus.PROCESSING, 2, "")


def test_after_the_last_automatic_attempt_an_unknown_outcome_shows_as_failed(shop_, sandbox, settings):
    settings.REFUND_MAX_AUTO_ATTEMPTS = 2
    buyer, order, _, _ = shop_
    sandbox.refund_options(fail_next=["SYSTEMERROR", "SYSTEMERROR"])
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[0]: 1}),
                                    operator=operator("ops"))

    refunds_process_due(now=timezone.now() + dt.timedelta(minutes=5))

    refund = Refund.objects.get(after_sale=after_sale)
    assert (refund.status, refund.attempts) == (RefundStatus.FAILED, 2)


def test_a_lost_notify_is_made_up_for_by_asking_wechat(shop_, sandbox, settings):
    buyer, order, _, _ = shop_
    live = settings.SITE_URL
    settings.SITE_URL = "http://127.0.0.1:9"  # the notify_url WeChat gets leads nowhere
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[1]: 1}),
                                    operator=operator("ops"))
    settings.SITE_URL = live
    refund = Refund.objects.get(after_sale=after_sale)
    assert sandbox.settle_refund(refund.out_refund_no)["deliveries"][0]["acknowledged"] is False

    counts = refunds_process_due(now=timezone.now() + dt.timedelta(minutes=settings.REFUND_QUERY_AFTER_MINUTES))

    assert counts["queried"] == 1
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert Order.objects.get(pk=order.pk).refund_state == RefundState.PARTIAL
    assert RefundNotification.objects.get(refund_id=refund.refund_id).raw_xml.startswith("<xml>")


def test_a_change_notify_fails_the_refund_without_counting_it(shop_, sandbox):
    buyer, order, _, _ = shop_
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[1]: 1}),
                                    operator=operator("ops"))
    refund = Refund.objects.get(after_sale=after_sale)

    sandbox.settle_refund(refund.out_refund_no, status="CHANGE")

    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and "CHANGE" in refund.last_error
    assert Order.objects.get(pk=order.pk).refunded_fen == 0


def test_a_return_restocks_when_the_goods_are_confirmed_back_and_only_once(shop_, sandbox):
    buyer, order, cream, lotion = shop_
    order = receive(ship(order))
    ops = operator("ops")
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind="return_refund")

    after_sale = after_sale_approve(after_sale=after_sale, operator=ops)
    assert after_sale.status == AfterSaleStatus.AWAITING_RETURN and not Refund.objects.exists()
    response = buyer.client.post(f"/api/v1/after-sales/{after_sale.after_sale_no}/return-shipment",
                                 {"carrier": "中通快递", "tracking_no": "zt 7788 9900"}, format="json")
    assert response.status_code == 200 and response.json()["return_tracking_no"] == "ZT77889900"
    assert stock(cream) == 8

    after_sale_confirm_return(after_sale=after_sale, operator=ops)
    after_sale_confirm_return(after_sale=after_sale, operator=ops)  # a repeat is a no-op

    assert stock(cream) == 9 and stock(lotion) == 9
    assert StockMovement.objects.filter(reference=after_sale.after_sale_no).count() == 1
    refund = Refund.objects.get(after_sale=after_sale)
    sandbox.settle_refund(refund.out_refund_no)
    order.refresh_from_db()
    assert order.refunded_fen == lines_of(order)[0].refunded_fen == refund.amount_fen
    assert order.refund_state == RefundState.PARTIAL


def test_refunding_every_line_in_parts_ends_exactly_at_the_goods_paid(shop_, sandbox):
    buyer, order, _, _ = shop_
    order = ship(order)
    cream_line, lotion_line = lines_of(order)
    ops = operator("ops")
    for line, quantity in ((cream_line, 1), (cream_line, 1), (lotion_line, 1)):
        after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={line: quantity}),
                                        operator=ops)
        sandbox.settle_refund(Refund.objects.get(after_sale=after_sale).out_refund_no)

    order.refresh_from_db()
    assert order.refunded_fen == cream_line.payable_fen + lotion_line.payable_fen == order.paid_fen - order.freight_fen
    assert order.refund_state == RefundState.FULL and order.get_refund_state_display() == "已全额退款"


def test_a_payment_that_reached_a_cancelled_order_is_refunded_in_full(mall, eager, sandbox):
    # given an order cancelled while its shopper was paying, and its last unit sold meanwhile
    default_freight()
    sku = SkuFactory.create(price_fen=5000, stock=1)
    late, quick = make_shopper(), make_shopper()
    order = placed_order(member=late.member, lines=[(sku, 1)])
    late.client.post(f"/api/v1/orders/{order.order_no}/pay")
    from shop.services.orders import order_cancel

    order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system")
    paid_order(member=quick.member, lines=[(sku, 1)], sandbox=sandbox)

    # when WeChat's payment notify arrives after all
    assert sandbox.pay(order.order_no)["deliveries"][0]["acknowledged"] is True
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.needs_refund and order.paid_fen == order.payable_fen

    # then the whole payment is refunded at once, through the same machinery; the refund job,
    # the safety net, finds nothing more to create
    assert Refund.objects.filter(order=order).count() == 1
    assert refunds_process_due()["created"] == 0
    refund = Refund.objects.get(order=order)
    assert (refund.out_refund_no, refund.amount_fen, refund.status) == (f"RF{order.order_no}", order.paid_fen,
                                                                        RefundStatus.PROCESSING)
    sandbox.settle_refund(refund.out_refund_no)
    order.refresh_from_db()
    assert (order.refunded_fen, order.needs_refund, order.refund_state) == (order.paid_fen, False, RefundState.FULL)
    assert all(line.refunded_quantity == line.quantity for line in lines_of(order))
    assert Stock.objects.get(sku=sku).available == 0  # its stock went back at the cancel, not again


def test_refunding_everything_before_shipping_closes_the_order(shop_, sandbox):
    buyer, order, cream, lotion = shop_
    cream_line, lotion_line = lines_of(order)
    ops = operator("ops")

    everything = requested_after_sale(order=order, lines={cream_line: 2, lotion_line: 1})
    after_sale = after_sale_approve(after_sale=everything, operator=ops)
    sandbox.settle_refund(Refund.objects.get(after_sale=after_sale).out_refund_no)

    order.refresh_from_db()
    assert (order.status, order.get_status_display()) == (OrderStatus.CLOSED, "已关闭")
    assert order.refund_state == RefundState.FULL and order.refunded_fen == order.paid_fen  # freight too
    assert (stock(cream), stock(lotion)) == (10, 10)
    closed = OrderEvent.objects.filter(order=order, action="closed").get()
    assert (closed.from_status, closed.to_status) == (OrderStatus.PAID, OrderStatus.CLOSED)
