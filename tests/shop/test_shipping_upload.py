"""The WeChat shipping-info upload (发货信息录入), over HTTP to the sandbox: body, split delivery,
retries with backoff, what the admin shows while it fails, the operator's 重新上传, a real worker."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.selectors import payment_paid
from shop.models import ORDER_PAYABLE_KIND, OrderEvent, ShippingInfoUpload, ShippingUploadState
from shop.services.shipping import PackageInput, shipment_create
from shop.services.shipping_upload import (
    _claim,
    _uploaded,
    shipping_upload_attempt,
    shipping_upload_due,
)
from tests.builders import lines_of, paid_order
from tests.celery_worker import real_worker
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def skus(freight):
    return [SkuFactory.create(price_fen=1990, stock=20, product__name="婴儿湿巾", specs={"规格": "80抽"}),
            SkuFactory.create(price_fen=2990, stock=20, product__name="棉柔巾", specs={})]


@pytest.fixture
def paid(skus, sandbox):
    a, b = skus
    return paid_order(lines=[(a, 3), (b, 1)], sandbox=sandbox)


def transaction_id(order) -> str:
    payment = payment_paid(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)
    assert payment is not None and payment.transaction_id is not None
    return payment.transaction_id


def upload_row(order) -> ShippingInfoUpload:
    return ShippingInfoUpload.objects.get(order=order)


def failed_in_admin(admin_client, order) -> bool:
    html = admin_client.get(reverse("admin:shop_order_changelist"), {"shipping_upload": "failed"}).content.decode()
    return order.order_no in html


def test_one_package_uploads_as_unified_delivery_with_wechats_body(paid, sandbox):
    shipment_create(order=paid, packages=[PackageInput("顺丰", "SF1234567890", None)])

    outcome = shipping_upload_attempt(order_id=paid.pk)

    assert outcome.state == ShippingUploadState.UPLOADED and outcome.retry_in is None
    row = upload_row(paid)
    assert (row.state, row.attempts, row.last_error, row.next_attempt_at) == (ShippingUploadState.UPLOADED, 1, "",
                                                                             None)
    assert row.uploaded_at is not None
    (upload,) = sandbox.shipping_uploads(transaction_id(paid))
    body = upload["body"]
    assert upload["errcode"] == 0
    assert body["order_key"] == {"order_number_type": 2, "transaction_id": transaction_id(paid)}
    assert (body["logistics_type"], body["delivery_mode"]) == (1, 1)
    assert "is_all_delivered" not in body
    assert body["payer"] == {"openid": paid.member.openid}
    assert body["shipping_list"] == [{
        "tracking_no": "SF1234567890", "express_company": "SF", "item_desc": "婴儿湿巾 80抽*3；棉柔巾*1",
        "contact": {"receiver_contact": "138****8000"},
    }]
    sent_at = dt.datetime.fromisoformat(body["upload_time"])
    assert sent_at.utcoffset() == dt.timedelta(hours=8) and abs(sent_at - timezone.now()) < dt.timedelta(minutes=1)
    assert sandbox.shipping_order(transaction_id(paid))["order_state"] == 2  # 已发货 at WeChat
    assert OrderEvent.objects.filter(order=paid, action="shipping_info_uploaded").count() == 1
    # a second run has nothing to do
    assert shipping_upload_attempt(order_id=paid.pk).state == "skipped"
    assert len(sandbox.shipping_uploads(transaction_id(paid))) == 1


def test_split_delivery_uploads_each_package_and_says_when_all_are_out(paid, sandbox):
    a, b = lines_of(paid)
    shipment_create(order=paid, packages=[PackageInput("SF", "SF1000000001", {a.pk: 2})])
    assert shipping_upload_attempt(order_id=paid.pk).state == ShippingUploadState.UPLOADED
    first = sandbox.shipping_order(transaction_id(paid))
    assert (first["delivery_mode"], first["is_all_delivered"], first["order_state"]) == (2, False, 1)

    shipment_create(order=paid, packages=[PackageInput("ZTO", "ZT2000000002", {a.pk: 1, b.pk: 1})])
    assert upload_row(paid).state == ShippingUploadState.PENDING  # the new package is due
    assert shipping_upload_attempt(order_id=paid.pk).state == ShippingUploadState.UPLOADED

    second = sandbox.shipping_order(transaction_id(paid))
    assert (second["delivery_mode"], second["is_all_delivered"], second["order_state"]) == (2, True, 2)
    assert [p["tracking_no"] for p in second["shipping_list"]] == ["SF1000000001", "ZT2000000002"]
    assert [p["item_desc"] for p in second["shipping_list"]] == ["婴儿湿巾 80抽*2", "婴儿湿巾 80抽*1；棉柔巾*1"]


def test_a_failed_upload_is_retried_and_shows_in_the_admin_until_it_succeeds(paid, sandbox, admin_client,
                                                                              settings):
    settings.WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS = 60
    sandbox.shipping_fail_next(2)  # WeChat answers -1 (system error) twice
    shipment_create(order=paid, packages=[PackageInput("SF", "SF1234567890", None)])

    # first attempt: a transient failure, retried after the base backoff
    start = timezone.now()
    first = shipping_upload_attempt(order_id=paid.pk, now=start)
    assert (first.state, first.retry_in) == (ShippingUploadState.FAILED, 60)
    row = upload_row(paid)
    assert (row.state, row.attempts, row.last_error) == (ShippingUploadState.FAILED, 1, "[-1] system error")
    assert row.next_attempt_at is not None
    assert dt.timedelta(seconds=59) < row.next_attempt_at - start < dt.timedelta(seconds=62)
    assert failed_in_admin(admin_client, paid)
    page = admin_client.get(reverse("admin:shop_order_change", args=[paid.pk])).content.decode()
    assert "上传失败" in page and "[-1] system error" in page and "微信发货信息上传失败" in page

    # not due yet: nothing is sent; the sweep does not pick it either
    assert shipping_upload_attempt(order_id=paid.pk, now=start).state == "skipped"
    assert paid.pk not in shipping_upload_due(now=start)
    assert paid.pk in shipping_upload_due(now=row.next_attempt_at)

    # second attempt, when due: fails again, the backoff doubles
    second = shipping_upload_attempt(order_id=paid.pk, now=row.next_attempt_at)
    assert (second.state, second.retry_in) == (ShippingUploadState.FAILED, 120)
    assert failed_in_admin(admin_client, paid)

    # third attempt: WeChat takes it
    third = shipping_upload_attempt(order_id=paid.pk, now=upload_row(paid).next_attempt_at)
    assert third.state == ShippingUploadState.UPLOADED
    row = upload_row(paid)
    assert (row.state, row.attempts, row.last_error) == (ShippingUploadState.UPLOADED, 3, "")
    assert not failed_in_admin(admin_client, paid)
    uploaded = admin_client.get(reverse("admin:shop_order_changelist"), {"shipping_upload": "uploaded"})
    assert paid.order_no in uploaded.content.decode()
    assert [u["errcode"] for u in sandbox.shipping_uploads()] == [-1, -1, 0]
    assert list(OrderEvent.objects.filter(order=paid, action__startswith="shipping_info").values_list(
        "action", flat=True)) == ["shipping_info_upload_failed"] * 2 + ["shipping_info_uploaded"]


def test_a_permanent_error_waits_for_the_operators_requeue(paid, sandbox, admin_client, admin_user):
    sandbox.shipping_fail_next(1, errcode=10060014)  # 参数错误: trying again unchanged cannot help
    shipment_create(order=paid, packages=[PackageInput("SF", "SF1234567890", None)])

    outcome = shipping_upload_attempt(order_id=paid.pk)

    assert (outcome.state, outcome.retry_in) == (ShippingUploadState.FAILED, None)
    assert upload_row(paid).next_attempt_at is None
    assert paid.pk not in shipping_upload_due(now=timezone.now() + dt.timedelta(days=1))
    assert failed_in_admin(admin_client, paid)

    # the operator selects it in the failed filter and runs 重新上传
    listing = admin_client.get(reverse("admin:shop_order_changelist"), {"shipping_upload": "failed"})
    assert "重新上传所选订单的微信发货信息" in listing.content.decode()
    response = admin_client.post(reverse("admin:shop_order_changelist"),
                                 {"action": "requeue_shipping_upload", "_selected_action": [paid.pk]}, follow=True)

    assert "已重新提交 1 个订单的发货信息上传" in response.content.decode()
    row = upload_row(paid)
    assert (row.state, row.attempts) == (ShippingUploadState.PENDING, 0)
    assert row.next_attempt_at is not None and row.next_attempt_at <= timezone.now()
    event = OrderEvent.objects.filter(order=paid).latest("id")
    assert (event.action, event.operator) == ("shipping_info_requeued", admin_user)
    assert shipping_upload_attempt(order_id=paid.pk).state == ShippingUploadState.UPLOADED
    assert not failed_in_admin(admin_client, paid)


def test_retries_stop_after_the_maximum_attempts(paid, sandbox, settings):
    settings.WECHAT_SHIPPING_UPLOAD_MAX_ATTEMPTS = 2
    sandbox.shipping_fail_next(5)
    shipment_create(order=paid, packages=[PackageInput("SF", "SF1234567890", None)])

    assert shipping_upload_attempt(order_id=paid.pk).retry_in is not None
    last = shipping_upload_attempt(order_id=paid.pk, now=upload_row(paid).next_attempt_at)

    assert (last.state, last.retry_in) == (ShippingUploadState.FAILED, None)
    assert upload_row(paid).next_attempt_at is None


def test_a_package_shipped_while_an_upload_is_in_flight_is_uploaded_next(paid, sandbox):
    a, b = lines_of(paid)
    shipment_create(order=paid, packages=[PackageInput("SF", "SF1000000001", {a.pk: 3})])
    claimed = _claim(order_id=paid.pk, now=timezone.now())  # the attempt has read one package…
    assert isinstance(claimed, tuple)
    request, version = claimed

    shipment_create(order=paid, packages=[PackageInput("SF", "SF1000000002", {b.pk: 1})])  # …then this ships
    outcome = _uploaded(order_id=paid.pk, version=version)  # …and WeChat accepted the one package

    assert outcome.state == ShippingUploadState.PENDING
    assert upload_row(paid).state == ShippingUploadState.PENDING
    assert shipping_upload_attempt(order_id=paid.pk).state == ShippingUploadState.UPLOADED
    (sent,) = sandbox.shipping_uploads()
    assert len(sent["body"]["shipping_list"]) == 2 and sent["body"]["is_all_delivered"] is True


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_with_backoff_until_the_upload_succeeds(skus, sandbox, settings):


    settings.WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS = 1
    a, _ = skus
    order = paid_order(lines=[(a, 1)], sandbox=sandbox)
    sandbox.shipping_fail_next(2)

    with real_worker():
        # shipping queues the upload task after commit, through the broker
        shipment_create(order=order, packages=[PackageInput("SF", "SF1234567890", None)])
        deadline = time.monotonic() + 60
        while upload_row(order).state != ShippingUploadState.UPLOADED:
            assert time.monotonic() < deadline, "the worker did not upload the shipping info"
            time.sleep(0.2)

    assert upload_row(order).attempts == 3
    assert [u["errcode"] for u in sandbox.shipping_uploads(transaction_id(order))] == [-1, -1, 0]
