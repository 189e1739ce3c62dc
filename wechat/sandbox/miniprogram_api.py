"""WeChat's mini-program server APIs as the sandbox serves them (JSON, WeChat's errcodes)."""

from __future__ import annotations

import base64
import secrets
import string
import time

from wechat.sandbox.state import CODE_TTL_SECONDS, OLD_TOKEN_GRACE_SECONDS, TOKEN_TTL_SECONDS, Code, User
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import random_token

ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    41002: "appid missing",
    41008: "missing code",
    42001: "access_token expired",
    47001: "data format error",
}


def error(errcode: int) -> Response:
    # WeChat answers errors with HTTP 200 and an errcode; so do we.
    return json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})


def check_credentials(state: State, appid: str | None, secret: str | None) -> int:
    if not appid:
        return 41002
    if appid != state.app_id:
        return 40013
    if secret != state.app_secret:
        return 40125
    return 0


# --- issuing codes (control side: what wx.login() / getPhoneNumber give the phone) ---------------


def issue_login_code(state: State, *, openid: str | None = None, unionid: str = "") -> dict[str, str]:
    """A fresh one-time wx.login() code for `openid` (a new random user when None)."""
    with state.lock:
        openid = openid or "o" + random_token(27, string.ascii_letters + string.digits + "_-")
        user = state.users.setdefault(openid, User(openid=openid))
        if unionid:
            user.unionid = unionid
        code = random_token(32)
        state.login_codes[code] = Code(value=openid, expires_at=time.time() + CODE_TTL_SECONDS)
        return {"code": code, "openid": openid, "unionid": user.unionid}


def issue_phone_code(state: State, *, phone: str) -> dict[str, str]:
    """A fresh one-time getPhoneNumber code that reveals `phone`."""
    with state.lock:
        code = random_token(64, string.hexdigits.lower()[:16])
        state.phone_codes[code] = Code(value=phone, expires_at=time.time() + CODE_TTL_SECONDS)
        return {"code": code, "phone": phone}


# --- WeChat's endpoints -------------------------------------------------------------------------


def jscode2session(state: State, request: Request) -> Response:
    """GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code"""
    state.count("jscode2session")
    q = request.query
    errcode = check_credentials(state, q.get("appid"), q.get("secret"))
    if errcode:
        return error(errcode)
    if q.get("grant_type") != "authorization_code":
        return error(40002)
    if not q.get("js_code"):
        return error(41008)
    errcode, openid = state.use_code(state.login_codes, q["js_code"])
    if errcode:
        return error(errcode)
    with state.lock:
        user = state.users[openid]
        # WeChat issues a new session_key with each login: base64 of 16 random bytes.
        user.session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        body = {"openid": user.openid, "session_key": user.session_key}
        if user.unionid:
            body["unionid"] = user.unionid
    return json_response(body)


def stable_token(state: State, request: Request) -> Response:
    """POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh}

    Normal mode returns the current stable token while it is valid (same value to every
    caller); force mode invalidates it at once and issues a new one.
    """
    state.count("stable_token")
    data = request.json()
    if data is None:
        return error(47001)
    errcode = check_credentials(state, data.get("appid"), data.get("secret"))
    if errcode:
        return error(errcode)
    if data.get("grant_type") != "client_credential":
        return error(40002)
    with state.lock:
        now = time.time()
        current = state.stable_token
        remaining = state.tokens.get(current, 0) - now if current else 0
        if data.get("force_refresh") is True or remaining <= 0:
            state.tokens.pop(current, None)
            current = state.stable_token = _new_token(state, now)
            remaining = TOKEN_TTL_SECONDS
    return json_response({"access_token": current, "expires_in": int(remaining)})


def plain_token(state: State, request: Request) -> Response:
    """GET /cgi-bin/token?grant_type=client_credential&appid&secret — a new token every call,
    the previous one kept alive OLD_TOKEN_GRACE_SECONDS (isolated from the stable token)."""
    state.count("token")
    q = request.query
    errcode = check_credentials(state, q.get("appid"), q.get("secret"))
    if errcode:
        return error(errcode)
    if q.get("grant_type") != "client_credential":
        return error(40002)
    with state.lock:
        now = time.time()
        previous = state.last_plain_token
        if previous in state.tokens:
            state.tokens[previous] = min(state.tokens[previous], now + OLD_TOKEN_GRACE_SECONDS)
        token = state.last_plain_token = _new_token(state, now)
    return json_response({"access_token": token, "expires_in": TOKEN_TTL_SECONDS})


def getuserphonenumber(state: State, request: Request) -> Response:
    """POST /wxa/business/getuserphonenumber?access_token=… {"code": …}"""
    state.count("getuserphonenumber")
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return error(errcode)
    data = request.json()
    if data is None:
        return error(47001)
    code = data.get("code")
    if not isinstance(code, str) or not code:
        return error(41008)
    errcode, phone = state.use_code(state.phone_codes, code)
    if errcode:
        # getPhoneNumber codes answer 40029 whether unknown, expired or used.
        return error(40029)
    return json_response(
        {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": state.app_id},
            },
        }
    )


def _new_token(state: State, now: float) -> str:
    token = random_token(136, string.ascii_letters + string.digits + "_-")
    state.tokens[token] = now + TOKEN_TTL_SECONDS
    return token
