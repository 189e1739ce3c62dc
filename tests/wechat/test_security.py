"""wechat.security.text_check (msgSecCheck v2) against the sandbox over HTTP."""

from __future__ import annotations

import socket

import pytest
import requests

from wechat import security
from wechat.errors import WechatApiError
from wechat.security import Scene, Suggest

pytestmark = pytest.mark.django_db  # the access token lives in Django's (database) cache


@pytest.fixture
def openid(control) -> str:
    """A user who opened the mini-program just now (wx.login)."""
    return control.login_code(openid="o-reviewer")["openid"]


def test_clean_text_passes_and_sends_what_v2_requires(control, openid):
    verdict = security.text_check(content="宝宝很喜欢，质量很好", openid=openid)

    assert verdict.suggest == Suggest.PASS
    assert verdict.label == 100 and verdict.label_text == "正常"
    assert verdict.trace_id
    [check] = control.security_checks()
    assert check["body"] == {"content": "宝宝很喜欢，质量很好", "version": 2, "scene": 2, "openid": "o-reviewer"}
    assert check["errcode"] == 0


def test_default_words_make_text_risky_or_review(control, openid):
    risky = security.text_check(content="这里有违禁内容", openid=openid)
    review = security.text_check(content="这条待审一下", openid=openid)

    assert (risky.suggest, risky.label, risky.label_text) == (Suggest.RISKY, 20006, "违法犯罪")
    assert (risky.strategy, risky.keyword) == ("keyword", "违禁")
    assert (review.suggest, review.label) == (Suggest.REVIEW, 21000)


def test_word_lists_are_configurable(control, openid):
    control.security_words(risky=["广告词"], review=["可疑"], labels={"广告词": 10001})

    assert security.text_check(content="加微信买广告词", openid=openid).label_text == "广告"
    assert security.text_check(content="有点可疑", openid=openid).suggest == Suggest.REVIEW
    assert security.text_check(content="违禁已不在名单", openid=openid).suggest == Suggest.PASS


def test_scene_is_sent(control, openid):
    security.text_check(content="昵称", openid=openid, scene=Scene.PROFILE, nickname="小明")

    assert control.security_checks()[0]["body"]["scene"] == 1
    assert control.security_checks()[0]["body"]["nickname"] == "小明"


def test_empty_text_needs_no_call(control, openid):
    assert security.text_check(content="", openid=openid).suggest == Suggest.PASS
    assert control.security_checks() == []


def test_long_text_is_checked_in_parts_and_the_worst_part_wins(control, openid):
    text = "好" * 2500 + "违禁"

    verdict = security.text_check(content=text, openid=openid)

    assert verdict.suggest == Suggest.RISKY
    assert [len(c["body"]["content"]) for c in control.security_checks()] == [2500, 2]


def test_expired_token_is_refreshed_once_and_the_check_retried(control, openid):
    security.text_check(content="第一次", openid=openid)
    control.expire_tokens()

    verdict = security.text_check(content="第二次", openid=openid)

    assert verdict.suggest == Suggest.PASS
    assert [c["errcode"] for c in control.security_checks()] == [0, 42001, 0]


def test_unknown_openid_is_40003(control):
    with pytest.raises(WechatApiError) as info:
        security.text_check(content="你好", openid="o-never-logged-in")
    assert info.value.errcode == 40003


def test_user_not_seen_for_two_hours_is_61010(control, openid):
    control.security_stale_user(openid)

    with pytest.raises(WechatApiError) as info:
        security.text_check(content="你好", openid=openid)
    assert info.value.errcode == 61010


def test_wechat_system_error_raises_without_a_verdict(control, openid):
    control.security_fail_next(1, errcode=-1)

    with pytest.raises(WechatApiError) as info:
        security.text_check(content="你好", openid=openid)
    assert info.value.errcode == -1
    assert security.text_check(content="你好", openid=openid).suggest == Suggest.PASS


def test_network_failure_raises(settings, db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.WECHAT_API_BASE = f"http://127.0.0.1:{port}/"

    with pytest.raises(WechatApiError) as info:
        security.text_check(content="你好", openid="o-x")
    assert info.value.errcode == "NETWORK_ERROR"


# --- the sandbox checks the request like WeChat does ------------------------------------------


def _raw(sandbox_server, body, token):
    return requests.post(f"{sandbox_server.base_url}wxa/msg_sec_check", params={"access_token": token},
                         json=body, timeout=5).json()


@pytest.mark.parametrize("body", [
    {"content": "你好", "version": 1, "scene": 2, "openid": "o-reviewer"},
    {"content": "你好", "scene": 2, "openid": "o-reviewer"},
    {"content": "你好", "version": 2, "scene": 9, "openid": "o-reviewer"},
    {"content": "", "version": 2, "scene": 2, "openid": "o-reviewer"},
    {"content": "你好", "version": 2, "scene": 2},
    {"content": "好" * 2501, "version": 2, "scene": 2, "openid": "o-reviewer"},
])
def test_sandbox_refuses_malformed_v2_requests_with_47001(sandbox_server, openid, body):
    from wechat.miniprogram import get_access_token

    assert _raw(sandbox_server, body, get_access_token())["errcode"] == 47001


def test_sandbox_refuses_an_unknown_token_with_40001(sandbox_server, openid):
    body = {"content": "你好", "version": 2, "scene": 2, "openid": openid}
    assert _raw(sandbox_server, body, "not-a-token")["errcode"] == 40001
