"""WeChat's message push (消息推送) as the sandbox does it: events POSTed to the mall's message URL.

The mini-program admin's configuration (开发 → 开发管理 → 开发设置 → 消息推送) is the sandbox's
`POST /sandbox/message_push` control: the URL, the Token, the EncodingAESKey, the mode (plain /
safe) and the data format (json / xml). Saving it, WeChat checks the URL first, as here: a GET with
`signature`, `timestamp`, `nonce` and `echostr`, which must come back as the body. Defaults, until
configured: the Token and key of Django's settings (WECHAT_MESSAGE_TOKEN, WECHAT_MESSAGE_AES_KEY)
when Django is configured, JSON, and no URL (nothing is pushed; the delivery says so).

A push is a POST of the event (JSON, or a flat XML with nested elements) to the URL with
`?signature=&timestamp=&nonce=` (signature = sha1 of [token, timestamp, nonce] sorted and joined);
in safe mode the body is {"ToUserName", "Encrypt"} (or <xml><ToUserName/><Encrypt/></xml>) and the
query adds `encrypt_type=aes&msg_signature=` (sha1 of [token, timestamp, nonce, Encrypt] sorted).
Encrypt is WeChat's: base64 of AES-256-CBC (key = base64 of EncodingAESKey + "=", IV = its first 16
bytes) over random(16) + length(4, big-endian) + message + appid, PKCS#7-padded to 32 bytes —
written here from WeChat's description, independently of wechatpy, so the sandbox checks our
receiver instead of sharing its bugs. The mall acknowledges with "success" (or an empty body);
anything else is retried, as WeChat does, `retries` times.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wechat.sandbox.host import host_setting
from wechat.sandbox.state import SandboxState
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import format_time, random_token, shanghai_now

PUSH_TIMEOUT_SECONDS = 5  # WeChat waits five seconds for the answer
MODES = ("plain", "safe")
FORMATS = ("json", "xml")
DEFAULT_TOKEN = "sandboxmessagetoken0001"
# What a forged push gets wrong: signed with another token, or not signed at all.
FORGERIES = ("bad_signature", "unsigned")


@dataclass
class PushConfig:
    url: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    mode: str = "plain"
    format: str = "json"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PushDelivery:
    """One POST of a pushed message and what the mall answered."""

    kind: str  # "genuine" or the forgery
    body: str
    status: int | None = None  # None when the request failed
    answer: str = ""
    acknowledged: bool = False  # the answer was "success" (or empty): WeChat stops retrying
    error: str = ""
    sent_at: str = ""
    attempt: int = 1


@dataclass
class _Box:
    config: PushConfig = field(default_factory=PushConfig)


def push_config(state: SandboxState) -> PushConfig:
    """The current configuration (the settings' Token and key until configured)."""
    with state.lock:
        box = state.extras.get("push")
        if not isinstance(box, _Box):
            key = str(host_setting("WECHAT_MESSAGE_AES_KEY", "") or "")
            box = state.extras["push"] = _Box(PushConfig(
                token=str(host_setting("WECHAT_MESSAGE_TOKEN", DEFAULT_TOKEN) or DEFAULT_TOKEN),
                encoding_aes_key=key, mode="safe" if key else "plain"))
        return box.config


def configure(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    """Save a configuration after WeChat's URL check; raises ValueError (saved nothing) if the
    values are invalid or the URL does not echo."""
    current = push_config(state)
    config = PushConfig(url=str(data.get("url", current.url) or ""),
                        token=str(data.get("token", current.token) or ""),
                        encoding_aes_key=str(data.get("encoding_aes_key", current.encoding_aes_key) or ""),
                        mode=str(data.get("mode", current.mode)), format=str(data.get("format", current.format)))
    if not config.url.startswith(("http://", "https://")):
        raise ValueError("url 须为 http(s) 地址")
    if not 3 <= len(config.token) <= 32 or not config.token.isalnum():
        raise ValueError("Token 须为 3–32 位字母或数字")
    if config.mode not in MODES or config.format not in FORMATS:
        raise ValueError(f"mode 须为 {'/'.join(MODES)}，format 须为 {'/'.join(FORMATS)}")
    if config.mode == "safe":
        _aes_key(config.encoding_aes_key)
    verified = _verify_url(config)
    if verified:
        raise ValueError(f"URL 校验失败：{verified}")
    with state.lock:
        push_config(state)
        state.extras["push"].config = config
    return config.as_json()


def _verify_url(config: PushConfig) -> str:
    """WeChat's check of a new URL: "" when it echoed, else what went wrong."""
    timestamp, nonce, echostr = str(int(time.time())), random_token(10, "0123456789"), random_token(19)
    query = {"signature": sign(config.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
             "echostr": echostr}
    try:
        with urllib.request.urlopen(_with_query(config.url, query), timeout=PUSH_TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "" if body.decode("utf-8", "replace") == echostr else "返回内容与 echostr 不一致"


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def deliver(state: SandboxState, message: dict[str, Any], *, kind: str = "genuine", attempt: int = 1) -> PushDelivery:
    """POST `message` to the configured URL once, as WeChat would (or forged as `kind` says)."""
    config = push_config(state)
    timestamp, nonce = str(int(time.time())), random_token(10, "0123456789")
    body = _render(message, config.format)
    token = "not-the-token" if kind == "bad_signature" else config.token
    query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if config.mode == "safe":
        encrypted = encrypt(body, config.encoding_aes_key, state.app_id)
        body = _render({"ToUserName": message.get("ToUserName", ""), "Encrypt": encrypted}, config.format)
        query.update(encrypt_type="aes", msg_signature=sign(token, timestamp, nonce, encrypted))
    if kind == "unsigned":
        query = {"timestamp": timestamp, "nonce": nonce}
    delivery = PushDelivery(kind=kind, body=body.decode("utf-8", "replace"), sent_at=format_time(shanghai_now()),
                            attempt=attempt)
    if not config.url:
        delivery.error = "消息推送未配置 URL"
        return delivery
    content_type = "application/json" if config.format == "json" else "text/xml"
    request = urllib.request.Request(_with_query(config.url, query), data=body, method="POST",
                                     headers={"Content-Type": content_type, "User-Agent": "Mozilla/4.0"})
    try:
        with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_SECONDS) as response:
            delivery.status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        delivery.status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"
        return delivery
    delivery.answer = raw.decode("utf-8", "replace")
    delivery.acknowledged = delivery.status == 200 and raw.strip() in (b"success", b"")
    return delivery


def encrypt(plain: bytes, encoding_aes_key: str, app_id: str) -> str:
    """WeChat's Encrypt field for `plain` (see the module docstring)."""
    key = _aes_key(encoding_aes_key)
    data = os.urandom(16) + struct.pack(">I", len(plain)) + plain + app_id.encode("utf-8")
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt(encrypted: str, encoding_aes_key: str) -> tuple[bytes, str]:
    """(message, appid) from an Encrypt field: the inverse of encrypt(), for the sandbox's own tests."""
    key = _aes_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    data = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    data = data[: -data[-1]]
    (length,) = struct.unpack(">I", data[16:20])
    return data[20:20 + length], data[20 + length:].decode("utf-8")


def _aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except ValueError as exc:
        raise ValueError("EncodingAESKey 须为 43 位 base64 字符") from exc
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("EncodingAESKey 须为 43 位 base64 字符")
    return key


def _render(message: dict[str, Any], data_format: str) -> bytes:
    if data_format == "json":
        return json.dumps(message, ensure_ascii=False).encode("utf-8")
    return ("<xml>" + "".join(_xml_element(k, v) for k, v in message.items()) + "</xml>").encode("utf-8")


def _xml_element(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_xml_element(name, item) for item in value)
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml_element(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"<{name}>{value}</{name}>"
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<{name}><![CDATA[{text}]]></{name}>"


def _with_query(url: str, query: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(query)


# --- control -------------------------------------------------------------------------------------


def control(state: SandboxState, request: Request) -> Response | None:
    """POST /sandbox/message_push {"url"?, "token"?, "encoding_aes_key"?, "mode"?, "format"?}
    -> the saved configuration (after the URL check); GET -> the current one."""
    if request.path.rstrip("/") != "/sandbox/message_push":
        return None
    if request.method == "GET":
        return json_response(push_config(state).as_json())
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    try:
        return json_response(configure(state, data))
    except ValueError as exc:
        return json_response({"error": "INVALID_CONFIG", "message": str(exc)}, 400)
