"""WeChat's message push (消息推送) to our server: verifying and reading what WeChat sends.

Configured in the mini-program admin (开发 → 开发管理 → 开发设置 → 消息推送): the URL (ours,
`wechat.api.views.MessagePushView`), a Token (WECHAT_MESSAGE_TOKEN), an EncodingAESKey
(WECHAT_MESSAGE_AES_KEY) and the data format (JSON or XML; both are read here).

- Saving the configuration, WeChat checks the URL with a GET carrying `signature`, `timestamp`,
  `nonce` and `echostr`: signature = sha1 of [token, timestamp, nonce] sorted and joined; the
  answer is echostr (`push_echo`).
- Plain mode (明文模式): each POST carries the same signature in its query; the body is the
  message. The signature proves the sender knows the token, not the body, so consumers also check
  what a message refers to (a media check's trace_id is known only to WeChat and us).
- Safe mode (安全模式), when WECHAT_MESSAGE_AES_KEY is set: the body is {"Encrypt": …} (or
  `<xml><Encrypt>…`), the query adds `encrypt_type=aes` and `msg_signature` = sha1 of [token,
  timestamp, nonce, Encrypt] sorted; Encrypt is AES-256-CBC under the key and must name our appid
  (wechatpy's PrpCrypto). With a key configured, plain messages are refused.

Bodies are at most MAX_PUSH_BYTES of UTF-8 without a DTD (wechat.inbound); XML is read by xmltodict,
which refuses entity declarations too; JSON nested past the parser's depth is refused.
Signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import struct
from collections.abc import Mapping
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from django.conf import settings
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import WeChatException

from wechat.errors import InvalidPush, PushSignatureInvalid
from wechat.inbound import inbound_text
from wechat.media_checks import EVENT as MEDIA_CHECK_EVENT
from wechat.media_checks import media_check_record_verdict, media_verdict_from_event

logger = logging.getLogger(__name__)

MAX_PUSH_BYTES = 64 * 1024


def push_receive(*, body: bytes, query: Mapping[str, str]) -> str:
    """Verify one pushed message and act on it: a media check's verdict is recorded ("recorded",
    or "duplicate" for a repeat); events we do not subscribe to are acknowledged ("ignored").
    Raises InvalidPush / PushSignatureInvalid, or the verdict's own errors; changes nothing then."""
    message = push_message(body=body, query=query)
    event = message.get("Event")
    if event == MEDIA_CHECK_EVENT:
        return media_check_record_verdict(verdict=media_verdict_from_event(message))
    logger.info("WeChat pushed %s %s: nothing to do", message.get("MsgType"), str(event)[:40])
    return "ignored"


def push_signature(*parts: str) -> str:
    """WeChat's push signature: sha1 of the parts sorted and concatenated, lower-case hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def push_echo(query: Mapping[str, str]) -> str:
    """The URL check: `echostr` when `signature` is right for our token, else PushSignatureInvalid."""
    _check(query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
    echostr = query.get("echostr", "")
    if not echostr:
        raise InvalidPush(detail={"reason": "echostr"})
    return echostr


def push_message(*, body: bytes, query: Mapping[str, str]) -> dict[str, Any]:
    """The message WeChat pushed, verified: its fields as a dict (JSON as sent; XML as
    xmltodict reads it, text values). Raises PushSignatureInvalid (403) when it is not signed
    with our token, InvalidPush (400) for anything else that is not a readable message."""
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    _check(query.get("signature", ""), timestamp, nonce)
    if len(body) > MAX_PUSH_BYTES:
        raise InvalidPush(detail={"reason": "too_large"})
    message = _parse(body)
    aes_key = settings.WECHAT_MESSAGE_AES_KEY
    if not aes_key:
        return message
    if query.get("encrypt_type") != "aes" or not isinstance(message.get("Encrypt"), str):
        raise InvalidPush(detail={"reason": "not_encrypted"})
    encrypted = message["Encrypt"]
    _check(query.get("msg_signature", ""), timestamp, nonce, encrypted)
    try:
        base64.b64decode(encrypted, validate=True)  # strict: wechatpy's decoder skips stray characters
        key = base64_key(aes_key)
        plain = PrpCrypto(key).decrypt(encrypted, settings.WECHAT_APP_ID)
    # Not base64, not whole blocks, too short, not UTF-8, another appid: not from WeChat.
    except (WeChatException, ValueError, TypeError, IndexError, struct.error, binascii.Error) as exc:
        raise InvalidPush(detail={"reason": "decrypt"}) from exc
    return _parse(plain.encode("utf-8"))


def base64_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key an EncodingAESKey (43 characters of base64) stands for."""
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters of base64 (32 bytes)")
    return key


def _check(signature: str, *parts: str) -> None:
    expected = push_signature(settings.WECHAT_MESSAGE_TOKEN, *parts)
    if not signature or not hmac.compare_digest(signature.encode("utf-8", "replace"), expected.encode("ascii")):
        raise PushSignatureInvalid()


def _parse(body: bytes) -> dict[str, Any]:
    try:
        text = inbound_text(body).lstrip()
        if text.startswith("{"):
            data = json.loads(text)
        else:
            data = xmltodict.parse(text)["xml"]
    # Not UTF-8, not JSON, not XML, a DTD, nested too deep, no <xml> root: not a message.
    except (ValueError, ExpatError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidPush(detail={"reason": "malformed"}) from exc
    if not isinstance(data, dict):
        raise InvalidPush(detail={"reason": "malformed"})
    return data
