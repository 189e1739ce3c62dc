"""wechat.pay_v2 against the sandbox over HTTP: prepay, notify, query, close."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from wechat.errors import InvalidNotification, TradeAlreadyPaid, TradeClosed, WechatApiError
from wechat.gateway import TradeState
from wechat.pay_v2 import WeChatPayV2Gateway, get_gateway
from wechat.sandbox.client import SandboxRefused
from wechat.sandbox.wire import sign_md5, signed, to_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")


def prepay_args(notify_url: str, **overrides: Any) -> dict[str, Any]:
    args = {
        "out_trade_no": "M20261123000001",
        "amount_fen": 1999,
        "description": "婴儿湿巾 80抽×3",
        "openid": "o-buyer",
        "client_ip": "203.0.113.7",
        "notify_url": notify_url,
        "expires_at": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    }
    args.update(overrides)
    return args


# --- prepay -------------------------------------------------------------------------------------


def test_prepay_returns_request_payment_params_whose_pay_sign_verifies(gateway, sandbox_server, notify_target):
    result = gateway.prepay(**prepay_args(notify_target.url))

    params = result.request_payment
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == sandbox_server.state.app_id
    assert params["package"] == f"prepay_id={result.prepay_id}"
    assert params["signType"] == "MD5"
    unsigned = {k: v for k, v in params.items() if k != "paySign"}
    assert params["paySign"] == sign_md5(unsigned, sandbox_server.state.api_key)  # the sandbox's own MD5


def test_prepay_sends_the_trade_as_wechat_expects(gateway, control, notify_target):
    result = gateway.prepay(**prepay_args(notify_target.url))

    trade = control.trade("M20261123000001")
    assert trade["prepay_id"] == result.prepay_id
    assert trade["state"] == "NOTPAY"
    assert trade["total_fee"] == 1999
    assert trade["body"] == "婴儿湿巾 80抽×3"
    assert trade["openid"] == "o-buyer"
    assert trade["spbill_create_ip"] == "203.0.113.7"
    assert trade["notify_url"] == notify_target.url
    assert trade["time_expire"] == "20300102110405"  # 03:04:05 UTC is 11:04:05 in Shanghai


def test_prepay_repeated_with_the_same_trade_returns_the_same_prepay_id(gateway, control, notify_target):
    first = gateway.prepay(**prepay_args(notify_target.url))

    second = gateway.prepay(**prepay_args(notify_target.url))

    assert second.prepay_id == first.prepay_id
    assert control.stats()["unifiedorder"] == 2


def test_prepay_same_out_trade_no_with_another_amount_raises(gateway, control, notify_target):
    gateway.prepay(**prepay_args(notify_target.url))

    with pytest.raises(WechatApiError) as excinfo:
        gateway.prepay(**prepay_args(notify_target.url, amount_fen=2999))

    assert excinfo.value.errcode == "INVALID_REQUEST"
    assert control.trade("M20261123000001")["total_fee"] == 1999


def test_prepay_of_a_paid_trade_raises_trade_already_paid(gateway, control, prepaid):
    out_trade_no = prepaid()
    control.pay(out_trade_no, notify=False)

    with pytest.raises(TradeAlreadyPaid) as excinfo:
        gateway.prepay(**prepay_args("http://127.0.0.1:9/notify"))

    assert excinfo.value.out_trade_no == out_trade_no
    assert excinfo.value.status == 409


def test_prepay_of_a_closed_trade_raises_trade_closed(gateway, prepaid, notify_target):
    prepaid()
    gateway.close(out_trade_no="M20261123000001")

    with pytest.raises(TradeClosed):
        gateway.prepay(**prepay_args(notify_target.url))


def test_prepay_refuses_an_empty_client_ip_before_calling_wechat(gateway, control, notify_target):
    with pytest.raises(ValueError):
        gateway.prepay(**prepay_args(notify_target.url, client_ip=""))

    assert control.stats() == {}


def test_prepay_with_a_description_wechat_refuses_raises_wechat_api_error(gateway, notify_target):
    with pytest.raises(WechatApiError) as excinfo:
        gateway.prepay(**prepay_args(notify_target.url, description="长" * 43))  # 129 bytes > 128

    assert excinfo.value.errcode == "PARAM_ERROR"


def test_prepay_when_wechat_pay_answers_an_http_error_says_which(gateway, control, notify_target):
    control.faults(fail_ratio=1, paths=["/pay/pay/unifiedorder"])  # the first failure is an HTTP 503

    with pytest.raises(WechatApiError) as excinfo:
        gateway.prepay(**prepay_args(notify_target.url))

    assert (excinfo.value.errcode, excinfo.value.errmsg) == ("HTTP_ERROR", "HTTP 503")


def test_prepay_signed_with_another_key_raises_wechat_api_error(settings, sandbox_server, notify_target):
    settings.WECHAT_PAY_API_KEY = "x" * 32

    with pytest.raises(WechatApiError) as excinfo:
        get_gateway().prepay(**prepay_args(notify_target.url))

    assert (excinfo.value.errcode, excinfo.value.errmsg) == ("FAIL", "签名错误")


def test_paying_with_the_request_payment_params_notifies_our_server(gateway, control, notify_target):
    params = gateway.prepay(**prepay_args(notify_target.url)).request_payment

    paid = control.request_payment(params)

    assert paid["state"] == "SUCCESS"
    assert len(notify_target.bodies) == 1
    notice = gateway.parse_notify(notify_target.bodies[0])
    assert (notice.out_trade_no, notice.amount_fen) == ("M20261123000001", 1999)
    assert notice.transaction_id == paid["transaction_id"]


def test_request_payment_with_a_tampered_pay_sign_is_refused(gateway, control, notify_target):
    params = gateway.prepay(**prepay_args(notify_target.url)).request_payment

    with pytest.raises(SandboxRefused) as excinfo:
        control.request_payment({**params, "paySign": "0" * 32})

    assert excinfo.value.code == "INVALID_PAY_SIGN"
    assert control.trade("M20261123000001")["state"] == "NOTPAY"
    assert notify_target.bodies == []


# --- parse_notify -------------------------------------------------------------------------------


def test_parse_notify_accepts_the_notification_wechat_sends(gateway, control, prepaid, notify_target):
    out_trade_no = prepaid(amount_fen=2590, openid="o-carol")

    paid = control.pay(out_trade_no)

    assert paid["deliveries"][0]["acknowledged"] is True
    body = notify_target.bodies[0]
    assert body.decode() == paid["deliveries"][0]["xml"]
    notice = gateway.parse_notify(body)
    assert notice.out_trade_no == out_trade_no
    assert notice.amount_fen == 2590
    assert notice.transaction_id == paid["transaction_id"]
    assert notice.paid_at == dt.datetime.strptime(paid["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    assert notice.raw == body.decode()
    assert notice.extra["openid"] == "o-carol"
    assert notice.extra["cash_fee"] == "2590"
    assert notice.extra["trade_type"] == "JSAPI"


def test_duplicate_concurrent_notifications_parse_to_the_same_payment(gateway, control, prepaid, notify_target):
    out_trade_no = prepaid()

    paid = control.pay(out_trade_no, times=3, concurrent=True)

    assert [d["acknowledged"] for d in paid["deliveries"]] == [True, True, True]
    notices = [gateway.parse_notify(body) for body in notify_target.bodies]
    assert len({(n.transaction_id, n.amount_fen, n.paid_at) for n in notices}) == 1
    assert len({n.extra["nonce_str"] for n in notices}) == 3  # each delivery freshly signed


def test_parse_notify_of_a_wrong_amount_still_parses_the_amount_for_the_shop_to_refuse(
    gateway, control, prepaid, notify_target
):
    out_trade_no = prepaid(amount_fen=1999)

    control.forge_notify(out_trade_no, kind="wrong_amount")

    # Correctly signed: only the shop, comparing with the order, can refuse it.
    assert gateway.parse_notify(notify_target.bodies[0]).amount_fen == 2000


@pytest.mark.parametrize("kind", ["bad_sign", "unsigned", "other_appid", "other_mch_id", "malformed"])
def test_parse_notify_refuses_forged_notifications(gateway, control, prepaid, notify_target, kind):
    out_trade_no = prepaid()

    control.forge_notify(out_trade_no, kind=kind)

    with pytest.raises(InvalidNotification):
        gateway.parse_notify(notify_target.bodies[0])
    assert control.trade(out_trade_no)["state"] == "NOTPAY"


def notify_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "appid": "wxsandbox0000000001",
        "mch_id": "1900000001",
        "bank_type": "OTHERS",
        "cash_fee": "100",
        "fee_type": "CNY",
        "is_subscribe": "N",
        "openid": "o-buyer",
        "out_trade_no": "M1",
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": "20261123120000",
        "total_fee": "100",
        "trade_type": "JSAPI",
        "transaction_id": "4200000000000000000000000001",
    }
    fields.update(overrides)
    return fields


def offline_gateway() -> WeChatPayV2Gateway:
    """parse_notify needs no network: a gateway with the sandbox's default credentials."""
    return WeChatPayV2Gateway(
        app_id="wxsandbox0000000001",
        mch_id="1900000001",
        api_key="sandboxpaykey0000000000000000001",
        api_base_url="http://127.0.0.1:9/",
    )


KEY = "sandboxpaykey0000000000000000001"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"\xff\xfe\x00garbage",
        b"<xml/>",
        b"<xml>text</xml>",
        b"<notxml><return_code>SUCCESS</return_code></notxml>",
        b'{"return_code": "SUCCESS"}',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><a>&a;</a></xml>',
        to_xml(signed(notify_fields(result_code="FAIL"), KEY)),
        to_xml(signed(notify_fields(return_code="FAIL"), KEY)),
        to_xml(signed(notify_fields(total_fee="0", cash_fee="0"), KEY)),
        to_xml(signed(notify_fields(total_fee="abc"), KEY)),
        to_xml(signed(notify_fields(time_end="2026-11-23"), KEY)),
        to_xml(signed(notify_fields(time_end="20261399120000"), KEY)),
        to_xml(signed({k: v for k, v in notify_fields().items() if k != "transaction_id"}, KEY)),
        to_xml(signed({k: v for k, v in notify_fields().items() if k != "out_trade_no"}, KEY)),
        to_xml(signed(notify_fields(), KEY)).replace(b"</xml>", b"<total_fee>1</total_fee></xml>"),
    ],
    ids=lambda body: body[:40].decode("utf-8", "replace"),
)
def test_parse_notify_refuses_malformed_bodies_with_invalid_notification_only(body):
    with pytest.raises(InvalidNotification):
        offline_gateway().parse_notify(body)


def test_parse_notify_accepts_a_hand_signed_notification():
    notice = offline_gateway().parse_notify(to_xml(signed(notify_fields(), KEY)))

    assert (notice.out_trade_no, notice.transaction_id, notice.amount_fen) == (
        "M1",
        "4200000000000000000000000001",
        100,
    )
    assert notice.paid_at == dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    assert notice.paid_at.astimezone(dt.UTC) == dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)


def test_notify_ack_is_the_exact_success_xml():
    assert offline_gateway().notify_ack() == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>",
        "application/xml",
    )


def test_notify_nack_is_a_fail_xml_with_the_message():
    assert offline_gateway().notify_nack("金额不符") == (
        "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[金额不符]]></return_msg></xml>".encode(),
        "application/xml",
    )


# --- query and close ----------------------------------------------------------------------------


def test_query_of_a_paid_trade_returns_success_with_a_notice(gateway, control, prepaid):
    out_trade_no = prepaid(amount_fen=4200)
    paid = control.pay(out_trade_no, notify=False)  # the notify is late: only a query can tell

    result = gateway.query(out_trade_no=out_trade_no)

    assert result.trade_state == TradeState.SUCCESS
    assert result.notice is not None
    assert (result.notice.out_trade_no, result.notice.amount_fen) == (out_trade_no, 4200)
    assert result.notice.transaction_id == paid["transaction_id"]
    assert result.notice.paid_at == dt.datetime.strptime(paid["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    assert "<trade_state><![CDATA[SUCCESS]]></trade_state>" in result.notice.raw


def test_query_of_an_unpaid_trade_returns_notpay(gateway, prepaid):
    out_trade_no = prepaid()

    result = gateway.query(out_trade_no=out_trade_no)

    assert (result.trade_state, result.notice) == (TradeState.NOTPAY, None)


def test_query_of_an_unknown_trade_returns_not_found(gateway):
    result = gateway.query(out_trade_no="M-never-prepaid")

    assert (result.trade_state, result.notice) == (TradeState.NOT_FOUND, None)


def test_close_then_pay_fails_and_query_says_closed(gateway, control, prepaid, notify_target):
    out_trade_no = prepaid()

    gateway.close(out_trade_no=out_trade_no)

    with pytest.raises(SandboxRefused) as excinfo:
        control.pay(out_trade_no)
    assert excinfo.value.code == "ORDERCLOSED"
    assert gateway.query(out_trade_no=out_trade_no).trade_state == TradeState.CLOSED
    assert notify_target.bodies == []


def test_close_is_idempotent(gateway, control, prepaid):
    out_trade_no = prepaid()
    gateway.close(out_trade_no=out_trade_no)

    gateway.close(out_trade_no=out_trade_no)

    assert control.trade(out_trade_no)["state"] == "CLOSED"
    assert control.stats()["closeorder"] == 2


def test_close_of_a_never_prepaid_trade_is_a_no_op(gateway, control):
    gateway.close(out_trade_no="M-never-prepaid")

    assert control.stats() == {"closeorder": 1}


def test_close_of_a_paid_trade_raises_trade_already_paid(gateway, control, prepaid):
    out_trade_no = prepaid()
    control.pay(out_trade_no, notify=False)

    with pytest.raises(TradeAlreadyPaid) as excinfo:
        gateway.close(out_trade_no=out_trade_no)

    assert excinfo.value.errcode == "ORDERPAID"
    assert control.trade(out_trade_no)["state"] == "SUCCESS"


# --- replies we must not believe ----------------------------------------------------------------


class FakeWeChatPay:
    """An impostor answering every request with one fixed body (a man in the middle)."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


QUERY_PAID = {
    "return_code": "SUCCESS",
    "return_msg": "OK",
    "appid": "wxsandbox0000000001",
    "mch_id": "1900000001",
    "result_code": "SUCCESS",
    "trade_state": "SUCCESS",
    "out_trade_no": "M1",
    "transaction_id": "4200000000000000000000000001",
    "total_fee": "100",
    "time_end": "20261123120000",
}


@pytest.mark.parametrize(
    ("reply", "errcode"),
    [
        (to_xml(signed(QUERY_PAID, "another-key")), "INVALID_SIGNATURE"),
        (to_xml(QUERY_PAID), "INVALID_SIGNATURE"),
        (to_xml(signed({**QUERY_PAID, "appid": "wxother"}, KEY)), "MISMATCH"),
        (to_xml(signed({**QUERY_PAID, "mch_id": "1900000002"}, KEY)), "MISMATCH"),
        (to_xml(signed({**QUERY_PAID, "out_trade_no": "M2"}, KEY)), "BAD_RESPONSE"),
        (to_xml(signed({**QUERY_PAID, "total_fee": "lots"}, KEY)), "BAD_RESPONSE"),
        (b"<html>502 Bad Gateway</html>", "BAD_RESPONSE"),
        (b"", "BAD_RESPONSE"),
    ],
)
def test_query_does_not_believe_a_reply_wechat_did_not_provably_send(reply, errcode):
    impostor = FakeWeChatPay(reply)
    gateway = WeChatPayV2Gateway(
        app_id="wxsandbox0000000001", mch_id="1900000001", api_key=KEY, api_base_url=impostor.base_url
    )
    try:
        with pytest.raises(WechatApiError) as excinfo:
            gateway.query(out_trade_no="M1")
    finally:
        impostor.stop()

    assert excinfo.value.errcode == errcode


def test_query_believes_a_correctly_signed_reply_from_the_impostor_double():
    # The same double with a good reply: proves the refusals above are about the reply itself.
    impostor = FakeWeChatPay(to_xml(signed(QUERY_PAID, KEY)))
    gateway = WeChatPayV2Gateway(
        app_id="wxsandbox0000000001", mch_id="1900000001", api_key=KEY, api_base_url=impostor.base_url
    )
    try:
        result = gateway.query(out_trade_no="M1")
    finally:
        impostor.stop()

    assert result.trade_state == TradeState.SUCCESS
    assert result.notice is not None and result.notice.amount_fen == 100


def test_get_gateway_reads_settings_at_call_time(settings, sandbox_server):
    settings.WECHAT_MCH_ID = "1900000009"

    gateway = get_gateway()

    assert isinstance(gateway, WeChatPayV2Gateway)
    assert (gateway.app_id, gateway.mch_id) == (settings.WECHAT_APP_ID, "1900000009")


def test_prepay_with_a_naive_expiry_is_refused(gateway, notify_target):
    with pytest.raises(ValueError):
        gateway.prepay(**prepay_args(notify_target.url, expires_at=timezone.now().replace(tzinfo=None)))


@given(body=st.binary(max_size=400) | st.text(max_size=200).map(lambda t: f"<xml>{t}</xml>".encode()))
@hypothesis_settings(max_examples=300, deadline=None)
def test_parse_notify_raises_only_invalid_notification_on_any_bytes(body):
    try:
        offline_gateway().parse_notify(body)
    except InvalidNotification:
        pass
