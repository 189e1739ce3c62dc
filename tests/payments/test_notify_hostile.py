"""The payment notify URL against hostile bodies: whatever arrives, the answer is WeChat's FAIL XML
(or SUCCESS for a replay of a notify already recorded, a no-op), never a 500, and nothing changes.

The bodies start from a genuine notify rendered and signed by the WeChat sandbox (`notify_body`):
cut at every kind of position, bytes flipped, inserted and replaced (hypothesis, a small budget), and
hand-made attacks — entity expansion, external entities, 10 MB, other encodings, NUL bytes, another
merchant, another amount, a body replayed three times at once."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings

from payments.models import Payment, PaymentEvent, PaymentNotification
from shop.models import Order, OrderEvent
from shop.services.payments import order_prepay
from tests.builders import payment_notification, placed_order
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper
from tests.hostile import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    FAIL,
    assert_each_refused_in_one_log_line,
    assert_refused,
    mutations,
    structural_cuts,
)
from wechat.pay_v2 import NOTIFY_ACK

URL = "/api/v1/payments/wechat/notify"


@pytest.fixture
def trade(db, sandbox):
    """An order paid at WeChat whose notify has not arrived yet, and that notify as WeChat sends it."""
    default_freight()
    shopper = make_shopper(openid=sandbox.login_code()["openid"])
    order = placed_order(member=shopper.member, lines=[(SkuFactory.create(price_fen=4590, stock=5), 2)])
    order_prepay(member=shopper.member, order_no=order.order_no, client_ip="203.0.113.9")
    sandbox.pay(order.order_no, notify=False)
    return order, sandbox.notify_body(order.order_no)


def snapshot() -> tuple:
    """Everything a notify could change."""
    return (list(Payment.objects.order_by("id").values_list("status", "transaction_id", "paid_at")),
            list(PaymentNotification.objects.order_by("id").values_list("transaction_id", "outcome")),
            PaymentEvent.objects.count(),
            list(Order.objects.order_by("id").values_list("status", "paid_fen")), OrderEvent.objects.count())


def post(body: bytes, content_type: str = "text/xml"):
    return Client().post(URL, body, content_type=content_type)


def test_a_genuine_notify_cut_anywhere_is_refused_and_pays_nothing(trade):
    order, genuine = trade
    before = snapshot()

    for cut in structural_cuts(genuine):
        assert_refused(post(genuine[:cut]))

    assert snapshot() == before
    assert (post(genuine).status_code, post(genuine).content) == (200, NOTIFY_ACK)  # the whole one pays
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_mutated_notifies_never_change_a_recorded_payment(trade):
    order, genuine = trade
    assert post(genuine).content == NOTIFY_ACK
    recorded = snapshot()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=mutations(genuine))
    def answer_is_clean(body: bytes) -> None:
        response = post(body)
        # SUCCESS only for what is still WeChat's signed notify (a replay, a no-op), FAIL otherwise
        assert (response.status_code, response.content) == (200, NOTIFY_ACK) or (
            response.status_code == 400 and FAIL in response.content)
        assert snapshot() == recorded

    answer_is_clean()


def test_what_the_sandbox_forges_is_refused(trade, sandbox):
    order, _ = trade
    before = snapshot()

    for kind in ("bad_sign", "unsigned", "wrong_amount", "other_appid", "other_mch_id", "malformed"):
        assert_refused(post(sandbox.notify_body(order.order_no, kind=kind)))
    assert snapshot() == before


def hostile_bodies(genuine: bytes) -> dict[str, bytes]:
    text = genuine.decode("utf-8")
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": EXTERNAL_ENTITY,
        "doctype before the genuine body": b"<!DOCTYPE xml>" + genuine,
        "10 MB": genuine[:-6] + b"<pad>" + b"A" * (10 * 1024 * 1024) + b"</pad></xml>",
        "utf-16": text.encode("utf-16"),
        "declared gbk": b'<?xml version="1.0" encoding="GBK"?>' + genuine,
        "latin-1 bytes": genuine.replace(b"</xml>", b"<x>\xe9\xff</x></xml>"),
        "invalid utf-8": genuine.replace(b"CDATA[", b"CDATA[\xc3\x28", 1),
        "nul byte": genuine.replace(b"<xml>", b"<xml>\x00"),
        "nul in a value": genuine.replace(b"CDATA[", b"CDATA[\x00", 1),
        "a second sign": genuine.replace(b"</xml>", b"<sign>0</sign></xml>"),
        "nested fields": genuine.replace(b"<xml>", b"<xml><out_trade_no><a>1</a></out_trade_no>"),
        "json": b'{"return_code": "SUCCESS"}',
        "empty": b"",
    }


def test_hostile_bodies_are_refused_each_in_one_log_line(trade, caplog):
    _, genuine = trade
    before = snapshot()

    assert_each_refused_in_one_log_line(hostile_bodies(genuine), post, URL, caplog)
    assert snapshot() == before


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x",
                                          "application/x-www-form-urlencoded", "text/plain; charset=gbk"])
def test_the_genuine_notify_under_any_content_type_is_read_as_bytes(trade, content_type):
    order, genuine = trade

    response = post(genuine, content_type=content_type)

    assert (response.status_code, response.content) == (200, NOTIFY_ACK)
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_a_correctly_signed_notify_for_a_trade_we_never_made_is_refused(trade):
    order, _ = trade
    before = snapshot()
    body = payment_notification(out_trade_no="M000000000000000", transaction_id="4200000000000000000000000001",
                                amount_fen=100, openid=order.member.openid, paid_at=timezone.now())

    assert_refused(post(body))
    assert snapshot() == before


def test_an_exact_replay_is_acknowledged_and_changes_nothing(trade):
    _, genuine = trade
    assert post(genuine).content == NOTIFY_ACK
    recorded = snapshot()

    assert [post(genuine).content for _ in range(2)] == [NOTIFY_ACK, NOTIFY_ACK]
    assert snapshot() == recorded
    assert PaymentNotification.objects.get().outcome == "paid"


@pytest.mark.django_db(transaction=True)
def test_the_same_body_three_times_at_once_is_recorded_once(trade):
    order, genuine = trade

    answers = run_concurrently(lambda i: post(genuine), 3)

    assert [(a.status_code, a.content) for a in answers] == [(200, NOTIFY_ACK)] * 3
    assert PaymentNotification.objects.count() == 1
    assert PaymentEvent.objects.filter(action="paid").count() == 1
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
