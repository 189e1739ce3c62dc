"""Mini-program server APIs: login (jscode2session), the access token, the phone number, and
mini-program codes (getwxacodeunlimit).

Every call goes over HTTP to `settings.WECHAT_API_BASE` — the local sandbox in development and
tests, `https://api.weixin.qq.com/` in production — through wechatpy's client with its base URL
overridden, so both run the same code. Settings are read at call time.

Errors: an invalid, expired or reused code raises `InvalidCode` (400, the shopper logs in
again); any other WeChat error or a network failure raises `WechatApiError` (502, retry later).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from core.errors import ValidationFailed
from wechat.errors import InvalidCode, WechatApiError, http_error_text

# jscode2session / getuserphonenumber: 40029 invalid code, 40163 code already used.
INVALID_CODE_ERRCODES = frozenset({40029, 40163})
# The access token was rejected: 40001 invalid (or no longer the latest), 42001 expired.
TOKEN_REJECTED_ERRCODES = frozenset({40001, 42001})
# Stop using a token this long before WeChat says it expires, so a request never carries a
# token that dies in flight; 5 minutes is also how long WeChat keeps an old token alive.
TOKEN_EARLY_REFRESH_SECONDS = 300

# getwxacodeunlimit (小程序码, permanent, unlimited in number). WeChat's rules for its input:
# scene is at most 32 visible characters of this set (no "%", so Chinese cannot be URL-encoded
# into it); page is a path like pages/index/index, no leading "/" and no query string.
WXACODE_SCENE_MAX = 32
WXACODE_SCENE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
WXACODE_PAGE = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*")
WXACODE_WIDTH_MIN, WXACODE_WIDTH_MAX = 280, 1280
WXACODE_ENV_VERSIONS = ("release", "trial", "develop")
# WeChat refusing our input rather than failing: 40129 invalid scene, 40169 scene too long,
# 41030 invalid page (or, with check_path, a page the released version does not have).
WXACODE_INPUT_ERRCODES: dict[int, tuple[str, str]] = {
    40129: ("invalid_wxacode_scene", "小程序码场景值不合法"),
    40169: ("invalid_wxacode_scene", "小程序码场景值超过 32 个字符"),
    41030: ("invalid_wxacode_page", "小程序页面路径不合法或未发布"),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Session:
    """What jscode2session returns. `session_key` is a secret: it never leaves the server."""

    openid: str
    session_key: str
    unionid: str = ""


def code_to_session(code: str) -> Session:
    """Exchange a `wx.login()` code for the member's openid and session key.

    Needs no access token. Each code works once (WeChat: 5 minutes); a reused or unknown code
    raises InvalidCode. No caching and no retry: a code cannot be replayed anyway.
    """
    if not code:
        raise InvalidCode()
    result = _call(
        "get",
        "sns/jscode2session",
        params={
            "appid": settings.WECHAT_APP_ID,
            "secret": settings.WECHAT_APP_SECRET,
            "js_code": code,
            "grant_type": "authorization_code",
        },
    )
    openid, session_key = result.get("openid"), result.get("session_key")
    if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
        raise WechatApiError("BAD_RESPONSE", "jscode2session returned no openid/session_key")
    unionid = result.get("unionid")
    return Session(openid=openid, session_key=session_key, unionid=unionid if isinstance(unionid, str) else "")


def get_access_token(force_refresh: bool = False) -> str:
    """The app's access token, shared by every process through Django's cache.

    Fetched with `cgi-bin/stable_token`, whose normal mode returns the same token to every
    caller while it is valid, so several processes refreshing at once do not invalidate each
    other. Cached until TOKEN_EARLY_REFRESH_SECONDS before it expires.

    `force_refresh=True` skips our cache and asks WeChat in force mode, which invalidates the
    current token for everyone (WeChat allows this only a few times a day): use it only when a
    freshly fetched token is still rejected. Ordinary retries use `_token_after_rejection()`.
    """
    key = _token_cache_key()
    if not force_refresh:
        cached = cache.get(key)
        if isinstance(cached, str) and cached:
            return cached
    return _token_fetch(force_refresh=force_refresh)


def get_phone_number(code: str) -> str:
    """The phone number the member agreed to share (getPhoneNumber button), without country code.

    Each code works once (WeChat: 5 minutes); an invalid or reused one raises InvalidCode.
    When WeChat rejects our access token (40001/42001) the token is refreshed once and the
    call retried, so a token invalidated by another process costs one extra round trip.
    """
    if not code:
        raise InvalidCode()
    token = get_access_token()
    try:
        result = _call_with_token(token, code)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_REJECTED_ERRCODES:
            raise
        result = _call_with_token(_token_after_rejection(token), code)
    phone_info = result.get("phone_info")
    phone = phone_info.get("purePhoneNumber") if isinstance(phone_info, dict) else None
    if not isinstance(phone, str) or not phone:
        raise WechatApiError("BAD_RESPONSE", "getuserphonenumber returned no purePhoneNumber")
    return phone


def get_wxacode_unlimit(*, scene: str, page: str, width: int = 430) -> bytes:
    """The PNG of a permanent mini-program code that opens `page` with `scene` (getwxacodeunlimit).

    Checks scene, page and width against WeChat's rules first and raises ValidationFailed
    (invalid_wxacode_scene / invalid_wxacode_page / invalid_wxacode_width) without calling out;
    WeChat refusing them anyway (40129, 40169, 41030) raises the same. Sends check_path=false (the
    page need not be in the released version yet: codes are printed before a release) and
    env_version from settings.WECHAT_WXACODE_ENV_VERSION (default "release"). A rejected access
    token is refreshed once and the call retried; anything else raises WechatApiError (502).
    Network I/O: never call inside a database transaction. WeChat's codes never expire, so
    callers generate each once and store it.
    """
    _wxacode_check(scene=scene, page=page, width=width)
    body = {
        "scene": scene,
        "page": page,
        "width": width,
        "check_path": False,
        "env_version": settings.WECHAT_WXACODE_ENV_VERSION,
    }
    token = get_access_token()
    try:
        return _wxacode_post(token, body)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_REJECTED_ERRCODES:
            raise
        return _wxacode_post(_token_after_rejection(token), body)


def _wxacode_check(*, scene: str, page: str, width: int) -> None:
    if not isinstance(scene, str) or len(scene) > WXACODE_SCENE_MAX or not WXACODE_SCENE.fullmatch(scene):
        raise ValidationFailed(
            f"场景值须为 1–{WXACODE_SCENE_MAX} 个字符，只能包含数字、英文字母和 !#$&'()*+,/:;=?@-._~",
            code="invalid_wxacode_scene", detail={"scene": scene})
    if not isinstance(page, str) or not WXACODE_PAGE.fullmatch(page):
        raise ValidationFailed("小程序页面路径须形如 pages/index/index：开头不带 /，不带参数",
                               code="invalid_wxacode_page", detail={"page": page})
    if isinstance(width, bool) or not isinstance(width, int) or not WXACODE_WIDTH_MIN <= width <= WXACODE_WIDTH_MAX:
        raise ValidationFailed(f"小程序码宽度须在 {WXACODE_WIDTH_MIN}–{WXACODE_WIDTH_MAX} 像素之间",
                               code="invalid_wxacode_width", detail={"width": width})


def _wxacode_post(token: str, body: dict[str, Any]) -> bytes:
    """One getwxacodeunlimit request: the image on success, WeChat's JSON errcode otherwise.

    Not through wechatpy: its client parses every answer as JSON, and this one is a PNG.
    """
    url = settings.WECHAT_API_BASE + "wxa/getwxacodeunlimit"
    try:
        response = requests.post(url, params={"access_token": token},
                                 data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                 headers={"Content-Type": "application/json"},
                                 timeout=settings.WECHAT_HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise WechatApiError("NETWORK_ERROR", type(exc).__name__) from exc
    if response.status_code != 200:
        raise WechatApiError("HTTP_ERROR", f"getwxacodeunlimit answered HTTP {response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        if not response.content.startswith(PNG_SIGNATURE):
            raise WechatApiError("BAD_RESPONSE", f"getwxacodeunlimit returned {content_type} that is not a PNG")
        return response.content
    try:
        result = response.json()
    except ValueError:
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("errcode"), int):
        raise WechatApiError("BAD_RESPONSE", "getwxacodeunlimit returned neither an image nor an errcode")
    errcode, errmsg = result["errcode"], str(result.get("errmsg", ""))
    if errcode in WXACODE_INPUT_ERRCODES:
        code, message = WXACODE_INPUT_ERRCODES[errcode]
        raise ValidationFailed(message, code=code, detail={"errcode": errcode, "errmsg": errmsg})
    raise WechatApiError(errcode, errmsg)


def _call_with_token(token: str, code: str) -> dict[str, Any]:
    return _call("post", "wxa/business/getuserphonenumber", params={"access_token": token}, data={"code": code})


def _token_after_rejection(rejected: str) -> str:
    """A token to retry with after WeChat rejected `rejected`.

    Normal mode first: usually another process already force-refreshed and WeChat hands us the
    new token. Only if WeChat returns the very token it just rejected do we force a refresh.
    """
    cache.delete(_token_cache_key())
    token = _token_fetch(force_refresh=False)
    if token == rejected:
        token = _token_fetch(force_refresh=True)
    return token


def _token_fetch(*, force_refresh: bool) -> str:
    result = _call(
        "post",
        "cgi-bin/stable_token",
        data={
            "grant_type": "client_credential",
            "appid": settings.WECHAT_APP_ID,
            "secret": settings.WECHAT_APP_SECRET,
            "force_refresh": force_refresh,
        },
    )
    token, expires_in = result.get("access_token"), result.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        raise WechatApiError("BAD_RESPONSE", "stable_token returned no access_token/expires_in")
    # Normal mode hands out the current token with whatever life it has left; near its end
    # (inside the early-refresh window) cache it for half that, rather than not at all, so
    # every request of those last minutes does not go to WeChat.
    if expires_in > 2 * TOKEN_EARLY_REFRESH_SECONDS:
        ttl = expires_in - TOKEN_EARLY_REFRESH_SECONDS
    else:
        ttl = expires_in // 2
    if ttl > 0:
        cache.set(_token_cache_key(), token, timeout=ttl)
    return token


def _token_cache_key() -> str:
    # The API base is part of the key so a token issued by the sandbox is never sent to WeChat
    # (or by one test sandbox to another) after the base URL changes.
    base = hashlib.sha256(settings.WECHAT_API_BASE.encode()).hexdigest()[:12]
    return f"wechat:access_token:{settings.WECHAT_APP_ID}:{base}"


def _client() -> WeChatClient:
    # auto_retry=False: wechatpy's own retry fetches a token from a hard-coded host. We pass
    # access tokens explicitly and retry ourselves (get_phone_number).
    return WeChatClient(
        settings.WECHAT_APP_ID,
        settings.WECHAT_APP_SECRET,
        timeout=settings.WECHAT_HTTP_TIMEOUT,
        auto_retry=False,
    )


def _call(
    method: str, endpoint: str, *, params: dict[str, Any] | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One request to `{WECHAT_API_BASE}{endpoint}`; the JSON body on errcode 0.

    Raises InvalidCode for INVALID_CODE_ERRCODES, WechatApiError for everything else that is
    not a JSON object with errcode 0 (or none).
    """
    params = dict(params or {})
    # An explicit None stops wechatpy from fetching a token for endpoints that need none
    # (requests drops None-valued query parameters, so nothing extra is sent).
    params.setdefault("access_token", None)
    kwargs: dict[str, Any] = {"params": params, "api_base_url": settings.WECHAT_API_BASE}
    if data is not None:
        kwargs["data"] = data
    try:
        client = _client()
        result = client.get(endpoint, **kwargs) if method == "get" else client.post(endpoint, **kwargs)
    except WeChatClientException as exc:
        if exc.errcode is None:  # an HTTP failure, not an errcode of WeChat's
            raise WechatApiError("HTTP_ERROR", http_error_text(exc)) from exc
        if exc.errcode in INVALID_CODE_ERRCODES:
            raise InvalidCode(detail={"errcode": exc.errcode}) from exc
        raise WechatApiError(exc.errcode, str(exc.errmsg or "")) from exc
    except requests.RequestException as exc:
        raise WechatApiError("NETWORK_ERROR", type(exc).__name__) from exc
    if not isinstance(result, dict):
        raise WechatApiError("BAD_RESPONSE", f"{endpoint} did not return a JSON object")
    return result
