"""Fault injection: a share of the WeChat API calls the sandbox serves fail or answer late.

For soak runs and resilience tests: WeChat in production is sometimes down, busy or slow, and the
mall must neither lose nor double anything when it is. The faults apply to WeChat's own paths
only (Pay v2, refunds, the mini-program APIs…), never to the `/sandbox/` control endpoints a
test or a harness drives. Its state lives in `state.extras["faults"]`; `reset` forgets it.

    POST /sandbox/faults  {"fail_ratio"?: 0..1, "delay_ratio"?: 0..1, "delay_seconds"?: 0..60,
                           "paths"?: ["/pay/pay/unifiedorder", …] (empty or absent: every WeChat path),
                           "seed"?: int}
                          -> the report below. Fields left out keep their value; send
                             {"fail_ratio": 0, "delay_ratio": 0} to stop injecting.
    GET   /sandbox/faults -> {"settings": {"fail_ratio", "delay_ratio", "delay_seconds", "paths"},
                              "counts": {"<path> <kind>": n, …}, "total": {"fail": n, "delay": n},
                              "injected": [{"at": epoch seconds, "path", "kind"}, …] (the last 10,000)}

Each call draws once: with probability fail_ratio it fails, else with probability delay_ratio it
is delayed. A failure answers as WeChat does when it is down or busy, alternately an HTTP 503 with
no usable body (kind "fail_http"), or a "system busy" answer in the path's own format (kind
"fail_busy"): for Pay v2 a signed `result_code FAIL` with `err_code SYSTEMERROR`, for Pay v3 an
HTTP 500 `{"code": "SYSTEM_ERROR"}`, for the JSON APIs `{"errcode": -1, "errmsg": "system error"}`.
Nothing is done for a failed call. A delayed call (kind "delay") waits delay_seconds and is then
served as usual: set it above the caller's timeout and the caller gives up on a call that WeChat
did carry out — the case idempotent retries exist for.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wechat.sandbox.pay_api import result
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.web import Request, Response, json_response

Handler = Callable[[State, Request], Response]
MAX_DELAY_SECONDS = 60
KEEP_INJECTED = 10_000
PAY_PREFIX = "/pay/"  # Pay v2 speaks signed XML; everything else is the JSON mini-program API
PAY_V3_PREFIX = "/pay/v3/"  # …except Pay v3, whose errors are JSON {code, message} with an HTTP error status


@dataclass
class FaultBook:
    fail_ratio: float = 0.0
    delay_ratio: float = 0.0
    delay_seconds: float = 0.0
    paths: frozenset[str] = frozenset()  # empty: every WeChat path
    rng: random.Random = field(default_factory=random.Random)
    counts: Counter[str] = field(default_factory=Counter)
    injected: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEEP_INJECTED))
    fails: int = 0  # alternates the two ways of failing

    def report(self) -> dict[str, Any]:
        total = Counter({"fail": 0, "delay": 0})
        for key, n in self.counts.items():
            total["delay" if key.endswith(" delay") else "fail"] += n
        return {
            "settings": {"fail_ratio": self.fail_ratio, "delay_ratio": self.delay_ratio,
                         "delay_seconds": self.delay_seconds, "paths": sorted(self.paths)},
            "counts": dict(self.counts), "total": dict(total), "injected": list(self.injected),
        }


def book(state: State) -> FaultBook:
    with state.lock:
        found = state.extras.get("faults")
        if not isinstance(found, FaultBook):
            found = state.extras["faults"] = FaultBook()
        return found


def serve(state: State, request: Request, handler: Handler) -> Response:
    """Serve a WeChat API call through `handler`, unless the dice say it fails or waits first."""
    faults = book(state)
    with state.lock:
        kind = _draw(faults, request.path)
        if kind:
            faults.counts[f"{request.path} {kind}"] += 1
            faults.injected.append({"at": time.time(), "path": request.path, "kind": kind})
        delay = faults.delay_seconds
    if kind == "fail_http":
        return json_response({"errcode": -1, "errmsg": "service unavailable (sandbox fault)"}, 503)
    if kind == "fail_busy":
        if request.path.startswith(PAY_V3_PREFIX):
            return json_response({"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后再试"}, 500)
        if request.path.startswith(PAY_PREFIX):
            return result(state, {}, err_code="SYSTEMERROR", err_code_des="系统繁忙，请稍后再试")
        return json_response({"errcode": -1, "errmsg": "system error"})
    if kind == "delay":
        time.sleep(delay)  # the server's thread per request: other calls go on meanwhile
    return handler(state, request)


def _draw(faults: FaultBook, path: str) -> str:
    """"" (served as usual), "fail_http", "fail_busy" or "delay"; called under the state lock."""
    if faults.paths and path not in faults.paths:
        return ""
    if not faults.fail_ratio and not faults.delay_ratio:
        return ""
    roll = faults.rng.random()
    if roll < faults.fail_ratio:
        faults.fails += 1
        return "fail_http" if faults.fails % 2 else "fail_busy"
    if faults.rng.random() < faults.delay_ratio:
        return "delay"
    return ""


def control(state: State, request: Request) -> Response | None:
    """GET / POST /sandbox/faults; None for any other path."""
    if request.path.rstrip("/") != "/sandbox/faults":
        return None
    faults = book(state)
    if request.method == "GET":
        with state.lock:
            return json_response(faults.report())
    if request.method != "POST":
        return None
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    try:
        changes = _settings(data)
    except ValueError as exc:
        return json_response({"error": "INVALID_ARGUMENT", "message": str(exc)}, 400)
    with state.lock:
        seed = changes.pop("seed", None)
        if seed is not None:
            faults.rng.seed(seed)
        for name, value in changes.items():
            setattr(faults, name, value)
        return json_response(faults.report())


def _settings(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a POST, checked; raises ValueError naming the first bad one."""
    changes: dict[str, Any] = {}
    for name in ("fail_ratio", "delay_ratio"):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1")
            changes[name] = float(value)
    if "delay_seconds" in data:
        value = data["delay_seconds"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be a number of seconds (0..{MAX_DELAY_SECONDS})")
        changes["delay_seconds"] = float(value)
    if "paths" in data:
        paths = data["paths"]
        if paths is None:
            paths = []
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ValueError("paths must be a list of paths such as /pay/pay/unifiedorder")
        changes["paths"] = frozenset(paths)
    if "seed" in data:
        if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
            raise ValueError("seed must be an integer")
        changes["seed"] = data["seed"]
    return changes
