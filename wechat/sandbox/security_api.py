"""WeChat's content security (msgSecCheck v2) as the sandbox serves it.

Exposes `ROUTES` (WeChat's own paths → handler) and `control(state, request)` for its
`/sandbox/...` control endpoints (None when the path is not one of them). Its state lives in
`state.extras["security"]`.

    POST /wxa/msg_sec_check?access_token=…   {content, version: 2, scene: 1–4, openid, title?…}

It checks what WeChat checks: the access token (40001 unknown / 42001 expired); a JSON body with
`version` 2, a `scene` of 1–4, a non-empty `content` of at most 2500 characters (47001 data
format error otherwise); an `openid` this app has seen (40003 invalid openid) whose last visit
was within two hours (61010 用户访问记录超时). A user becomes "seen" when a wx.login() code is
issued for them (they opened the mini-program); `/sandbox/security/stale_user` ages a visit.

The verdict comes from word lists: text containing a "risky" word → risky, else a "review" word
→ review, else pass. Defaults: "违禁" → risky (label 20006 违法犯罪), "待审" → review (label
21000 其他). The answer has WeChat's shape:

    {"errcode": 0, "errmsg": "ok", "trace_id": "…",
     "result": {"suggest": "risky", "label": 20006},
     "detail": [{"strategy": "content_model", "errcode": 0, "suggest": …, "label": …, "prob": 90},
                {"strategy": "keyword", "errcode": 0, "suggest": …, "label": …, "level": 20,
                 "keyword": "违禁"}]}

Control endpoints:

    POST /sandbox/security/words       {"risky"?: [...], "review"?: [...], "label"?: {word: label}}
                                        -> {"risky": [...], "review": [...]} (lists replaced)
    POST /sandbox/security/fail_next   {"count": n, "errcode"?: -1}  -> {"pending_failures": n}
    POST /sandbox/security/stale_user  {"openid"}   -> {"openid", "stale": true} (61010 from now on)
    GET  /sandbox/security/checks                   -> {"checks": [Check…]}

Check = {"body", "errcode", "suggest", "label", "received_at"}: every request, accepted or not.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeGuard

from wechat.sandbox.state import SandboxState
from wechat.sandbox.web import Request, Response, json_response

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    42001: "access_token expired",
    47001: "data format error",
    61010: "user access record timeout",
}

DEFAULT_RISKY = ("违禁",)
DEFAULT_REVIEW = ("待审",)
RISKY_LABEL = 20006  # 违法犯罪
REVIEW_LABEL = 21000  # 其他
PASS_LABEL = 100
MAX_CONTENT_CHARS = 2500
SCENES = frozenset({1, 2, 3, 4})


def _store(state: SandboxState) -> dict[str, Any]:
    """This module's corner of the sandbox state (call with state.lock held)."""
    return state.extras.setdefault("security", {
        "risky": list(DEFAULT_RISKY),
        "review": list(DEFAULT_REVIEW),
        "labels": {},
        "fail_next": [],
        "stale": set(),
        "checks": [],
    })


def _error(errcode: int) -> Response:
    return json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})


def msg_sec_check(state: SandboxState, request: Request) -> Response:
    """POST /wxa/msg_sec_check?access_token=… — msgSecCheck v2."""
    state.count("msg_sec_check")
    data = request.json()
    errcode, verdict = _judge(state, request, data)
    with state.lock:
        store = _store(state)
        store["checks"].append({
            "body": data, "errcode": errcode,
            "suggest": verdict["suggest"] if verdict else "", "label": verdict["label"] if verdict else 0,
            "received_at": time.time(),
        })
    if errcode:
        return _error(errcode)
    assert verdict is not None
    return json_response({
        "errcode": 0,
        "errmsg": "ok",
        "trace_id": f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{int(time.time())}",
        "result": {"suggest": verdict["suggest"], "label": verdict["label"]},
        "detail": verdict["detail"],
    })


def _judge(state: SandboxState, request: Request, data: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return errcode, None
    with state.lock:
        store = _store(state)
        if store["fail_next"]:
            return store["fail_next"].pop(0), None
    if data is None:
        return 47001, None
    content, openid = data.get("content"), data.get("openid")
    version, scene = data.get("version"), data.get("scene")
    if (version != 2 or isinstance(version, bool) or scene not in SCENES or isinstance(scene, bool)
            or not isinstance(content, str) or not content or len(content) > MAX_CONTENT_CHARS
            or not isinstance(openid, str) or not openid):
        return 47001, None
    with state.lock:
        store = _store(state)
        if openid not in state.users:
            return 40003, None
        if openid in store["stale"]:
            return 61010, None
        return 0, _verdict(store, content)


def _verdict(store: dict[str, Any], content: str) -> dict[str, Any]:
    for suggest, default_label in (("risky", RISKY_LABEL), ("review", REVIEW_LABEL)):
        for word in store[suggest]:
            if word and word in content:
                label = store["labels"].get(word, default_label)
                return {"suggest": suggest, "label": label, "detail": [
                    {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90},
                    {"strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label, "level": 20,
                     "keyword": word},
                ]}
    return {"suggest": "pass", "label": PASS_LABEL, "detail": [
        {"strategy": "content_model", "errcode": 0, "suggest": "pass", "label": PASS_LABEL, "prob": 90},
    ]}


# --- control ---------------------------------------------------------------------------------


def control(state: SandboxState, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if not path.startswith("/sandbox/security/"):
        return None
    if request.method == "GET" and path == "/sandbox/security/checks":
        with state.lock:
            checks = [dict(c) for c in _store(state)["checks"]]
        return json_response({"checks": checks})
    if request.method != "POST":
        return None
    data = request.json()
    if data is None:
        return _invalid("请求体必须是 JSON 对象")
    if path == "/sandbox/security/words":
        return _words(state, data)
    if path == "/sandbox/security/fail_next":
        count, errcode = data.get("count"), data.get("errcode", -1)
        if not _is_int(count) or count < 0 or not _is_int(errcode):
            return _invalid("count 须为非负整数，errcode 须为整数")
        with state.lock:
            store = _store(state)
            store["fail_next"] = [errcode] * count
            return json_response({"pending_failures": count})
    if path == "/sandbox/security/stale_user":
        openid = data.get("openid")
        if not isinstance(openid, str) or not openid:
            return _invalid("openid 不能为空")
        with state.lock:
            _store(state)["stale"].add(openid)
        return json_response({"openid": openid, "stale": True})
    return None


def _words(state: SandboxState, data: dict[str, Any]) -> Response:
    lists = {}
    for name in ("risky", "review"):
        if name in data:
            words = data[name]
            if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                return _invalid(f"{name} 须为非空字符串列表")
            lists[name] = words
    labels = data.get("label", {})
    if not isinstance(labels, dict) or not all(_is_int(v) for v in labels.values()):
        return _invalid("label 须为 {词: 标签号}")
    with state.lock:
        store = _store(state)
        store.update(lists)
        store["labels"].update(labels)
        return json_response({"risky": list(store["risky"]), "review": list(store["review"])})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(message: str) -> Response:
    return json_response({"error": "INVALID_ARGUMENT", "message": message}, 400)


ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {
    ("POST", "/wxa/msg_sec_check"): msg_sec_check,
}
