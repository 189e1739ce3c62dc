"""The Pay v2 adapter's refunds against the sandbox over real HTTPS with the merchant certificate.

Nothing is mocked: the adapter talks mutual TLS to the sandbox's secure listener, and the
sandbox POSTs its encrypted refund notifications to a recording HTTP server.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from wechat.errors import InvalidNotification, RefundRefused, WechatApiError
from wechat.gateway import PaymentGateway, RefundState
from wechat.pay_v2 import get_gateway
from wechat.sandbox.refund_api import REFUND_FORGERIES, encrypt_req_info
from wechat.sandbox.tls import issue_certificates

TRADE = "M20261123000101"


@pytest.fixture
def paid_trade(prepaid: Any, control: Any) -> str:
    prepaid(TRADE, amount_fen=5000)
    control.pay(TRADE, notify=False)
    return TRADE


def refund(gateway: PaymentGateway, url: str, out_refund_no: str = "S2026112300001", amount_fen: int = 1234,
           **kwargs: Any) -> Any:
    return gateway.refund(out_trade_no=kwargs.pop("out_trade_no", TRADE), out_refund_no=out_refund_no,
                          total_fee_fen=kwargs.pop("total_fee_fen", 5000), amount_fen=amount_fen,
                          reason="质量问题", notify_url=url, **kwargs)


def test_a_refund_goes_through_mutual_tls_and_its_notify_decrypts(gateway, paid_trade, control, notify_target):
    accepted = refund(gateway, notify_target.url)

    assert accepted.out_refund_no == "S2026112300001" and accepted.amount_fen == 1234
    assert accepted.refund_id.startswith("50")
    assert control.refund("S2026112300001")["status"] == "PROCESSING"
    settled = control.settle_refund("S2026112300001")
    assert settled["deliveries"][0]["acknowledged"] is True
    notice = gateway.parse_refund_notify(notify_target.bodies[-1])
    assert notice.status == RefundState.SUCCESS
    assert (notice.out_refund_no, notice.refund_id, notice.out_trade_no) == ("S2026112300001", accepted.refund_id,
                                                                            TRADE)
    assert (notice.amount_fen, notice.total_fee_fen) == (1234, 5000)
    assert notice.succeeded_at is not None and notice.succeeded_at.tzinfo is not None
    assert b"req_info" in notify_target.bodies[-1] and b"1234" not in notify_target.bodies[-1]


def test_the_same_refund_number_refunds_once(gateway, paid_trade, control, notify_target):
    first = refund(gateway, notify_target.url)
    again = refund(gateway, notify_target.url)

    assert again.refund_id == first.refund_id
    assert len(control.refunds(TRADE)) == 1
    with pytest.raises(RefundRefused) as refused:
        refund(gateway, notify_target.url, amount_fen=999)
    assert refused.value.errcode == "INVALID_REQUEST"


def test_refunds_never_exceed_the_trade(gateway, paid_trade, control, notify_target):
    refund(gateway, notify_target.url, "S-A", 3000)
    with pytest.raises(RefundRefused) as refused:
        refund(gateway, notify_target.url, "S-B", 2001)
    assert refused.value.errcode == "INVALID_REQUEST"
    refund(gateway, notify_target.url, "S-C", 2000)
    assert sum(r["refund_fee"] for r in control.refunds(TRADE)) == 5000


def test_refusals_and_unknown_outcomes_are_told_apart(gateway, paid_trade, control, notify_target):
    control.refund_options(fail_next=["NOTENOUGH", "SYSTEMERROR"])

    with pytest.raises(RefundRefused) as refused:
        refund(gateway, notify_target.url)
    assert refused.value.errcode == "NOTENOUGH"
    with pytest.raises(WechatApiError) as unknown:
        refund(gateway, notify_target.url)
    assert not isinstance(unknown.value, RefundRefused) and unknown.value.errcode == "SYSTEMERROR"
    assert refund(gateway, notify_target.url).refund_id  # the same number goes through afterwards


def test_an_unpaid_or_unknown_trade_cannot_be_refunded(gateway, prepaid, notify_target):
    prepaid("M-UNPAID", amount_fen=5000)
    with pytest.raises(RefundRefused) as unpaid:
        refund(gateway, notify_target.url, out_trade_no="M-UNPAID")
    assert unpaid.value.errcode == "TRADE_STATE_ERROR"
    with pytest.raises(RefundRefused) as unknown:
        refund(gateway, notify_target.url, out_trade_no="M-NOWHERE")
    assert unknown.value.errcode == "ORDERNOTEXIST"


def test_without_the_client_certificate_the_tls_handshake_fails(sandbox_server, paid_trade, settings, control):
    # Straight at the secure listener with no client certificate: no HTTP answer at all.
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.post(sandbox_server.secure_pay_base_url + "secapi/pay/refund", data=b"<xml></xml>",
                      verify=settings.WECHAT_PAY_CA_BUNDLE, timeout=10)
    # The adapter refuses before trying when no certificate is configured.
    settings.WECHAT_PAY_MCH_CERT = settings.WECHAT_PAY_MCH_KEY = ""
    with pytest.raises(WechatApiError) as no_cert:
        refund(get_gateway(), "http://127.0.0.1:9/")
    assert no_cert.value.errcode == "NO_CERT"
    assert control.refunds() == []


def test_a_certificate_from_another_ca_is_refused_in_the_handshake(sandbox_server, paid_trade, settings, tmp_path,
                                                                   control):
    stranger = issue_certificates(tmp_path, mch_id=settings.WECHAT_MCH_ID)  # same CN, other CA
    settings.WECHAT_PAY_MCH_CERT, settings.WECHAT_PAY_MCH_KEY = str(stranger.client_cert), str(stranger.client_key)

    with pytest.raises(WechatApiError) as failed:
        refund(get_gateway(), "http://127.0.0.1:9/")
    assert failed.value.errcode == "NETWORK_ERROR"
    assert control.refunds() == []


def test_the_plain_listener_refuses_refunds(sandbox_server, paid_trade, settings, control):
    settings.WECHAT_PAY_SECURE_API_BASE = sandbox_server.pay_base_url  # http://: no TLS, no certificate
    with pytest.raises(WechatApiError) as failed:
        refund(get_gateway(), "http://127.0.0.1:9/")
    assert failed.value.errcode == "FAIL"
    assert "证书" in failed.value.errmsg
    assert control.refunds() == []


def test_the_sandbox_server_is_verified_against_its_ca(sandbox_server, paid_trade, settings):
    settings.WECHAT_PAY_CA_BUNDLE = ""  # the system's trust store does not know the sandbox's CA
    with pytest.raises(WechatApiError) as failed:
        refund(get_gateway(), "http://127.0.0.1:9/")
    assert failed.value.errcode == "NETWORK_ERROR"


def test_a_client_header_cannot_pretend_to_hold_the_certificate(sandbox_server, paid_trade, control):
    response = requests.post(sandbox_server.pay_base_url + "secapi/pay/refund", data=b"<xml></xml>",
                             headers={"X-Sandbox-Client-Cert": "1900000001"}, timeout=10)
    assert "证书" in response.text
    assert control.refunds() == []


@pytest.mark.parametrize("kind", [k for k in REFUND_FORGERIES if k != "wrong_amount"])
def test_forged_refund_notifies_are_refused(gateway, paid_trade, control, notify_target, kind):
    refund(gateway, notify_target.url)
    control.settle_refund("S2026112300001")
    control.forge_refund_notify("S2026112300001", kind=kind)

    with pytest.raises(InvalidNotification):
        gateway.parse_refund_notify(notify_target.bodies[-1])


def test_a_notify_with_another_amount_still_parses_for_the_service_to_compare(gateway, paid_trade, control,
                                                                             notify_target):
    refund(gateway, notify_target.url)
    control.settle_refund("S2026112300001")
    control.forge_refund_notify("S2026112300001", kind="wrong_amount")
    assert gateway.parse_refund_notify(notify_target.bodies[-1]).amount_fen == 1235


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><return_code>FAIL</return_code></xml>",
                                  b"<xml><req_info>a</req_info><req_info>b</req_info></xml>", b"\xff\xfe<xml/>"])
def test_garbage_refund_notifies_are_refused_cleanly(gateway, body):
    with pytest.raises(InvalidNotification):
        gateway.parse_refund_notify(body)


def test_a_decryptable_notify_with_missing_fields_is_refused(gateway, settings):
    req_info = encrypt_req_info(b"<root><refund_status>SUCCESS</refund_status></root>", settings.WECHAT_PAY_API_KEY)
    body = (f"<xml><return_code>SUCCESS</return_code><appid>{settings.WECHAT_APP_ID}</appid>"
            f"<mch_id>{settings.WECHAT_MCH_ID}</mch_id><req_info>{req_info}</req_info></xml>").encode()
    with pytest.raises(InvalidNotification):
        gateway.parse_refund_notify(body)


def test_refund_query_follows_the_refund(gateway, paid_trade, control, notify_target):
    assert gateway.query_refund(out_refund_no="S2026112300001") is None
    refund(gateway, notify_target.url)
    assert gateway.query_refund(out_refund_no="S2026112300001").status == RefundState.PROCESSING
    control.settle_refund("S2026112300001", status="CHANGE")
    assert gateway.query_refund(out_refund_no="S2026112300001").status == RefundState.CHANGE


def test_concurrent_duplicate_notifies_are_all_delivered(gateway, paid_trade, control, notify_target):
    refund(gateway, notify_target.url)
    settled = control.settle_refund("S2026112300001", times=3, concurrent=True)
    assert [d["acknowledged"] for d in settled["deliveries"]] == [True, True, True]
    ids = {gateway.parse_refund_notify(body).refund_id for body in notify_target.bodies}
    assert len(ids) == 1


def test_with_the_certificate_the_secure_listener_serves_like_the_plain_one(sandbox_server):
    response = requests.get(sandbox_server.secure_pay_base_url.replace("/pay/", "/sandbox/stats"),
                            cert=(str(sandbox_server.certificates.client_cert),
                                  str(sandbox_server.certificates.client_key)),
                            verify=str(sandbox_server.certificates.ca_cert), timeout=10)
    assert response.status_code == 200
