"""The sandbox's subscribeMessage.send: WeChat's checks, in WeChat's words, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.conf import settings

from wechat.sandbox.client import SandboxControl, SandboxRefused

PAID = "sandbox-tmpl-order-paid"
OPENID = "o-sandbox-shopper-0001"
GOOD_DATA = {"character_string1": "M20261123000001", "amount2": "¥12.30", "thing3": "有机奶粉 ×2",
             "time4": "2026年11月23日 12:00"}


def token(base: str) -> str:
    answer = requests.post(f"{base}cgi-bin/stable_token", timeout=10, json={
        "grant_type": "client_credential", "appid": settings.WECHAT_APP_ID, "secret": settings.WECHAT_APP_SECRET})
    return str(answer.json()["access_token"])


def send(base: str, access_token: str | None = None, **body) -> dict:
    payload: dict[str, Any] = {"touser": OPENID, "template_id": PAID, "page": "pages/order/detail?order_no=M1",
               "data": {k: {"value": v} for k, v in GOOD_DATA.items()}}
    payload.update(body)
    answer = requests.post(f"{base}cgi-bin/message/subscribe/send", timeout=10,
                           params={"access_token": access_token or token(base)}, json=payload)
    assert answer.status_code == 200  # WeChat answers errors with HTTP 200 and an errcode
    return answer.json()


@pytest.fixture
def base(sandbox: SandboxControl) -> str:
    return sandbox.base_url


def test_an_accepted_template_allows_exactly_one_message(base, sandbox):
    answer = sandbox.subscribe(OPENID, {PAID: "accept"})
    assert answer == {"errMsg": "requestSubscribeMessage:ok", PAID: "accept"}

    first, second = send(base), send(base)

    assert first["errcode"] == 0 and first["errmsg"] == "ok"
    assert second["errcode"] == 43101
    delivered = sandbox.messages(touser=OPENID)
    assert len(delivered) == 1
    assert delivered[0]["data"] == GOOD_DATA
    assert delivered[0]["template_id"] == PAID and delivered[0]["title"] == "订单支付成功通知"
    assert sandbox.subscriptions(OPENID) == {PAID: 0}


def test_each_accept_is_one_more_consent_and_reject_adds_none(base, sandbox):
    sandbox.subscribe(OPENID, {PAID: "accept"})
    sandbox.subscribe(OPENID, {PAID: "accept"})
    sandbox.subscribe(OPENID, {PAID: "reject"})

    assert sandbox.subscriptions(OPENID) == {PAID: 2}
    assert [send(base)["errcode"] for _ in range(3)] == [0, 0, 43101]


def test_without_consent_wechat_answers_43101_and_delivers_nothing(base, sandbox):
    assert send(base)["errcode"] == 43101
    assert sandbox.messages() == []


def test_an_invalid_or_expired_token_is_refused(base, sandbox):
    sandbox.subscribe(OPENID, {PAID: "accept"})
    assert send(base, access_token="not-a-token")["errcode"] == 40001
    live = token(base)
    sandbox.expire_tokens()
    assert send(base, access_token=live)["errcode"] == 42001
    assert sandbox.subscriptions(OPENID) == {PAID: 1}


def test_an_unknown_template_is_40037(base, sandbox):
    assert send(base, template_id="no-such-template")["errcode"] == 40037


def test_a_malformed_openid_is_40003(base, sandbox):
    assert send(base, touser="")["errcode"] == 40003


@pytest.mark.parametrize(("key", "value", "errmsg"), [
    ("thing3", "有机婴儿奶粉 1段 800g 罐装 新西兰原装进口", "data.thing3.value invalid"),
    ("amount2", "十二元", "data.amount2.value invalid"),
    ("time4", "2026年11月23日", "data.time4.value invalid"),
    ("character_string1", "订单M1", "data.character_string1.value invalid"),
    ("thing3", "", "data.thing3.value is empty"),
])
def test_a_field_beyond_its_limits_is_47003_naming_the_field(base, sandbox, key, value, errmsg):
    sandbox.subscribe(OPENID, {PAID: "accept"})
    data = {k: {"value": v} for k, v in {**GOOD_DATA, key: value}.items()}

    answer = send(base, data=data)

    assert answer["errcode"] == 47003
    assert answer["errmsg"].startswith(f"argument invalid! {errmsg}")
    assert sandbox.subscriptions(OPENID) == {PAID: 1}  # a refused message spends no consent


def test_a_missing_field_is_47003(base, sandbox):
    data = {k: {"value": v} for k, v in GOOD_DATA.items() if k != "time4"}
    assert send(base, data=data)["errmsg"].startswith("argument invalid! data.time4.value is empty")


def test_a_phrase_field_allows_5_chinese_characters(base, sandbox):
    sandbox.register_template("tmpl-progress", ["phrase1", "thing2"], title="进度")
    sandbox.subscribe(OPENID, {"tmpl-progress": "accept"})
    data = {"phrase1": {"value": "退款处理中了"}, "thing2": {"value": "x"}}

    assert send(base, template_id="tmpl-progress", data=data)["errmsg"].startswith(
        "argument invalid! data.phrase1.value invalid")
    data["phrase1"] = {"value": "退款成功"}
    assert send(base, template_id="tmpl-progress", data=data)["errcode"] == 0


def test_injected_faults_answer_in_order_and_spend_no_consent(base, sandbox):
    sandbox.subscribe(OPENID, {PAID: "accept"})
    assert sandbox.fail_messages(-1, -1) == [-1, -1]

    assert [send(base)["errcode"] for _ in range(3)] == [-1, -1, 0]
    assert len(sandbox.messages()) == 1


def test_the_phone_subscribes_to_at_most_3_known_templates(sandbox):
    with pytest.raises(SandboxRefused) as unknown:
        sandbox.subscribe(OPENID, {"no-such-template": "accept"})
    assert unknown.value.code == "20001"
    ids = ["sandbox-tmpl-order-paid", "sandbox-tmpl-order-shipped", "sandbox-tmpl-birthday",
           "sandbox-tmpl-coupon-expiring"]
    with pytest.raises(SandboxRefused) as too_many:
        sandbox.subscribe(OPENID, dict.fromkeys(ids, "accept"))
    assert too_many.value.code == "10002"
    with pytest.raises(SandboxRefused):
        sandbox.subscribe(OPENID, {PAID: "maybe"})
    assert sandbox.subscriptions(OPENID) == {}


def test_reset_forgets_consents_and_messages(base, sandbox):
    sandbox.subscribe(OPENID, {PAID: "accept"})
    send(base)
    sandbox.reset()
    assert sandbox.messages() == [] and sandbox.subscriptions(OPENID) == {}
