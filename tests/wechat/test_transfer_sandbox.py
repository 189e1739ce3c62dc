"""The sandbox's 商家转账 (Pay v3) against our gateway: it accepts only requests our merchant signed,
holds a bill once per out_bill_no, refuses what WeChat refuses, and its page confirms receipt as
wx.requestMerchantTransfer would. (The payouts themselves: tests/payments/test_transfers.py.)"""

from __future__ import annotations

import dataclasses
import json

import pytest
import requests

from tests.keys import write_public_key
from wechat.errors import TransferRefused, WechatApiError
from wechat.gateway import TransferBillState, TransferRequest
from wechat.pay_v3 import get_transfer_gateway

REQUEST = TransferRequest(out_bill_no="TB20260101000000000001", openid="oPayee1", amount_fen=1500, remark="佣金提现",
                          scene_id="1005", report_infos=(("岗位类型", "推广员"), ("报酬说明", "佣金提现")),
                          notify_url="http://127.0.0.1:9/unreachable", user_recv_perception="劳务报酬")


def test_only_requests_our_merchant_signed_are_served(sandbox_server):
    bills = f"{sandbox_server.pay_base_url}v3/fund-app/mch-transfer/transfer-bills"
    body = json.dumps({"appid": "wx", "out_bill_no": "TB1"}).encode()
    forged = ('WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="n",signature="c2ln",'
              'timestamp="1700000000",serial_no="1A2B"')

    unsigned = requests.post(bills, data=body, timeout=10)
    wrongly_signed = requests.post(bills, data=body, headers={"Authorization": forged}, timeout=10)

    assert [(r.status_code, r.json()["code"]) for r in (unsigned, wrongly_signed)] == [(401, "SIGN_ERROR")] * 2
    assert unsigned.headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")  # even refusals come signed
    assert sandbox_server.state.extras.get("transfers") is None


def test_one_bill_per_out_bill_no_and_what_wechat_refuses(sandbox_server):
    gateway = get_transfer_gateway()

    first = gateway.create_transfer(REQUEST)
    again = gateway.create_transfer(REQUEST)

    assert (first.state, first.transfer_bill_no, first.package_info) == (
        TransferBillState.WAIT_USER_CONFIRM, again.transfer_bill_no, again.package_info)
    with pytest.raises(TransferRefused) as other_amount:
        gateway.create_transfer(dataclasses.replace(REQUEST, amount_fen=1501))
    with pytest.raises(TransferRefused) as no_report:
        gateway.create_transfer(dataclasses.replace(REQUEST, out_bill_no="TB20260101000000000002", report_infos=()))
    assert (other_amount.value.errcode, no_report.value.errcode) == ("INVALID_REQUEST", "PARAM_ERROR")
    assert list(sandbox_server.state.extras["transfers"].bills) == [REQUEST.out_bill_no]
    assert gateway.query_transfer(out_bill_no="TB20260101000000000002") is None


def test_the_page_confirms_receipt_like_the_mini_program(sandbox_server, control):
    get_transfer_gateway().create_transfer(REQUEST)
    listed = requests.get(f"{sandbox_server.base_url}sandbox/", timeout=10).text

    confirmed = requests.post(f"{sandbox_server.base_url}sandbox/ui/transfer_confirm",
                              data={"out_bill_no": REQUEST.out_bill_no}, timeout=10)

    assert "待用户确认收款" in listed and REQUEST.out_bill_no in listed and "¥15.00" in listed
    assert f"转账 {REQUEST.out_bill_no} 已确认收款" in confirmed.text
    bill = control.transfer(REQUEST.out_bill_no)
    assert bill["state"] == "SUCCESS"
    assert [d["error"].startswith("URLError") for d in bill["deliveries"]] == [True]  # nobody listens there


def test_an_answer_not_signed_by_wechat_pay_is_not_believed(sandbox_server, settings, tmp_path):
    settings.WECHAT_PAY_PUBLIC_KEY = str(write_public_key(tmp_path / "someone_elses_key.pem"))

    with pytest.raises(WechatApiError) as unverified:
        get_transfer_gateway().create_transfer(REQUEST)

    assert unverified.value.errcode == "INVALID_RESPONSE"
    assert "verify the signature" in unverified.value.errmsg
