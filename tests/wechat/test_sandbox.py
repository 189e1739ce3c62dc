"""The sandbox itself: WeChat's wire behaviour that our clients rely on, the control
endpoints other apps' tests use, and the page that plays the phone in the demo."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from django.utils import timezone

from wechat.sandbox.client import SandboxControl, SandboxRefused
from wechat.sandbox.server import SandboxServer
from wechat.sandbox.testing import sandbox_for_settings
from wechat.sandbox.wire import parse_xml, sign_md5, signed, to_xml


def pay_xml(sandbox_server: SandboxServer, **fields: str) -> bytes:
    base = {
        "appid": sandbox_server.state.app_id,
        "mch_id": sandbox_server.state.mch_id,
        "body": "蛋糕",
        "out_trade_no": "S1",
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "JSAPI",
        "openid": "o-1",
    }
    base.update(fields)
    return to_xml(signed(base, sandbox_server.state.api_key))


def post_pay(sandbox_server: SandboxServer, endpoint: str, body: bytes) -> dict[str, str]:
    answer = requests.post(f"{sandbox_server.pay_base_url}pay/{endpoint}", data=body, timeout=10)
    assert answer.status_code == 200
    fields = parse_xml(answer.content)
    assert fields is not None
    return fields


# --- WeChat's side ------------------------------------------------------------------------------


def test_unifiedorder_with_a_bad_signature_answers_fail_and_creates_nothing(sandbox_server):
    body = pay_xml(sandbox_server).replace(b"<total_fee>100</total_fee>", b"<total_fee>1</total_fee>")

    reply = post_pay(sandbox_server, "unifiedorder", body)

    assert reply == {"return_code": "FAIL", "return_msg": "签名错误"}
    assert sandbox_server.state.trades == {}


def test_unifiedorder_replies_are_signed_with_the_merchant_key(sandbox_server):
    reply = post_pay(sandbox_server, "unifiedorder", pay_xml(sandbox_server))

    assert (reply["return_code"], reply["result_code"]) == ("SUCCESS", "SUCCESS")
    assert reply["sign"] == sign_md5(reply, sandbox_server.state.api_key)
    assert reply["prepay_id"].startswith("wx")


@pytest.mark.parametrize("missing", ["body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url"])
def test_unifiedorder_without_a_required_field_answers_fail(sandbox_server, missing):
    fields = {
        "appid": sandbox_server.state.app_id,
        "mch_id": sandbox_server.state.mch_id,
        "body": "蛋糕",
        "out_trade_no": "S1",
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "JSAPI",
        "openid": "o-1",
    }
    del fields[missing]

    reply = post_pay(sandbox_server, "unifiedorder", to_xml(signed(fields, sandbox_server.state.api_key)))

    assert reply == {"return_code": "FAIL", "return_msg": f"缺少参数{missing}"}


def test_unifiedorder_for_another_app_answers_fail(sandbox_server):
    reply = post_pay(sandbox_server, "unifiedorder", pay_xml(sandbox_server, appid="wxother"))

    assert reply == {"return_code": "FAIL", "return_msg": "appid和mch_id不匹配"}


def test_unifiedorder_jsapi_without_openid_is_a_param_error(sandbox_server):
    reply = post_pay(sandbox_server, "unifiedorder", pay_xml(sandbox_server, openid=""))

    assert (reply["result_code"], reply["err_code"]) == ("FAIL", "PARAM_ERROR")


def test_stable_token_with_the_wrong_secret_answers_40125(sandbox_server):
    answer = requests.post(
        f"{sandbox_server.base_url}cgi-bin/stable_token",
        timeout=10,
        json={"grant_type": "client_credential", "appid": sandbox_server.state.app_id, "secret": "nope"},
    ).json()

    assert answer == {"errcode": 40125, "errmsg": "invalid appsecret"}


def test_plain_token_works_for_phone_numbers_and_an_unknown_token_gets_40001(sandbox_server, control):
    token = requests.get(
        f"{sandbox_server.base_url}cgi-bin/token",
        timeout=10,
        params={
            "grant_type": "client_credential",
            "appid": sandbox_server.state.app_id,
            "secret": sandbox_server.state.app_secret,
        },
    ).json()
    url = f"{sandbox_server.base_url}wxa/business/getuserphonenumber"

    good = requests.post(
        url,
        params={"access_token": token["access_token"]},
        timeout=10,
        json={"code": control.phone_code("13800138000")},
    ).json()
    bad = requests.post(
        url, params={"access_token": "forged"}, timeout=10, json={"code": control.phone_code("13800138000")}
    ).json()

    assert token["expires_in"] == 7200
    assert good["phone_info"]["purePhoneNumber"] == "13800138000"
    assert good["phone_info"]["countryCode"] == "86"
    assert good["phone_info"]["watermark"]["appid"] == sandbox_server.state.app_id
    assert bad["errcode"] == 40001


# --- control endpoints --------------------------------------------------------------------------


def test_pay_of_an_unknown_trade_is_refused(control):
    with pytest.raises(SandboxRefused) as excinfo:
        control.pay("nope")

    assert (excinfo.value.status, excinfo.value.code) == (404, "ORDERNOTEXIST")


def test_pay_twice_is_refused_and_notify_resends(control, prepaid, notify_target):
    out_trade_no = prepaid()
    control.pay(out_trade_no)

    with pytest.raises(SandboxRefused) as excinfo:
        control.pay(out_trade_no)
    resent = control.notify(out_trade_no, times=2)

    assert excinfo.value.code == "ORDERPAID"
    assert [d["acknowledged"] for d in resent["deliveries"]] == [True, True]
    assert len(notify_target.bodies) == 3
    assert len(control.trade(out_trade_no)["deliveries"]) == 3


def test_pay_records_an_answer_that_is_not_the_ack(control, prepaid, notify_target):
    out_trade_no = prepaid()
    notify_target.answer = b"<xml><return_code><![CDATA[FAIL]]></return_code></xml>"

    paid = control.pay(out_trade_no)

    assert paid["deliveries"][0]["status"] == 200
    assert paid["deliveries"][0]["acknowledged"] is False


def test_pay_to_an_unreachable_notify_url_records_the_error(gateway, control):
    gateway.prepay(
        out_trade_no="S2",
        amount_fen=100,
        description="蛋糕",
        openid="o-1",
        client_ip="127.0.0.1",
        notify_url="http://127.0.0.1:9/notify",
        expires_at=_in_minutes(30),
    )

    paid = control.pay("S2")

    assert paid["state"] == "SUCCESS"
    assert paid["deliveries"][0]["status"] is None
    assert paid["deliveries"][0]["error"]


def test_pay_with_a_delay_notifies_later(control, prepaid, notify_target):
    out_trade_no = prepaid()

    paid = control.pay(out_trade_no, delay_seconds=0.3)

    assert (paid["scheduled"], paid["deliveries"], notify_target.bodies) == (True, [], [])
    deadline = time.monotonic() + 10
    while not notify_target.bodies and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(notify_target.bodies) == 1


def test_pay_of_an_expired_trade_is_refused(gateway, control, notify_target):
    gateway.prepay(
        out_trade_no="S3",
        amount_fen=100,
        description="蛋糕",
        openid="o-1",
        client_ip="127.0.0.1",
        notify_url=notify_target.url,
        expires_at=_in_minutes(-1),
    )

    with pytest.raises(SandboxRefused) as excinfo:
        control.pay("S3")

    assert excinfo.value.code == "ORDER_EXPIRED"
    assert control.trade("S3")["state"] == "NOTPAY"


def test_forge_notify_with_an_unknown_kind_is_refused(control, prepaid):
    with pytest.raises(SandboxRefused) as excinfo:
        control.forge_notify(prepaid(), kind="sneaky")

    assert (excinfo.value.status, excinfo.value.code) == (400, "UNKNOWN_KIND")


def test_trades_lists_by_state_and_reset_forgets_everything(control, prepaid):
    prepaid("S4")
    prepaid("S5")
    control.pay("S5", notify=False)

    assert [t["out_trade_no"] for t in control.trades("NOTPAY")] == ["S4"]
    control.reset()
    assert (control.trades(), control.stats()) == ([], {})


def test_sandbox_for_settings_points_settings_at_the_sandbox_and_restores_them(settings):
    before = (settings.WECHAT_API_BASE, settings.WECHAT_PAY_API_BASE)

    with sandbox_for_settings(settings) as server:
        inside = (settings.WECHAT_API_BASE, settings.WECHAT_PAY_API_BASE)
        assert SandboxControl(server.base_url).login_code()["code"]

    assert inside == (server.base_url, server.base_url + "pay/")
    assert (settings.WECHAT_API_BASE, settings.WECHAT_PAY_API_BASE) == before


# --- the page -----------------------------------------------------------------------------------


def test_page_lists_pending_trades_and_its_pay_button_pays(sandbox_server, control, prepaid, notify_target):
    out_trade_no = prepaid(amount_fen=1999)

    page = requests.get(f"{sandbox_server.base_url}sandbox/", timeout=10)
    paid = requests.post(f"{sandbox_server.base_url}sandbox/ui/pay", data={"out_trade_no": out_trade_no}, timeout=10)

    assert page.status_code == 200
    assert "待支付订单" in page.text and out_trade_no in page.text and "¥19.99" in page.text
    assert paid.status_code == 200  # redirected back to the page, which says what happened
    assert "已支付" in paid.text and "已确认" in paid.text
    assert control.trade(out_trade_no)["state"] == "SUCCESS"
    assert len(notify_target.bodies) == 1


def test_page_issues_login_codes_that_work(sandbox_server):
    answer = requests.post(f"{sandbox_server.base_url}sandbox/ui/login_code", data={}, timeout=10)

    assert "登录 code" in answer.text
    assert len(sandbox_server.state.users) == 1 and len(sandbox_server.state.login_codes) == 1


def _in_minutes(minutes: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def test_page_offers_to_resend_an_unacknowledged_notify(sandbox_server, control, prepaid, notify_target):
    out_trade_no = prepaid()
    notify_target.answer = b"<xml><return_code><![CDATA[FAIL]]></return_code></xml>"
    control.pay(out_trade_no)
    offered = requests.get(f"{sandbox_server.base_url}sandbox/", timeout=10).text
    notify_target.answer = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"

    resent = requests.post(
        f"{sandbox_server.base_url}sandbox/ui/notify", data={"out_trade_no": out_trade_no}, timeout=10
    )

    assert "重发通知" in offered
    assert "已确认" in resent.text and "重发通知" not in resent.text.split("已支付 / 已关闭")[1]
    assert [d["acknowledged"] for d in control.trade(out_trade_no)["deliveries"]] == [False, True]
