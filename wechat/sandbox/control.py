"""Control endpoints for tests and the demo, under `/sandbox/` (JSON in, JSON out).

    POST /sandbox/login_code       {"openid"?, "unionid"?}          -> {"code", "openid", "unionid"}
    POST /sandbox/phone_code       {"phone"}                          -> {"code", "phone"}
    POST /sandbox/pay              {"out_trade_no", "times"?=1, "concurrent"?=false,
                                    "delay_seconds"?=0, "notify"?=true}
                                   -> {"out_trade_no", "state", "transaction_id", "time_end",
                                       "deliveries": [Delivery…], "scheduled"}
    POST /sandbox/request_payment  {"params": {wx.requestPayment params}, options as /pay}
                                   -> as /pay (checks appId and paySign like the WeChat client)
    POST /sandbox/notify           {"out_trade_no", "times"?, "concurrent"?}
                                   -> {"deliveries", "scheduled"} (re-send a paid trade's notify)
    POST /sandbox/forge_notify     {"out_trade_no", "kind"} -> {"deliveries", "scheduled"}
    POST /sandbox/notify_body      {"out_trade_no", "kind"?="genuine"} -> {"xml"}: the notify WeChat
                                   would send (or the forgery), not delivered (for fuzzing the mall)
    POST /sandbox/trades           {"trades": [{"out_trade_no", "transaction_id", "total_fee",
                                    "openid", "time_end"?, "body"?, "notify_url"?}]}
                                   -> {"registered", "known"} (trades paid before the sandbox
                                      started, e.g. the demo data's: see payments.register_paid)
    GET  /sandbox/trades[?state=NOTPAY]                     -> {"trades": [Trade…]}
    GET  /sandbox/trades/<out_trade_no>                     -> Trade
    GET  /sandbox/users                                     -> {"users": [{"openid", "unionid"}]}
    GET  /sandbox/stats                                     -> {"calls": {"stable_token": n, …}}
    POST /sandbox/expire_tokens                             -> {"expired": n}
    POST /sandbox/reset                                     -> {"reset": true}

Delivery = {"kind", "xml", "status", "answer", "acknowledged", "error", "sent_at"}; Trade has
out_trade_no, prepay_id, body, total_fee, openid, notify_url, state (NOTPAY/SUCCESS/CLOSED),
transaction_id, time_end, time_expire, deliveries. Refusals answer 4xx
{"error": "ORDERCLOSED", "message": "…"}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wechat.sandbox import payments
from wechat.sandbox.miniprogram_api import issue_login_code, issue_phone_code
from wechat.sandbox.payments import PaymentRefused
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.web import Request, Response, json_response

PAY_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "times": int,
    "concurrent": bool,
    "delay_seconds": (int, float),
    "notify": bool,
}


def handle(state: State, request: Request) -> Response | None:
    """Answer a control request, or None when the path is not a control endpoint."""
    path = request.path.rstrip("/")
    if request.method == "GET" and path.startswith("/sandbox/trades/"):
        return _guard(lambda: _trade(state, path.removeprefix("/sandbox/trades/")))
    route = ROUTES.get((request.method, path))
    if route is None:
        return None
    if request.method == "GET":
        return _guard(lambda: route(state, request.query))
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    return _guard(lambda: route(state, data))


def _guard(action: Callable[[], dict[str, Any]]) -> Response:
    try:
        return json_response(action())
    except PaymentRefused as exc:
        return json_response({"error": exc.code, "message": exc.message}, exc.status)


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be a non-empty string", status=400)
    return value


def _options(data: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    options = {}
    for name in allowed:
        if name not in data:
            continue
        value, expected = data[name], PAY_OPTIONS[name]
        # bool is an int in Python: a JSON `true` for times is a caller's mistake, not 1.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise PaymentRefused("INVALID_ARGUMENT", f"{name} has the wrong type", status=400)
        options[name] = value
    return options


def _login_code(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return issue_login_code(
        state,
        openid=_text(data, "openid", required=False) or None,
        unionid=_text(data, "unionid", required=False),
    )


def _phone_code(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return issue_phone_code(state, phone=_text(data, "phone"))


def _pay(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return payments.pay(state, _text(data, "out_trade_no"), **_options(data, tuple(PAY_OPTIONS)))


def _request_payment(state: State, data: dict[str, Any]) -> dict[str, Any]:
    params = data.get("params")
    if not isinstance(params, dict):
        raise PaymentRefused("INVALID_ARGUMENT", "params must be the wx.requestPayment object", status=400)
    return payments.request_payment(state, params, **_options(data, tuple(PAY_OPTIONS)))


def _notify(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return payments.notify(state, _text(data, "out_trade_no"), **_options(data, ("times", "concurrent")))


def _forge(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return payments.forge_notify(state, _text(data, "out_trade_no"), kind=_text(data, "kind"))


def _notify_body(state: State, data: dict[str, Any]) -> dict[str, Any]:
    kind = _text(data, "kind", required=False) or "genuine"
    if kind != "genuine" and kind not in payments.FORGERIES:
        raise PaymentRefused("UNKNOWN_KIND", f"kind must be genuine or one of {', '.join(payments.FORGERIES)}", 400)
    with state.lock:
        trade = payments.paid_trade(state, _text(data, "out_trade_no"))
        return {"xml": payments.notify_xml(state, trade, kind).decode("utf-8")}


def _register_paid(state: State, data: dict[str, Any]) -> dict[str, Any]:
    trades = data.get("trades")
    if not isinstance(trades, list):
        raise PaymentRefused("INVALID_ARGUMENT", "trades must be a list", status=400)
    return payments.register_paid(state, trades)


def _trade(state: State, out_trade_no: str) -> dict[str, Any]:
    with state.lock:
        trade = state.trades.get(out_trade_no)
        if trade is None:
            raise PaymentRefused("ORDERNOTEXIST", "此交易订单号不存在", status=404)
        return trade.as_json()


def _trades(state: State, query: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        trades = [t.as_json() for t in state.trades.values() if query.get("state") in (None, t.state)]
    return {"trades": trades}


def _users(state: State, query: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        return {"users": [{"openid": u.openid, "unionid": u.unionid} for u in state.users.values()]}


def _stats(state: State, query: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        return {"calls": dict(state.calls)}


def _expire_tokens(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return {"expired": state.expire_tokens()}


def _reset(state: State, data: dict[str, Any]) -> dict[str, Any]:
    state.reset()
    return {"reset": True}


ROUTES: dict[tuple[str, str], Callable[[State, Any], dict[str, Any]]] = {
    ("POST", "/sandbox/login_code"): _login_code,
    ("POST", "/sandbox/phone_code"): _phone_code,
    ("POST", "/sandbox/pay"): _pay,
    ("POST", "/sandbox/request_payment"): _request_payment,
    ("POST", "/sandbox/notify"): _notify,
    ("POST", "/sandbox/forge_notify"): _forge,
    ("POST", "/sandbox/notify_body"): _notify_body,
    ("GET", "/sandbox/trades"): _trades,
    ("POST", "/sandbox/trades"): _register_paid,
    ("GET", "/sandbox/users"): _users,
    ("GET", "/sandbox/stats"): _stats,
    ("POST", "/sandbox/expire_tokens"): _expire_tokens,
    ("POST", "/sandbox/reset"): _reset,
}
