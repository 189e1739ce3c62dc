"""The message push URL (/api/v1/wechat/messages) refusing what WeChat did not send: the URL check,
signatures, safe-mode encryption and hostile bodies. Bodies are signed and encrypted by the sandbox's
own implementation of WeChat's push (wechat.sandbox.push), not by the code under test."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from wechat.models import MediaCheck, MediaCheckStatus
from wechat.sandbox.push import encrypt, sign

URL = "/api/v1/wechat/messages"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
                             for i in range(1, 10))
                  + b"]><xml><Event>&lol9;</Event></xml>")


def signed_query(settings, *, encrypted: str | None = None, token: str | None = None) -> str:
    token = token or settings.WECHAT_MESSAGE_TOKEN
    timestamp, nonce = str(int(time.time())), "1234567890"
    query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if encrypted is not None:
        query.update(encrypt_type="aes", msg_signature=sign(token, timestamp, nonce, encrypted))
    return urlencode(query)


def post(client, settings, body: bytes, *, content_type: str = "application/json", **query_options):
    return client.post(f"{URL}?{signed_query(settings, **query_options)}", body, content_type=content_type)


def media_event(trace_id: str, suggest: str = "pass") -> dict:
    return {"ToUserName": "gh_x", "FromUserName": "o1", "CreateTime": 1, "MsgType": "event",
            "Event": "wxa_media_check", "appid": "wxsandbox0000000001", "trace_id": trace_id, "version": 2,
            "errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": 100},
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": 100, "prob": 90}]}


def test_the_url_check_echoes_only_for_our_token(client, settings):
    good = client.get(f"{URL}?{signed_query(settings)}&echostr=4375120948345356249")
    forged = client.get(f"{URL}?{signed_query(settings, token='another')}&echostr=4375120948345356249")
    bare = client.get(f"{URL}?echostr=1")

    assert (good.status_code, good.content, good["Content-Type"]) == (200, b"4375120948345356249",
                                                                       "text/plain; charset=utf-8")
    assert forged.status_code == bare.status_code == 403
    assert forged.json()["code"] == "push_signature_invalid"


@pytest.mark.parametrize("body", [
    b"", b"garbage", b"{", b"[1, 2]", b'"text"', b"[" * 60_000, b'{"a":' * 20_000, b"\xff\xfe{}",
    b"<xml><Event>wxa_media_check</Event>", BILLION_LAUGHS,
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Event>&e;</Event></xml>',
    b"{" + b" " * 70_000 + b"}",
], ids=lambda body: f"{body[:12]!r}…{len(body)}")
def test_signed_garbage_is_a_400_and_changes_nothing(db, client, settings, body):
    response = post(client, settings, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_push"


@pytest.mark.parametrize("event", [
    {"Event": "wxa_media_check"}, {"Event": "wxa_media_check", "trace_id": "t", "result": "pass"},
    {"Event": "wxa_media_check", "trace_id": "t", "result": {"suggest": "maybe"}},
    {"Event": "wxa_media_check", "trace_id": ["t"], "result": {"suggest": "pass"}},
    {"Event": "wxa_media_check", "trace_id": "t" * 65, "result": {"suggest": "pass"}},
])
def test_a_malformed_media_check_event_is_a_400(db, client, settings, event):
    assert post(client, settings, json.dumps(event).encode()).status_code == 400


def test_a_verdict_for_an_unknown_trace_id_is_a_404_so_wechat_pushes_again(db, client, settings):
    response = post(client, settings, json.dumps(media_event("not-ours")).encode())

    assert response.status_code == 404 and response.json()["code"] == "media_check_not_found"


def test_other_events_are_acknowledged_and_ignored(db, client, settings):
    response = post(client, settings, b"<xml><MsgType><![CDATA[event]]></MsgType>"
                                      b"<Event><![CDATA[user_enter_tempsession]]></Event></xml>",
                    content_type="text/xml")

    assert (response.status_code, response.content) == (200, b"success")


@pytest.fixture
def pending_check(db):
    return MediaCheck.objects.create(kind="review_photo", object_id=1, openid="o1", media_name="reviews/x.jpg",
                                     trace_id="trace-safe")


def test_safe_mode_refuses_plain_and_foreign_messages_and_reads_its_own(client, settings, pending_check):
    settings.WECHAT_MESSAGE_AES_KEY = AES_KEY
    event = json.dumps(media_event("trace-safe", "risky")).encode()
    foreign = encrypt(event, AES_KEY, "wx-another-app")
    ours = encrypt(event, AES_KEY, settings.WECHAT_APP_ID)

    plain = post(client, settings, event)
    other_app = post(client, settings, json.dumps({"Encrypt": foreign}).encode(), encrypted=foreign)
    tampered = post(client, settings, json.dumps({"Encrypt": ours[:-8] + "AAAAAAA="}).encode(), encrypted=ours)
    not_base64 = post(client, settings, json.dumps({"Encrypt": "%%%"}).encode(), encrypted="%%%")

    assert [r.status_code for r in (plain, other_app, not_base64)] == [400, 400, 400]
    assert tampered.status_code == 403  # msg_signature covers Encrypt
    assert MediaCheck.objects.get(pk=pending_check.pk).status == MediaCheckStatus.PENDING

    accepted = post(client, settings, json.dumps({"ToUserName": "gh_x", "Encrypt": ours}).encode(), encrypted=ours)

    assert (accepted.status_code, accepted.content) == (200, b"success")
    assert MediaCheck.objects.get(pk=pending_check.pk).status == MediaCheckStatus.RISKY
