"""The refund notify URL against hostile bodies: whatever arrives, the answer is WeChat's FAIL XML
(or SUCCESS for a replay of a notify already recorded, a no-op), never a 500, and nothing changes.

Refund notifies are not signed: their `req_info` is encrypted with md5(API key). The bodies start
from a genuine one the WeChat sandbox renders (`refund_notify_body`) for a refund it accepted over
mutual TLS and settled: cut at every kind of position, mutated by hypothesis (a small budget), forged
by the sandbox, and hand-made attacks; and the same body three times at once."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings

from shop.models import AfterSale, Order, Refund, RefundNotification
from shop.models.aftersales import RefundEvent
from shop.services.aftersales import after_sale_approve
from shop.services.refunds import refund_submit
from tests.builders import lines_of, operator, paid_order, requested_after_sale
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

URL = "/api/v1/payments/wechat/refund-notify"


@pytest.fixture
def refund(db, sandbox):
    """A refund WeChat accepted and completed, whose notify has not arrived; and that notify."""
    default_freight()
    shopper = make_shopper(openid=sandbox.login_code()["openid"])
    order = paid_order(member=shopper.member, lines=[(SkuFactory.create(price_fen=4590, stock=5), 2)],
                       sandbox=sandbox)
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[0]: 1}),
                                    operator=operator("ops"))
    refund = Refund.objects.get(after_sale=after_sale)
    refund_submit(refund_id=refund.pk)  # the job queued after the approval's commit
    sandbox.settle_refund(refund.out_refund_no, notify=False)
    return Refund.objects.get(pk=refund.pk), sandbox.refund_notify_body(refund.out_refund_no)


def snapshot() -> tuple:
    """Everything a refund notify could change."""
    return (list(Refund.objects.order_by("id").values_list("status", "refund_id", "succeeded_at")),
            list(RefundNotification.objects.order_by("id").values_list("refund_id", "refund_status")),
            RefundEvent.objects.count(),
            list(Order.objects.order_by("id").values_list("refunded_fen", "refund_state")),
            list(AfterSale.objects.order_by("id").values_list("status", flat=True)))


def post(body: bytes):
    return Client().post(URL, body, content_type="text/xml")


def test_a_genuine_refund_notify_cut_anywhere_is_refused_and_completes_nothing(refund):
    processing, genuine = refund
    before = snapshot()

    for cut in structural_cuts(genuine):
        assert_refused(post(genuine[:cut]))

    assert snapshot() == before
    assert post(genuine).content == NOTIFY_ACK  # the whole one completes it
    assert Refund.objects.get(pk=processing.pk).status == "succeeded"


def test_mutated_refund_notifies_never_change_a_recorded_refund(refund):
    _, genuine = refund
    assert post(genuine).content == NOTIFY_ACK
    recorded = snapshot()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=mutations(genuine))
    def answer_is_clean(body: bytes) -> None:
        response = post(body)
        # SUCCESS only for what still decrypts to WeChat's word (a replay, a no-op), FAIL otherwise
        assert (response.status_code, response.content) == (200, NOTIFY_ACK) or (
            response.status_code == 400 and FAIL in response.content)
        assert snapshot() == recorded

    answer_is_clean()


# One refund for every case below: setting one up (payment, refund over mutual TLS) takes a second.
FORGERIES = ("wrong_key", "other_appid", "other_mch_id", "malformed", "not_encrypted", "wrong_amount")


def test_what_the_sandbox_forges_is_refused(refund, sandbox):
    processing, _ = refund
    before = snapshot()

    for kind in FORGERIES:
        assert_refused(post(sandbox.refund_notify_body(processing.out_refund_no, kind=kind)))
    assert snapshot() == before


def hostile_bodies(genuine: bytes) -> dict[str, bytes]:
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": EXTERNAL_ENTITY,
        "doctype before the genuine body": b"<!DOCTYPE xml>" + genuine,
        "10 MB": genuine[:-6] + b"<pad>" + b"A" * (10 * 1024 * 1024) + b"</pad></xml>",
        "utf-16": genuine.decode("utf-8").encode("utf-16"),
        "nul byte": genuine.replace(b"<xml>", b"<xml>\x00"),
        "invalid utf-8": genuine.replace(b"CDATA[", b"CDATA[\xc3\x28", 1),
        "two req_info": genuine.replace(b"</xml>", b"<req_info>AAAA</req_info></xml>"),
        "req_info not base64": genuine.replace(b"<req_info><![CDATA[", b"<req_info><![CDATA[%%%"),
        "json": b'{"return_code": "SUCCESS"}',
        "empty": b"",
    }


def test_hostile_bodies_are_refused_each_in_one_log_line(refund, caplog):
    _, genuine = refund
    before = snapshot()

    assert_each_refused_in_one_log_line(hostile_bodies(genuine), post, URL, caplog)
    assert snapshot() == before


def test_an_exact_replay_is_acknowledged_and_changes_nothing(refund):
    _, genuine = refund
    assert post(genuine).content == NOTIFY_ACK
    recorded = snapshot()

    assert [post(genuine).content for _ in range(2)] == [NOTIFY_ACK, NOTIFY_ACK]
    assert snapshot() == recorded


@pytest.mark.django_db(transaction=True)
def test_the_same_body_three_times_at_once_is_recorded_once(refund):
    processing, genuine = refund

    answers = run_concurrently(lambda i: post(genuine), 3)

    assert [(a.status_code, a.content) for a in answers] == [(200, NOTIFY_ACK)] * 3
    assert RefundNotification.objects.count() == 1
    assert RefundEvent.objects.filter(refund=processing, action="succeeded").count() == 1
