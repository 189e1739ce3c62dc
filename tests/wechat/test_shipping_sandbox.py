"""upload_shipping_info: the sandbox checks what WeChat checks, and wechat.shipping speaks it."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import requests
from django.utils import timezone

from wechat import miniprogram
from wechat import shipping as wechat_shipping
from wechat.errors import WechatApiError
from wechat.sandbox.client import SandboxRefused

pytestmark = pytest.mark.django_db  # the access token lives in Django's (database) cache

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def paid_trade(control, prepaid):
    """A trade of o-buyer, paid at WeChat: (out_trade_no, transaction_id)."""
    out_trade_no = prepaid(out_trade_no="M20261123000001", openid="o-buyer")
    paid = control.pay(out_trade_no, notify=False)
    return out_trade_no, paid["transaction_id"]


def body_for(transaction_id: str, **changes) -> dict:
    body = {
        "order_key": {"order_number_type": 2, "transaction_id": transaction_id},
        "logistics_type": 1,
        "delivery_mode": 1,
        "shipping_list": [{"tracking_no": "SF1234567890", "express_company": "SF", "item_desc": "婴儿湿巾*3",
                           "contact": {"receiver_contact": "138****8000"}}],
        "upload_time": dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI).isoformat(timespec="milliseconds"),
        "payer": {"openid": "o-buyer"},
    }
    body.update(changes)
    return body


def post(sandbox_server, body, token: str | None = None) -> dict:
    token = token if token is not None else miniprogram.get_access_token()
    response = requests.post(f"{sandbox_server.base_url}wxa/sec/order/upload_shipping_info",
                             params={"access_token": token}, json=body, timeout=10)
    assert response.status_code == 200  # WeChat answers errors with 200 and an errcode
    return response.json()


def test_a_valid_upload_marks_the_payment_shipped(sandbox_server, control, paid_trade):
    _, transaction_id = paid_trade

    assert post(sandbox_server, body_for(transaction_id)) == {"errcode": 0, "errmsg": "ok"}

    order = control.shipping_order(transaction_id)
    assert (order["order_state"], order["delivery_mode"], order["uploads"]) == (2, 1, 1)
    assert [u["errcode"] for u in control.shipping_uploads(transaction_id)] == [0]


def test_the_merchant_order_number_form_of_the_key_works_too(sandbox_server, control, paid_trade, settings):
    out_trade_no, transaction_id = paid_trade
    key = {"order_number_type": 1, "mchid": settings.WECHAT_MCH_ID, "out_trade_no": out_trade_no}

    assert post(sandbox_server, body_for(transaction_id, order_key=key))["errcode"] == 0
    other_mch = {**key, "mchid": "1900000999"}
    assert post(sandbox_server, body_for(transaction_id, order_key=other_mch))["errcode"] == 10060001


def test_an_unknown_or_unpaid_trade_is_10060001(sandbox_server, control, prepaid):
    unpaid = prepaid(out_trade_no="M20261123000002", openid="o-buyer")
    key = {"order_number_type": 1, "mchid": "1900000001", "out_trade_no": unpaid}

    assert post(sandbox_server, body_for("4200000000000000000000000000"))["errcode"] == 10060001
    answer = post(sandbox_server, body_for("", order_key=key))
    assert (answer["errcode"], answer["errmsg"]) == (10060001, "支付单不存在")


@pytest.mark.parametrize("change, errcode", [
    ({"payer": {"openid": "o-someone-else"}}, 10060014),
    ({"payer": {}}, 10060014),
    ({"logistics_type": 9}, 10060005),
    ({"delivery_mode": 3}, 268485224),
    ({"delivery_mode": 2}, 10060007),  # split without is_all_delivered
    ({"delivery_mode": 2, "is_all_delivered": True, "logistics_type": 3}, 10060006),
    ({"shipping_list": []}, 10060014),
    ({"upload_time": "2026-11-23 12:00:00"}, 268485216),
    ({"upload_time": "2026-11-23T12:00:00"}, 268485216),  # no offset
    ({"order_key": {"order_number_type": 2}}, 10060014),
])
def test_bodies_wechat_would_refuse_are_refused(sandbox_server, paid_trade, change, errcode):
    _, transaction_id = paid_trade

    assert post(sandbox_server, body_for(transaction_id, **change))["errcode"] == errcode


@pytest.mark.parametrize("package_change, errcode", [
    ({"item_desc": ""}, 10060008),
    ({"item_desc": "宝" * 121}, 10060009),
    ({"express_company": "XYZ"}, 10060025),
    ({"tracking_no": ""}, 10060014),
    ({"contact": {"receiver_contact": "13800138000"}}, 10060014),  # not masked
    ({"contact": None}, 10060014),  # SF needs a contact
])
def test_packages_wechat_would_refuse_are_refused(sandbox_server, paid_trade, package_change, errcode):
    _, transaction_id = paid_trade
    body = body_for(transaction_id)
    body["shipping_list"][0].update(package_change)

    assert post(sandbox_server, body)["errcode"] == errcode


def test_unified_delivery_takes_one_package_split_up_to_fifteen(sandbox_server, paid_trade):
    _, transaction_id = paid_trade
    package = body_for(transaction_id)["shipping_list"][0]

    assert post(sandbox_server, body_for(transaction_id, shipping_list=[package, package]))["errcode"] == 10060024
    split16 = body_for(transaction_id, delivery_mode=2, is_all_delivered=False, shipping_list=[package] * 16)
    assert post(sandbox_server, split16)["errcode"] == 10060024


def test_token_problems_are_wechats_errcodes(sandbox_server, paid_trade, control):
    _, transaction_id = paid_trade

    assert post(sandbox_server, body_for(transaction_id), token="bogus")["errcode"] == 40001
    token = miniprogram.get_access_token()
    control.expire_tokens()
    assert post(sandbox_server, body_for(transaction_id), token=token)["errcode"] == 42001


def test_updates_must_be_newer_and_a_completed_payment_can_be_reshipped_once(sandbox_server, control, paid_trade):
    _, transaction_id = paid_trade
    t0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)

    def at(minutes: int, **changes) -> dict:
        return body_for(transaction_id, upload_time=(t0 + dt.timedelta(minutes=minutes)).isoformat(), **changes)

    split = {"delivery_mode": 2, "is_all_delivered": False}
    assert post(sandbox_server, at(0, **split))["errcode"] == 0
    assert control.shipping_order(transaction_id)["order_state"] == 1  # not all out yet
    assert post(sandbox_server, at(0, **split))["errcode"] == 10060023  # not newer
    assert post(sandbox_server, at(1, **{**split, "is_all_delivered": True}))["errcode"] == 0
    assert control.shipping_order(transaction_id)["order_state"] == 2
    assert post(sandbox_server, at(2))["errcode"] == 0  # the one re-shipping chance
    assert post(sandbox_server, at(3))["errcode"] == 10060003
    assert control.shipping_order(transaction_id)["reshipped"] is True


def test_fail_next_makes_the_next_uploads_fail_then_recover(sandbox_server, control, paid_trade):
    _, transaction_id = paid_trade
    assert control.shipping_fail_next(2) == 2

    answers = [post(sandbox_server, body_for(transaction_id, upload_time=f"2026-11-23T12:0{n}:00+08:00"))["errcode"]
               for n in range(3)]

    assert answers == [-1, -1, 0]
    assert [u["errcode"] for u in control.shipping_uploads(transaction_id)] == [-1, -1, 0]
    with pytest.raises(SandboxRefused):
        control.shipping_fail_next(-1)


# --- our client -------------------------------------------------------------------------------------


def package(**changes) -> wechat_shipping.Package:
    fields = {"tracking_no": "SF1234567890", "express_company": "SF", "item_desc": "婴儿湿巾*3",
              "receiver_phone": "13800138000"}
    fields.update(changes)
    return wechat_shipping.Package(**fields)


def test_the_client_uploads_unified_and_split_deliveries(control, paid_trade):
    _, transaction_id = paid_trade
    key = wechat_shipping.OrderKey(transaction_id=transaction_id)
    control.expire_tokens()  # a stale cached token is refreshed and the call retried

    wechat_shipping.upload_shipping_info(order_key=key, payer_openid="o-buyer", packages=[package()],
                                         all_delivered=False, upload_time=timezone.now())
    first = control.shipping_uploads(transaction_id)[-1]["body"]
    assert (first["delivery_mode"], first["is_all_delivered"]) == (2, False)
    wechat_shipping.upload_shipping_info(
        order_key=key, payer_openid="o-buyer", packages=[package(), package(tracking_no="ZT1")],
        all_delivered=True, upload_time=timezone.now() + dt.timedelta(seconds=1))

    order = control.shipping_order(transaction_id)
    assert (order["delivery_mode"], order["is_all_delivered"], len(order["shipping_list"])) == (2, True, 2)
    assert order["shipping_list"][0]["contact"] == {"receiver_contact": "138****8000"}


def test_the_client_raises_with_the_errcode_and_says_what_is_transient(control, paid_trade):
    _, transaction_id = paid_trade
    control.shipping_fail_next(1)
    kwargs: dict[str, Any] = {
        "order_key": wechat_shipping.OrderKey(transaction_id=transaction_id), "payer_openid": "o-buyer",
        "packages": [package()], "all_delivered": True, "upload_time": timezone.now()}

    with pytest.raises(WechatApiError) as busy:
        wechat_shipping.upload_shipping_info(**kwargs)
    with pytest.raises(WechatApiError) as wrong_payer:
        wechat_shipping.upload_shipping_info(**{**copy.copy(kwargs), "payer_openid": "o-other"})

    assert busy.value.errcode == -1 and wechat_shipping.is_transient(-1)
    assert wrong_payer.value.errcode == 10060014 and not wechat_shipping.is_transient(10060014)
    assert wechat_shipping.is_transient("NETWORK_ERROR") and wechat_shipping.is_transient(10060001)


def test_contacts_are_masked_and_descriptions_fit():
    assert wechat_shipping.mask_phone("13800138000") == "138****8000"
    assert wechat_shipping.mask_phone("0571-88886666") == "********6666"
    assert wechat_shipping.item_desc_fit("宝" * 130) == "宝" * 119 + "…"
    assert wechat_shipping.item_desc_fit("  ") == "商品"
    assert wechat_shipping.rfc3339(dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)) == "2026-11-23T12:00:00.000+08:00"
