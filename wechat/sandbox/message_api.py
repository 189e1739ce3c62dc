"""WeChat subscribe messages (subscribeMessage.send) as the sandbox serves them.

Exposes `ROUTES` (WeChat's own paths → handler) and `control(state, request)` for its
`/sandbox/...` control endpoints (None when the path is not one of them). Its state lives in
`state.extras["messages"]`.

WeChat's side, `POST /cgi-bin/message/subscribe/send?access_token=…` checks, in WeChat's order:
the access token (40001/42001), the body (47001), the openid (40003), the template id (40037),
the data against the template's keys and their types' limits (47003, naming the field as
WeChat does: "argument invalid! data.thing3.value invalid"), miniprogram_state (47003), and
then that the user has a consent left for the template (43101). A delivered message spends one
consent and is recorded. The field rules are written here from WeChat's table, independently of
wechat.messages.fields, so the sandbox checks our formatter instead of sharing its bugs.

The phone's side (control endpoints, JSON):

    POST /sandbox/subscribe          {"openid", "results": {template_id: "accept"|"reject"|"ban"|"filter"}}
                                     -> what wx.requestSubscribeMessage returns:
                                        {"errMsg": "requestSubscribeMessage:ok", template_id: result…}
                                        each accept is one consent; at most 3 ids per call, like WeChat
    GET  /sandbox/subscriptions?openid=…          -> {"openid", "consents": {template_id: n}}
    GET  /sandbox/messages[?touser=&template_id=] -> {"messages": [Delivered…]} (oldest first)
    POST /sandbox/message_faults     {"errcodes": [-1, …]} -> {"pending": […]}
                                     the next sends answer these errcodes, in order, delivering
                                     nothing and spending no consent (WeChat "system busy")
    POST /sandbox/message_templates  {"template_id", "keys": [...], "title"?} -> {"template_id", "keys"}

Templates: those in Django's settings.WECHAT_SUBSCRIBE_TEMPLATES (when Django is configured),
plus any registered through the control endpoint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from wechat.sandbox.host import host_setting
from wechat.sandbox.miniprogram_api import ERRMSG as TOKEN_ERRMSG
from wechat.sandbox.state import SandboxState
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import shanghai_now

MAX_TEMPLATES_PER_REQUEST = 3  # wx.requestSubscribeMessage takes at most 3 template ids
SUBSCRIBE_RESULTS = ("accept", "reject", "ban", "filter")
MINIPROGRAM_STATES = ("developer", "trial", "formal")

ERRMSG = {
    40003: "invalid openid",
    40037: "invalid template_id",
    43101: "user refuse to accept the msg",
    47001: "data format error",
    -1: "system error",
    43108: "concurrency limit: send to the same user too quickly",
    45009: "reach max api daily quota limit",
}

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TIME = r"(?:\d{4}年\d{1,2}月\d{1,2}日 ?|\d{4}[-/]\d{1,2}[-/]\d{1,2} )?\d{1,2}:\d{2}(?::\d{2})?"
_DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-/]\d{1,2}[-/]\d{1,2})(?: ?\d{1,2}:\d{2}(?::\d{2})?)?"


def _period(single: str) -> re.Pattern[str]:
    return re.compile(rf"^{single}(?:~{single})?$")


def _is_thing(value: str, limit: int) -> bool:
    # Any printable characters; no line breaks, no emoji (outside the BMP).
    return len(value) <= limit and all(ch.isprintable() and ord(ch) <= 0xFFFF for ch in value)


def _is_name(value: str) -> bool:
    if re.search(f"[{_CJK}]", value):
        return len(value) <= 10
    return len(value) <= 20 and all(ch.isascii() and ch.isprintable() and not ch.isdigit() for ch in value)


# WeChat's "参数值内容限制", one rule per key type.
RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: _is_thing(v, 20),
    "short_thing": lambda v: _is_thing(v, 5),
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"\d+(?:\.\d+)?", v) is not None,
    "letter": lambda v: len(v) <= 32 and re.fullmatch(r"[A-Za-z]+", v) is not None,
    "symbol": lambda v: len(v) <= 5 and re.fullmatch(rf"[^\sA-Za-z0-9{_CJK}]+", v) is not None,
    "character_string": lambda v: len(v) <= 32 and re.fullmatch(r"[!-~]+", v) is not None,
    "time": lambda v: _period(_TIME).match(v) is not None,
    "date": lambda v: _period(_DATE).match(v) is not None,
    "amount": lambda v: (m := re.fullmatch(r"[¥￥$]?(\d+(?:\.\d{1,2})?)元?", v)) is not None
    and len(m.group(1).replace(".", "")) <= 10,
    "phone_number": lambda v: len(v) <= 17 and re.fullmatch(r"[0-9+\-() ]+", v) is not None,
    "car_number": lambda v: len(v) <= 8 and re.fullmatch(rf"[{_CJK}A-Za-z0-9][A-Za-z0-9]*[{_CJK}A-Za-z0-9]?", v)
    is not None,
    "name": _is_name,
    "phrase": lambda v: len(v) <= 5 and re.fullmatch(f"[{_CJK}]+", v) is not None,
    "enum": lambda v: bool(v),
}


def _store(state: SandboxState) -> dict[str, Any]:
    with state.lock:
        return state.extras.setdefault(
            "messages", {"templates": {}, "consents": {}, "delivered": [], "faults": [], "next_msgid": 1}
        )


def _templates(state: SandboxState) -> dict[str, dict[str, Any]]:
    """template id → {"title", "keys"}: the Django settings' templates and registered ones."""
    known: dict[str, dict[str, Any]] = {}
    for key, spec in host_setting("WECHAT_SUBSCRIBE_TEMPLATES", {}).items():
        if spec.get("id"):
            known[spec["id"]] = {"title": spec.get("title", key), "keys": list(spec["fields"])}
    store = _store(state)
    with state.lock:
        known.update(store["templates"])
    return known


def _error(errcode: int, errmsg: str | None = None) -> Response:
    message = errmsg or ERRMSG.get(errcode) or TOKEN_ERRMSG.get(errcode, "error")
    return json_response({"errcode": errcode, "errmsg": f"{message} rid: sandbox-{int(time.time() * 1000)}"})


def _invalid(detail: str) -> Response:
    return _error(47003, f"argument invalid! {detail}")


# --- WeChat's endpoint ----------------------------------------------------------------------------


def subscribe_send(state: SandboxState, request: Request) -> Response:
    """POST /cgi-bin/message/subscribe/send?access_token=… {touser, template_id, page, data, …}"""
    state.count("subscribe_send")
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return _error(errcode)
    store = _store(state)
    with state.lock:
        if store["faults"]:
            return _error(int(store["faults"].pop(0)))
    body = request.json()
    if body is None:
        return _error(47001)
    touser, template_id = body.get("touser"), body.get("template_id")
    if not isinstance(touser, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{6,64}", touser):
        return _error(40003)
    template = _templates(state).get(template_id) if isinstance(template_id, str) else None
    if template is None:
        return _error(40037)
    data = body.get("data")
    if not isinstance(data, dict):
        return _invalid("data is empty")
    values: dict[str, str] = {}
    for key in template["keys"]:
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if value is None or value == "":
            return _invalid(f"data.{key}.value is empty")
        if not isinstance(value, str):
            value = str(value)
        rule = RULES.get(key.rstrip("0123456789"), RULES["thing"])
        if not rule(value):
            return _invalid(f"data.{key}.value invalid")
        values[key] = value
    extra = sorted(set(data) - set(template["keys"]))
    if extra:
        return _invalid(f"data.{extra[0]} not in template")
    state_name = body.get("miniprogram_state", "formal")
    if state_name not in MINIPROGRAM_STATES:
        return _invalid("miniprogram_state invalid")
    page = body.get("page", "")
    if not isinstance(page, str) or page.startswith("/") or "://" in page:
        return _error(41030, "invalid page")
    with state.lock:
        consents = store["consents"].setdefault(touser, {})
        if consents.get(template_id, 0) < 1:
            return _error(43101)
        consents[template_id] -= 1
        msgid = store["next_msgid"]
        store["next_msgid"] += 1
        store["delivered"].append({
            "msgid": msgid,
            "touser": touser,
            "template_id": template_id,
            "title": template["title"],
            "page": page,
            "data": values,
            "miniprogram_state": state_name,
            "lang": body.get("lang", "zh_CN"),
            "sent_at": shanghai_now().isoformat(timespec="seconds"),
        })
    return json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})


ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {
    ("POST", "/cgi-bin/message/subscribe/send"): subscribe_send,
}


# --- control: the phone and the test's view of WeChat ---------------------------------------------


class _Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _subscribe(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    openid, results = data.get("openid"), data.get("results")
    if not isinstance(openid, str) or not openid:
        raise _Refused("INVALID_ARGUMENT", "openid must be a non-empty string")
    if not isinstance(results, dict) or not results:
        raise _Refused("INVALID_ARGUMENT", "results must map template ids to accept/reject/ban/filter")
    if len(results) > MAX_TEMPLATES_PER_REQUEST:
        raise _Refused("10002", f"一次最多订阅 {MAX_TEMPLATES_PER_REQUEST} 个模板")
    known = _templates(state)
    for template_id, answer in results.items():
        if template_id not in known:
            raise _Refused("20001", f"No template data return, verify the template id exist: {template_id}")
        if answer not in SUBSCRIBE_RESULTS:
            raise _Refused("INVALID_ARGUMENT", f"unknown result {answer!r}")
    store = _store(state)
    with state.lock:
        consents = store["consents"].setdefault(openid, {})
        for template_id, answer in results.items():
            if answer == "accept":
                consents[template_id] = consents.get(template_id, 0) + 1
    return {"errMsg": "requestSubscribeMessage:ok", **results}


def _subscriptions(state: SandboxState, query: dict[str, str]) -> dict[str, Any]:
    openid = query.get("openid", "")
    store = _store(state)
    with state.lock:
        return {"openid": openid, "consents": dict(store["consents"].get(openid, {}))}


def _messages(state: SandboxState, query: dict[str, str]) -> dict[str, Any]:
    store = _store(state)
    with state.lock:
        messages = [dict(m) for m in store["delivered"]
                    if query.get("touser") in (None, m["touser"])
                    and query.get("template_id") in (None, m["template_id"])]
    return {"messages": messages}


def _faults(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    errcodes = data.get("errcodes")
    if not isinstance(errcodes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in errcodes):
        raise _Refused("INVALID_ARGUMENT", "errcodes must be a list of integers")
    store = _store(state)
    with state.lock:
        store["faults"].extend(errcodes)
        return {"pending": list(store["faults"])}


def _register(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    template_id, keys = data.get("template_id"), data.get("keys")
    if not isinstance(template_id, str) or not template_id:
        raise _Refused("INVALID_ARGUMENT", "template_id must be a non-empty string")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise _Refused("INVALID_ARGUMENT", "keys must be a list of template keys such as thing1")
    store = _store(state)
    with state.lock:
        store["templates"][template_id] = {"title": str(data.get("title") or template_id), "keys": list(keys)}
    return {"template_id": template_id, "keys": keys}


_GETS: dict[str, Callable[[SandboxState, dict[str, str]], dict[str, Any]]] = {
    "/sandbox/subscriptions": _subscriptions,
    "/sandbox/messages": _messages,
}
_POSTS: dict[str, Callable[[SandboxState, dict[str, Any]], dict[str, Any]]] = {
    "/sandbox/subscribe": _subscribe,
    "/sandbox/message_faults": _faults,
    "/sandbox/message_templates": _register,
}


def control(state: SandboxState, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    try:
        if request.method == "GET" and path in _GETS:
            return json_response(_GETS[path](state, request.query))
        if request.method == "POST" and path in _POSTS:
            data = request.json()
            if data is None:
                return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
            return json_response(_POSTS[path](state, data))
    except _Refused as exc:
        return json_response({"error": exc.code, "message": exc.message}, exc.status)
    return None
