"""WeChat's content security as the sandbox serves it: text (msgSecCheck v2) and images
(mediaCheckAsync v2, whose verdict is pushed to the mall later).

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

Images:

    POST /wxa/media_check_async?access_token=…   {media_url, media_type: 1|2, version: 2, scene: 1–4,
                                                  openid}  -> {"errcode": 0, "errmsg": "ok", "trace_id"}

checks the token, then (47001) `version` 2, `media_type` 1 (audio) or 2 (image), a `scene` of 1–4 and
an http(s) `media_url`, then the openid as msgSecCheck does (40003, 61010). The verdict comes from
the controls, not from the image: the next queued verdict if any ("next"), else the first rule
whose `url_contains` is in media_url (the mall's file names are random, so a test names one photo),
else the default (pass). Labels: pass 100, review 21000 其他, risky 20002 色情, unless a rule says.

After `push_delay_seconds` (default 1) WeChat fetches the media_url (recorded: status, bytes — the
mall's signed link must work from outside) and pushes the event through wechat.sandbox.push to the
configured message URL, retrying `retries` times (default 3) `retry_delay_seconds` apart (default
0.5) until the mall answers "success":

    {"ToUserName": "gh_…", "FromUserName": openid, "CreateTime": …, "MsgType": "event",
     "Event": "wxa_media_check", "appid": …, "trace_id": …, "version": 2, "errcode": 0, "errmsg": "ok",
     "result": {"suggest": "risky", "label": 20002},
     "detail": [{"strategy": "content_model", "errcode": 0, "suggest": "risky", "label": 20002, "prob": 90}]}

Control endpoints for images:

    POST /sandbox/media_check/options  {"default"?, "rules"?: [{"url_contains", "suggest", "label"?}],
                                        "next"?: ["risky", …], "fail_next"?: [errcode, …],
                                        "push_delay_seconds"?, "retry_delay_seconds"?, "retries"?,
                                        "auto_push"?: bool} -> the options (lists replaced)
    POST /sandbox/media_check/push     {"trace_id", "times"?=1, "concurrent"?=false}
                                       -> {"deliveries": [...]}: the genuine event again, now
    POST /sandbox/media_check/forge    {"trace_id", "kind": "bad_signature"|"unsigned", "suggest"?}
                                       -> {"deliveries": [...]}: an event WeChat never sent
    GET  /sandbox/media_checks                      -> {"checks": [MediaCheck…]}
    GET  /sandbox/media_checks/<trace_id>[?wait=s]  -> MediaCheck, once its automatic push is done
                                                       (or `wait` seconds have passed)

MediaCheck = {"trace_id", "body", "errcode", "suggest", "label", "received_at", "fetch",
"deliveries": [PushDelivery…], "done"}: every request, accepted or not (trace_id "" when refused).
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeGuard

from wechat.sandbox import push
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
MEDIA_TYPES = frozenset({1, 2})
MEDIA_LABELS = {"pass": 100, "review": 21000, "risky": 20002}
SUGGESTS = tuple(MEDIA_LABELS)
MAX_MEDIA_URL = 2048
FETCH_TIMEOUT_SECONDS = 5
MAX_FETCH_BYTES = 10 * 1024 * 1024


def _store(state: SandboxState) -> dict[str, Any]:
    """This module's corner of the sandbox state (call with state.lock held)."""
    return state.extras.setdefault("security", {
        "risky": list(DEFAULT_RISKY),
        "review": list(DEFAULT_REVIEW),
        "labels": {},
        "fail_next": [],
        "stale": set(),
        "checks": [],
        "media": {"default": "pass", "rules": [], "next": [], "fail_next": [], "push_delay_seconds": 1.0,
                  "retry_delay_seconds": 0.5, "retries": 3, "auto_push": True},
        "media_checks": {},
        "media_refused": [],
        "media_done": threading.Condition(),
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


# --- images: mediaCheckAsync ---------------------------------------------------------------------


def media_check_async(state: SandboxState, request: Request) -> Response:
    """POST /wxa/media_check_async?access_token=… — accept an image (or audio) for checking."""
    state.count("media_check_async")
    data = request.json()
    errcode = _media_errcode(state, request, data)
    record: dict[str, Any] = {"trace_id": "", "body": data, "errcode": errcode, "suggest": "", "label": 0,
                              "received_at": time.time(), "fetch": None, "deliveries": [], "done": True}
    if errcode:
        with state.lock:
            _store(state)["media_refused"].append(record)
        return _error(errcode)
    assert data is not None
    trace_id = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    with state.lock:
        store = _store(state)
        options = store["media"]
        suggest, label = _media_verdict(options, data["media_url"])
        record.update(trace_id=trace_id, suggest=suggest, label=label, done=not options["auto_push"])
        store["media_checks"][trace_id] = record
        auto, delay = options["auto_push"], float(options["push_delay_seconds"])
    if auto:
        _later(delay, lambda: _push_verdict(state, trace_id))
    return json_response({"errcode": 0, "errmsg": "ok", "trace_id": trace_id})


def _media_errcode(state: SandboxState, request: Request, data: dict[str, Any] | None) -> int:
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return errcode
    with state.lock:
        failures = _store(state)["media"]["fail_next"]
        if failures:
            return int(failures.pop(0))
    if data is None:
        return 47001
    url, openid = data.get("media_url"), data.get("openid")
    version, scene, media_type = data.get("version"), data.get("scene"), data.get("media_type")
    if (version != 2 or not _is_int(version) or scene not in SCENES or not _is_int(scene)
            or media_type not in MEDIA_TYPES or not _is_int(media_type)
            or not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > MAX_MEDIA_URL
            or not isinstance(openid, str) or not openid):
        return 47001
    with state.lock:
        if openid not in state.users:
            return 40003
        if openid in _store(state)["stale"]:
            return 61010
    return 0


def _media_verdict(options: dict[str, Any], media_url: str) -> tuple[str, int]:
    if options["next"]:
        suggest = options["next"].pop(0)
        return suggest, MEDIA_LABELS[suggest]
    for rule in options["rules"]:
        if rule["url_contains"] in media_url:
            return rule["suggest"], rule.get("label", MEDIA_LABELS[rule["suggest"]])
    return options["default"], MEDIA_LABELS[options["default"]]


def _media_event(state: SandboxState, record: dict[str, Any], suggest: str | None = None,
                 label: int | None = None) -> dict[str, Any]:
    suggest = suggest or record["suggest"]
    label = label if label is not None else (record["label"] if suggest == record["suggest"] else MEDIA_LABELS[suggest])
    return {
        "ToUserName": f"gh_{state.app_id[-12:]}", "FromUserName": record["body"]["openid"],
        "CreateTime": int(time.time()), "MsgType": "event", "Event": "wxa_media_check", "appid": state.app_id,
        "trace_id": record["trace_id"], "version": 2,
        "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}],
        "errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label},
    }


def _push_verdict(state: SandboxState, trace_id: str) -> None:
    """WeChat's side, later: fetch the image, push the verdict until the mall says success."""
    with state.lock:
        store = _store(state)
        record = store["media_checks"].get(trace_id)
        if record is None:
            return  # reset meanwhile
        retries, retry_delay = int(store["media"]["retries"]), float(store["media"]["retry_delay_seconds"])
    fetched = _fetch(record["body"]["media_url"])
    deliveries = []
    for attempt in range(1, retries + 2):
        with state.lock:
            message = _media_event(state, record)
        delivery = push.deliver(state, message, attempt=attempt)
        deliveries.append(delivery)
        with state.lock:
            record["deliveries"].append(asdict(delivery))
        if delivery.acknowledged or attempt > retries:
            break
        time.sleep(retry_delay)
    with state.lock:
        record["fetch"] = fetched
        record["done"] = True
        done = store["media_done"]
    with done:
        done.notify_all()


def _fetch(url: str) -> dict[str, Any]:
    """What WeChat's download of the media got: {"status", "bytes", "content_type"} or {"error"}."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_FETCH_BYTES)
            return {"status": response.status, "bytes": len(body),
                    "content_type": response.headers.get("Content-Type", "")}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "bytes": 0, "content_type": ""}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _later(delay_seconds: float, action: Callable[[], object]) -> None:
    def run() -> None:
        if delay_seconds > 0:
            time.sleep(delay_seconds)
        action()

    threading.Thread(target=run, name="sandbox-media-check-push", daemon=True).start()


def _media_record(state: SandboxState, trace_id: str) -> dict[str, Any] | None:
    with state.lock:
        record = _store(state)["media_checks"].get(trace_id)
        return None if record is None else dict(record, deliveries=list(record["deliveries"]))


def _media_wait(state: SandboxState, trace_id: str, wait: float) -> Response:
    with state.lock:
        store = _store(state)
        record = store["media_checks"].get(trace_id)
        done = store["media_done"]
    if record is None:
        return json_response({"error": "NOT_FOUND", "message": "没有该 trace_id"}, 404)
    deadline = time.monotonic() + min(max(wait, 0.0), 30.0)
    with done:
        while not record["done"] and (left := deadline - time.monotonic()) > 0:
            done.wait(left)
    return json_response(_media_record(state, trace_id) or {})


def _media_send(state: SandboxState, data: dict[str, Any], *, kind: str) -> Response:
    trace_id = data.get("trace_id")
    record = _media_record(state, trace_id) if isinstance(trace_id, str) else None
    if record is None:
        return json_response({"error": "NOT_FOUND", "message": "没有该 trace_id"}, 404)
    suggest = data.get("suggest")
    if suggest is not None and suggest not in SUGGESTS:
        return _invalid(f"suggest 须为 {'/'.join(SUGGESTS)}")
    times, concurrent = data.get("times", 1), data.get("concurrent", False)
    if not _is_int(times) or not 1 <= times <= 20 or not isinstance(concurrent, bool):
        return _invalid("times 须为 1–20，concurrent 须为 true/false")
    with state.lock:
        message = _media_event(state, record, suggest)
    if not concurrent:
        deliveries = [push.deliver(state, message, kind=kind) for _ in range(times)]
    else:
        # All threads wait at the barrier, then POST together: the duplicate-push race.
        barrier, by_index = threading.Barrier(times), {}

        def run(index: int) -> None:
            barrier.wait()
            by_index[index] = push.deliver(state, message, kind=kind)

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(times)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deliveries = [by_index[i] for i in range(times)]
    answers = [asdict(d) for d in deliveries]
    with state.lock:
        _store(state)["media_checks"][trace_id]["deliveries"].extend(answers)
    return json_response({"deliveries": answers})


def _media_options(state: SandboxState, data: dict[str, Any]) -> Response:
    with state.lock:
        options = dict(_store(state)["media"])
    for name in ("default",):
        if name in data and data[name] not in SUGGESTS:
            return _invalid(f"{name} 须为 {'/'.join(SUGGESTS)}")
        if name in data:
            options[name] = data[name]
    if "next" in data:
        if not isinstance(data["next"], list) or not all(s in SUGGESTS for s in data["next"]):
            return _invalid(f"next 须为 {'/'.join(SUGGESTS)} 的列表")
        options["next"] = list(data["next"])
    if "rules" in data:
        rules = data["rules"]
        if not isinstance(rules, list) or not all(
                isinstance(r, dict) and isinstance(r.get("url_contains"), str) and r["url_contains"]
                and r.get("suggest") in SUGGESTS and _is_int(r.get("label", 0)) for r in rules):
            return _invalid("rules 须为 [{url_contains, suggest, label?}]")
        options["rules"] = [dict(r) for r in rules]
    if "fail_next" in data:
        if not isinstance(data["fail_next"], list) or not all(_is_int(c) for c in data["fail_next"]):
            return _invalid("fail_next 须为错误码列表")
        options["fail_next"] = list(data["fail_next"])
    for name, top in (("push_delay_seconds", 60), ("retry_delay_seconds", 60), ("retries", 10)):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
                return _invalid(f"{name} 须为 0–{top}")
            options[name] = int(value) if name == "retries" else float(value)
    if "auto_push" in data:
        if not isinstance(data["auto_push"], bool):
            return _invalid("auto_push 须为 true/false")
        options["auto_push"] = data["auto_push"]
    with state.lock:
        _store(state)["media"] = options
    return json_response({k: v for k, v in options.items()})


# --- control ---------------------------------------------------------------------------------


def control(state: SandboxState, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if path.startswith(("/sandbox/media_check", "/sandbox/media_checks")):
        return _media_control(state, request, path)
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


def _media_control(state: SandboxState, request: Request, path: str) -> Response | None:
    if request.method == "GET" and path == "/sandbox/media_checks":
        with state.lock:
            store = _store(state)
            checks = [dict(c, deliveries=list(c["deliveries"])) for c in
                      [*store["media_refused"], *store["media_checks"].values()]]
        checks.sort(key=lambda c: c["received_at"])
        return json_response({"checks": checks})
    if request.method == "GET" and path.startswith("/sandbox/media_checks/"):
        try:
            wait = float(request.query.get("wait") or 0)
        except ValueError:
            return _invalid("wait 须为秒数")
        return _media_wait(state, path.removeprefix("/sandbox/media_checks/"), wait)
    if request.method != "POST":
        return None
    data = request.json()
    if data is None:
        return _invalid("请求体必须是 JSON 对象")
    if path == "/sandbox/media_check/options":
        return _media_options(state, data)
    if path == "/sandbox/media_check/push":
        return _media_send(state, data, kind="genuine")
    if path == "/sandbox/media_check/forge":
        if data.get("kind") not in push.FORGERIES:
            return _invalid(f"kind 须为 {'/'.join(push.FORGERIES)}")
        return _media_send(state, data, kind=str(data["kind"]))
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
    ("POST", "/wxa/media_check_async"): media_check_async,
}
