"""wechat.miniprogram against the sandbox over HTTP: login, the access token, phone numbers."""

from __future__ import annotations

import socket

import pytest
import requests

from wechat import miniprogram
from wechat.errors import InvalidCode, WechatApiError
from wechat.miniprogram import Session

pytestmark = pytest.mark.django_db  # the access token lives in Django's (database) cache


def test_code_to_session_returns_openid_and_session_key(control):
    login = control.login_code(openid="o-alice")

    session = miniprogram.code_to_session(login["code"])

    assert session.openid == "o-alice"
    assert session.unionid == ""
    assert len(session.session_key) == 24  # base64 of 16 bytes, as WeChat issues it
    assert session == Session(openid="o-alice", session_key=session.session_key)


def test_code_to_session_returns_unionid_when_wechat_has_one(control):
    login = control.login_code(openid="o-bob", unionid="u-bob")

    session = miniprogram.code_to_session(login["code"])

    assert (session.openid, session.unionid) == ("o-bob", "u-bob")


def test_code_to_session_for_a_new_user_gets_the_sandbox_generated_openid(control):
    login = control.login_code()

    session = miniprogram.code_to_session(login["code"])

    assert session.openid == login["openid"]
    assert len(session.openid) == 28


def test_code_to_session_reused_code_raises_invalid_code(control):
    login = control.login_code(openid="o-alice")
    miniprogram.code_to_session(login["code"])

    with pytest.raises(InvalidCode) as excinfo:
        miniprogram.code_to_session(login["code"])

    assert excinfo.value.detail == {"errcode": 40163}
    assert excinfo.value.status == 400


def test_code_to_session_unknown_code_raises_invalid_code(sandbox_server):
    with pytest.raises(InvalidCode) as excinfo:
        miniprogram.code_to_session("never-issued")

    assert excinfo.value.detail == {"errcode": 40029}


def test_code_to_session_empty_code_raises_invalid_code_without_calling_wechat(control):
    with pytest.raises(InvalidCode):
        miniprogram.code_to_session("")

    assert control.stats() == {}


def test_code_to_session_wrong_secret_raises_wechat_api_error(control, settings):
    login = control.login_code(openid="o-alice")
    settings.WECHAT_APP_SECRET = "not-the-secret"

    with pytest.raises(WechatApiError) as excinfo:
        miniprogram.code_to_session(login["code"])

    assert excinfo.value.errcode == 40125
    assert excinfo.value.status == 502


def test_code_to_session_when_wechat_answers_an_http_error_says_which(control):
    login = control.login_code(openid="o-carol")
    control.faults(fail_ratio=1, paths=["/sns/jscode2session"])  # the first failure is an HTTP 503

    with pytest.raises(WechatApiError) as excinfo:
        miniprogram.code_to_session(login["code"])

    assert (excinfo.value.errcode, excinfo.value.errmsg) == ("HTTP_ERROR", "HTTP 503")


def test_code_to_session_needs_no_access_token(control):
    miniprogram.code_to_session(control.login_code()["code"])

    assert control.stats() == {"jscode2session": 1}


def test_network_failure_raises_wechat_api_error(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.WECHAT_API_BASE = f"http://127.0.0.1:{port}/"

    with pytest.raises(WechatApiError) as excinfo:
        miniprogram.code_to_session("any")

    assert excinfo.value.errcode == "NETWORK_ERROR"


def test_get_access_token_is_cached_across_calls(control):
    first = miniprogram.get_access_token()

    second = miniprogram.get_access_token()

    assert second == first
    assert control.stats() == {"stable_token": 1}


def test_get_access_token_force_refresh_issues_a_new_token(control):
    first = miniprogram.get_access_token()

    refreshed = miniprogram.get_access_token(force_refresh=True)

    assert refreshed != first
    assert miniprogram.get_access_token() == refreshed  # the refreshed token replaced the cached one
    assert control.stats() == {"stable_token": 2}


def test_get_access_token_wrong_secret_raises_wechat_api_error(sandbox_server, settings):
    settings.WECHAT_APP_SECRET = "not-the-secret"

    with pytest.raises(WechatApiError) as excinfo:
        miniprogram.get_access_token()

    assert excinfo.value.errcode == 40125


def test_get_phone_number_returns_the_pure_phone_number(control):
    code = control.phone_code("13800138000")

    phone = miniprogram.get_phone_number(code)

    assert phone == "13800138000"
    assert control.stats() == {"stable_token": 1, "getuserphonenumber": 1}


def test_get_phone_number_reused_code_raises_invalid_code(control):
    code = control.phone_code("13800138000")
    miniprogram.get_phone_number(code)

    with pytest.raises(InvalidCode) as excinfo:
        miniprogram.get_phone_number(code)

    assert excinfo.value.detail == {"errcode": 40029}


def test_get_phone_number_refreshes_an_expired_token_once_and_retries(control):
    stale = miniprogram.get_access_token()
    control.expire_tokens()  # WeChat now answers 42001 for the cached token
    code = control.phone_code("13900139000")

    phone = miniprogram.get_phone_number(code)

    assert phone == "13900139000"
    assert miniprogram.get_access_token() != stale
    assert control.stats() == {"stable_token": 2, "getuserphonenumber": 2}


def test_get_phone_number_recovers_when_another_process_force_refreshed(control):
    stale = miniprogram.get_access_token()
    # Another process forced a refresh: our cached token is now invalid (40001) at WeChat.
    fresh = control_force_refresh(control)
    code = control.phone_code("13700137000")

    phone = miniprogram.get_phone_number(code)

    assert phone == "13700137000"
    assert miniprogram.get_access_token() == fresh != stale
    # One normal-mode fetch sufficed: we did not force yet another refresh on everyone.
    assert control.stats() == {"stable_token": 3, "getuserphonenumber": 2}


def control_force_refresh(control) -> str:
    """What another process calling stable_token in force mode does (raw HTTP, our settings)."""
    from django.conf import settings

    answer = requests.post(
        f"{control.base_url}cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": settings.WECHAT_APP_ID,
            "secret": settings.WECHAT_APP_SECRET,
            "force_refresh": True,
        },
        timeout=10,
    ).json()
    return str(answer["access_token"])
