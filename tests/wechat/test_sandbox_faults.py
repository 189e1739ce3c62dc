"""The sandbox's fault injection (wechat.sandbox.faults): a share of WeChat's calls fail or wait,
the control endpoints never do."""

from __future__ import annotations

import pytest
import requests

from wechat.sandbox.client import SandboxRefused
from wechat.sandbox.wire import parse_xml, sign_md5, signed, to_xml


def unifiedorder(sandbox_server, out_trade_no: str) -> requests.Response:
    state = sandbox_server.state
    fields = {"appid": state.app_id, "mch_id": state.mch_id, "body": "蛋糕", "out_trade_no": out_trade_no,
              "total_fee": "100", "spbill_create_ip": "127.0.0.1", "notify_url": "http://127.0.0.1:9/notify",
              "trade_type": "JSAPI", "openid": "o-1"}
    return requests.post(f"{sandbox_server.pay_base_url}pay/unifiedorder", timeout=10,
                         data=to_xml(signed(fields, state.api_key)))


def test_every_call_failing_alternates_a_503_and_a_signed_systemerror_and_creates_nothing(sandbox_server, control):
    control.faults(fail_ratio=1)

    first, second = unifiedorder(sandbox_server, "F1"), unifiedorder(sandbox_server, "F2")

    assert first.status_code == 503
    reply = parse_xml(second.content)
    assert reply is not None
    assert (reply["return_code"], reply["result_code"], reply["err_code"]) == ("SUCCESS", "FAIL", "SYSTEMERROR")
    assert reply["sign"] == sign_md5(reply, sandbox_server.state.api_key)
    assert sandbox_server.state.trades == {}
    # the control endpoints are never faulted
    assert control.login_code()["code"]
    report = control.faults_report()
    assert report["counts"] == {"/pay/pay/unifiedorder fail_http": 1, "/pay/pay/unifiedorder fail_busy": 1}
    assert report["total"] == {"fail": 2, "delay": 0}
    assert [(e["path"], e["kind"]) for e in report["injected"]] == [
        ("/pay/pay/unifiedorder", "fail_http"), ("/pay/pay/unifiedorder", "fail_busy")]


def test_only_the_listed_paths_are_faulted_and_a_delayed_call_is_still_served(sandbox_server, control):
    control.faults(delay_ratio=1, delay_seconds=0, paths=["/pay/pay/unifiedorder"])

    served = parse_xml(unifiedorder(sandbox_server, "D1").content)
    code = control.login_code()["code"]
    session = requests.get(f"{sandbox_server.base_url}sns/jscode2session", timeout=10, params={
        "appid": sandbox_server.state.app_id, "secret": sandbox_server.state.app_secret, "js_code": code,
        "grant_type": "authorization_code"}).json()

    assert served is not None and served["result_code"] == "SUCCESS"
    assert "D1" in sandbox_server.state.trades
    assert session.get("errcode", 0) == 0
    assert control.faults_report()["counts"] == {"/pay/pay/unifiedorder delay": 1}


def test_turned_off_nothing_is_injected_and_bad_settings_are_refused(sandbox_server, control):
    control.faults(fail_ratio=1)
    control.faults(fail_ratio=0)

    assert unifiedorder(sandbox_server, "N1").status_code == 200
    assert control.faults_report()["total"] == {"fail": 0, "delay": 0}
    with pytest.raises(SandboxRefused) as refused:
        control.faults(fail_ratio=2)
    assert (refused.value.status, refused.value.code) == (400, "INVALID_ARGUMENT")
    with pytest.raises(SandboxRefused):
        control.faults(delay_seconds=61)
