"""WeChat's shipping-information upload (upload_shipping_info) as the sandbox serves it.

Exposes `ROUTES` (WeChat's own paths → handler) and `control(state, request)` for its
`/sandbox/...` control endpoints (None when the path is not one of them). Its state lives in
`state.extras["shipping"]`.

    POST /wxa/sec/order/upload_shipping_info?access_token=…   WeChat's JSON body, WeChat's errcodes

It checks what WeChat checks: the token; the body's required fields and enums; the order key
naming a *paid* trade this sandbox knows (10060001 支付单不存在 otherwise); the payer being the
trade's openid; at most 15 packages (one for unified delivery); a masked receiver contact for
SF; an RFC 3339 `upload_time` later than the previous upload's; and "re-shipping" a payment
that is already fully delivered only once (10060003 after that).

Control endpoints:

    POST /sandbox/shipping/fail_next   {"count": n, "errcode"?: -1}  -> {"pending_failures": n}
    GET  /sandbox/shipping/uploads[?transaction_id=…]           -> {"uploads": [Upload…]}
    GET  /sandbox/shipping/orders/<transaction_id>               -> ShippingOrder

Upload = {"transaction_id", "body", "errcode", "errmsg", "received_at"} (every request, accepted
or not); ShippingOrder = {"transaction_id", "order_state" (1 待发货, 2 已发货), "delivery_mode",
"is_all_delivered", "shipping_list", "uploads", "reshipped"}.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from wechat.sandbox.state import SandboxState, Trade
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import shanghai_now

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    42001: "access_token expired",
    47001: "data format error",
    10060001: "支付单不存在",
    10060003: "支付单已使用重新发货机会",
    10060005: "物流类型有误",
    10060006: "非快递发货时不允许分拆发货",
    10060007: "分拆发货模式下必须填写 is_all_delivered",
    10060008: "商品描述不能为空",
    10060009: "商品描述长度超过 120 个字",
    10060014: "参数错误",
    10060023: "发货信息未更新，拒绝本次录入",
    10060024: "物流信息列表过长",
    10060025: "物流公司编码有误",
    268485216: "upload_time 非法，请按照 RFC 3339 格式填写",
    268485224: "发货模式非法",
}

# WeChat's delivery_id codes (get_delivery_list) that the sandbox accepts as express_company.
DELIVERY_IDS = frozenset({"SF", "ZTO", "YTO", "YD", "STO", "EMS", "JD", "JTSD", "DBL", "YZPY", "ZJS", "BEST"})
MAX_PACKAGES = 15
ITEM_DESC_MAX = 120
# Masked: digits (and an optional +86- prefix) with a run of '*', the last 4 digits in the clear.
MASKED_CONTACT = re.compile(r"^(\+\d{1,3}-)?\d*\*+\d{4}$")


class _Refused(Exception):
    def __init__(self, errcode: int, hint: str = "") -> None:
        super().__init__(errcode, hint)
        self.errcode = errcode
        self.hint = hint


def _store(state: SandboxState) -> dict[str, Any]:
    """This module's corner of the sandbox state (call with state.lock held)."""
    return state.extras.setdefault("shipping", {"fail_next": [], "uploads": [], "orders": {}})


def _error(errcode: int, hint: str = "") -> Response:
    message = ERRMSG.get(errcode, "error")
    if hint:
        message = f"{message}: {hint}"
    return json_response({"errcode": errcode, "errmsg": message})


def upload_shipping_info(state: SandboxState, request: Request) -> Response:
    """POST /wxa/sec/order/upload_shipping_info?access_token=…"""
    state.count("upload_shipping_info")
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return _error(errcode)
    body = request.json()
    with state.lock:
        store = _store(state)
        record: dict[str, Any] = {"transaction_id": _named_transaction(state, body), "body": body, "errcode": 0,
                                  "errmsg": "ok", "received_at": shanghai_now().isoformat()}
        store["uploads"].append(record)
        if store["fail_next"]:
            injected = store["fail_next"].pop(0)
            record.update(errcode=injected, errmsg=ERRMSG.get(injected, "error"))
            return _error(injected)
        try:
            if body is None:
                raise _Refused(47001)
            trade = _check(state, store, body)
        except _Refused as refused:
            record.update(errcode=refused.errcode, errmsg=ERRMSG.get(refused.errcode, "error"))
            return _error(refused.errcode, refused.hint)
        _accept(store, trade, body)
    return json_response({"errcode": 0, "errmsg": "ok"})


def _named_transaction(state: SandboxState, body: dict[str, Any] | None) -> str:
    """The transaction the body's order_key names, if any (for the record of every request)."""
    key = (body or {}).get("order_key")
    if not isinstance(key, dict):
        return ""
    if isinstance(key.get("transaction_id"), str):
        return str(key["transaction_id"])
    trade = state.trades.get(str(key.get("out_trade_no")))
    return trade.transaction_id if trade is not None else ""


def _check(state: SandboxState, store: dict[str, Any], body: dict[str, Any]) -> Trade:
    trade = _paid_trade(state, body.get("order_key"))
    payer = body.get("payer")
    if not isinstance(payer, dict) or not isinstance(payer.get("openid"), str) or not payer["openid"]:
        raise _Refused(10060014, "payer.openid 必填")
    if payer["openid"] != trade.openid:
        raise _Refused(10060014, "payer.openid 与支付单的支付者不一致")
    logistics_type = body.get("logistics_type")
    if logistics_type not in (1, 2, 3, 4) or isinstance(logistics_type, bool):
        raise _Refused(10060005)
    delivery_mode = body.get("delivery_mode")
    if delivery_mode not in (1, 2) or isinstance(delivery_mode, bool):
        raise _Refused(268485224)
    if delivery_mode == 2:
        if logistics_type != 1:
            raise _Refused(10060006)
        if not isinstance(body.get("is_all_delivered"), bool):
            raise _Refused(10060007)
    shipping_list = body.get("shipping_list")
    if not isinstance(shipping_list, list) or not shipping_list:
        raise _Refused(10060014, "shipping_list 必填")
    if len(shipping_list) > (1 if delivery_mode == 1 else MAX_PACKAGES):
        raise _Refused(10060024)
    for item in shipping_list:
        _check_package(item, express=logistics_type == 1)
    upload_time = _rfc3339(body.get("upload_time"))
    order = store["orders"].get(trade.transaction_id)
    if order is not None:
        if upload_time <= dt.datetime.fromisoformat(order["upload_time"]):
            raise _Refused(10060023, "upload_time 须晚于上一次录入")
        if order["order_state"] == 2 and order["reshipped"]:
            raise _Refused(10060003)
    return trade


def _paid_trade(state: SandboxState, order_key: Any) -> Trade:
    if not isinstance(order_key, dict):
        raise _Refused(10060014, "order_key 必填")
    kind = order_key.get("order_number_type")
    trade: Trade | None = None
    if kind == 1:
        mchid, out_trade_no = order_key.get("mchid"), order_key.get("out_trade_no")
        if not isinstance(mchid, str) or not isinstance(out_trade_no, str) or not mchid or not out_trade_no:
            raise _Refused(10060014, "order_number_type 为 1 时 mchid 与 out_trade_no 必填")
        if mchid == state.mch_id:
            trade = state.trades.get(out_trade_no)
    elif kind == 2:
        transaction_id = order_key.get("transaction_id")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise _Refused(10060014, "order_number_type 为 2 时 transaction_id 必填")
        trade = next((t for t in state.trades.values() if t.transaction_id == transaction_id), None)
    else:
        raise _Refused(10060014, "order_number_type 只能是 1 或 2")
    if trade is None or trade.state != "SUCCESS" or not trade.transaction_id:
        raise _Refused(10060001)
    return trade


def _check_package(item: Any, *, express: bool) -> None:
    if not isinstance(item, dict):
        raise _Refused(10060014, "shipping_list 的元素须为对象")
    desc = item.get("item_desc")
    if not isinstance(desc, str) or not desc.strip():
        raise _Refused(10060008)
    if len(desc) > ITEM_DESC_MAX:
        raise _Refused(10060009)
    if not express:
        return
    tracking_no, company = item.get("tracking_no"), item.get("express_company")
    if not isinstance(tracking_no, str) or not tracking_no or len(tracking_no) > 128:
        raise _Refused(10060014, "物流快递发货时 tracking_no 必填")
    if company not in DELIVERY_IDS:
        raise _Refused(10060025)
    contact = item.get("contact")
    if contact is not None and not isinstance(contact, dict):
        raise _Refused(10060014, "contact 须为对象")
    numbers = [v for v in (contact or {}).values() if v]
    for number in numbers:
        if not isinstance(number, str) or not MASKED_CONTACT.match(number):
            raise _Refused(10060014, "联系方式须掩码传输，最后 4 位数字不能打掩码")
    if company == "SF" and not numbers:
        raise _Refused(10060014, "顺丰快递须填写收件人或寄件人联系方式")


def _rfc3339(value: Any) -> dt.datetime:
    if not isinstance(value, str) or "T" not in value:
        raise _Refused(268485216)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Refused(268485216) from None
    if moment.tzinfo is None:
        raise _Refused(268485216)
    return moment


def _accept(store: dict[str, Any], trade: Trade, body: dict[str, Any]) -> None:
    """Record the payment's shipping as WeChat now knows it (call with the lock held)."""
    order = store["orders"].get(trade.transaction_id)
    complete = body["delivery_mode"] == 1 or body.get("is_all_delivered") is True
    reshipping = order is not None and order["order_state"] == 2
    store["orders"][trade.transaction_id] = {
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "order_state": 2 if complete else 1,
        "delivery_mode": body["delivery_mode"],
        "is_all_delivered": complete,
        "shipping_list": body["shipping_list"],
        "upload_time": _rfc3339(body["upload_time"]).isoformat(),
        "uploads": (order["uploads"] if order else 0) + 1,
        "reshipped": bool(order and order["reshipped"]) or reshipping,
    }


# --- control endpoints ----------------------------------------------------------------------------


def control(state: SandboxState, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if not path.startswith("/sandbox/shipping/"):
        return None
    if request.method == "POST" and path == "/sandbox/shipping/fail_next":
        return _fail_next(state, request)
    if request.method == "GET" and path == "/sandbox/shipping/uploads":
        wanted = request.query.get("transaction_id")
        with state.lock:
            uploads = [dict(u) for u in _store(state)["uploads"] if wanted in (None, u["transaction_id"])]
        return json_response({"uploads": uploads})
    if request.method == "GET" and path.startswith("/sandbox/shipping/orders/"):
        transaction_id = path.removeprefix("/sandbox/shipping/orders/")
        with state.lock:
            order = _store(state)["orders"].get(transaction_id)
            if order is None:
                return json_response({"error": "NOT_FOUND", "message": "该支付单没有发货信息"}, 404)
            return json_response(dict(order))
    return None


def _fail_next(state: SandboxState, request: Request) -> Response:
    data = request.json()
    count = data.get("count") if data else None
    errcode = data.get("errcode", -1) if data else -1
    if not isinstance(count, int) or isinstance(count, bool) or count < 0 or not isinstance(errcode, int):
        return json_response({"error": "INVALID_ARGUMENT", "message": "count 须为非负整数，errcode 须为整数"}, 400)
    with state.lock:
        store = _store(state)
        store["fail_next"] = [errcode] * count
        return json_response({"pending_failures": len(store["fail_next"])})


ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {
    ("POST", "/wxa/sec/order/upload_shipping_info"): upload_shipping_info,
}
