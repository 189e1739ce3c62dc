"""WeChat Pay v2 refunds as the sandbox serves them (client certificate, encrypted refund notify).

Exposes `ROUTES` (WeChat's own paths → handler) and `control(state, request)` for its
`/sandbox/...` control endpoints (None when the path is not one of them). Its state lives in
`state.extras["refunds"]`.

    POST /pay/secapi/pay/refund   only on the HTTPS listener with the merchant's client
                                  certificate (the TLS handshake fails without one; on the
                                  plain listener it answers return_code FAIL). Idempotent per
                                  out_refund_no; never refunds more than the trade's total_fee.
    POST /pay/pay/refundquery     by out_refund_no / refund_id / out_trade_no / transaction_id.

A refund is accepted as PROCESSING; it completes when a test (or the demo) settles it — or at
once, after `settle_delay_seconds`, with the `auto_settle` option — and WeChat's notification
is POSTed to its notify_url: `<xml>` with return_code, appid, mch_id, nonce_str and `req_info`,
the refund's fields as `<root>` XML, AES-256-ECB encrypted with md5(API key) (PKCS#7), base64.
Refund notifications carry no signature; the encryption is what proves them.

Control endpoints (JSON):

    POST /sandbox/refund_settle   {"out_refund_no", "status"?="SUCCESS"|"CHANGE"|"REFUNDCLOSE",
                                   "times"?=1, "concurrent"?=false, "delay_seconds"?=0,
                                   "notify"?=true (false: settled, but no notify arrives)}
                                  -> {"out_refund_no", "refund_id", "status", "deliveries",
                                      "scheduled"}
    POST /sandbox/refund_notify   {"out_refund_no", "times"?, "concurrent"?}  re-send
    POST /sandbox/refund_forge    {"out_refund_no", "kind"} kind in REFUND_FORGERIES
    POST /sandbox/refund_notify_body {"out_refund_no", "kind"?="genuine"} -> {"xml"}: the notify
                                  WeChat would send (or the forgery), not delivered
    POST /sandbox/refund_options  {"fail_next"?: ["NOTENOUGH", …], "auto_settle"?: bool,
                                   "settle_delay_seconds"?: number} -> the options
    GET  /sandbox/refunds[?out_trade_no=]  -> {"refunds": [Refund…]}
    GET  /sandbox/refunds/<out_refund_no>  -> Refund (with its deliveries)
"""

from __future__ import annotations

import base64
import hashlib
import string
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wechat.sandbox.pay_api import authenticate, fail, find_trade, result
from wechat.sandbox.payments import MAX_DELIVERIES, PaymentRefused, _deliver
from wechat.sandbox.state import Delivery
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.tls import CLIENT_CERT_HEADER
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import random_token, shanghai_now, to_xml

SUCCESS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SETTLE_STATUSES = ("SUCCESS", "CHANGE", "REFUNDCLOSE")
REFUND_FORGERIES = ("wrong_key", "other_appid", "other_mch_id", "malformed", "not_encrypted", "wrong_amount")
FAILABLE = ("NOTENOUGH", "SYSTEMERROR", "FREQUENCY_LIMITED", "USER_ACCOUNT_ABNORMAL", "ERROR")
FAIL_DESCRIPTIONS = {
    "NOTENOUGH": "基本账户余额不足，请充值后重新发起",
    "SYSTEMERROR": "系统超时，请用相同参数再次调用",
    "FREQUENCY_LIMITED": "频率限制",
    "USER_ACCOUNT_ABNORMAL": "退款请求失败，用户账号已注销",
    "ERROR": "业务错误",
}
REQUIRED = ("out_refund_no", "total_fee", "refund_fee")


@dataclass
class RefundRecord:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    total_fee: int
    refund_fee: int
    refund_desc: str
    notify_url: str
    status: str = "PROCESSING"  # -> SUCCESS | CHANGE | REFUNDCLOSE
    created_at: str = ""
    success_time: str = ""
    deliveries: list[Delivery] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RefundBook:
    refunds: dict[str, RefundRecord] = field(default_factory=dict)
    fail_next: list[str] = field(default_factory=list)
    auto_settle: bool = False
    settle_delay_seconds: float = 0.2

    def options(self) -> dict[str, Any]:
        return {"fail_next": list(self.fail_next), "auto_settle": self.auto_settle,
                "settle_delay_seconds": self.settle_delay_seconds}


def book(state: State) -> RefundBook:
    with state.lock:
        found = state.extras.get("refunds")
        if not isinstance(found, RefundBook):
            found = state.extras["refunds"] = RefundBook()
        return found


# --- WeChat's endpoints -------------------------------------------------------------------------


def refund(state: State, request: Request) -> Response:
    """POST /pay/secapi/pay/refund — accept a refund of a paid trade (client certificate only)."""
    state.count("refund")
    if CLIENT_CERT_HEADER not in request.headers:
        return fail("请使用商户API证书（双向TLS）调用退款接口")
    fields = authenticate(state, request)
    if isinstance(fields, Response):
        return fields
    if request.headers[CLIENT_CERT_HEADER] != state.mch_id:
        return fail("证书与商户号不匹配")
    for name in REQUIRED:
        if not fields.get(name):
            return fail(f"缺少参数{name}")
    if not fields.get("out_trade_no") and not fields.get("transaction_id"):
        return fail("缺少参数out_trade_no或transaction_id")
    if not fields["total_fee"].isdigit() or not fields["refund_fee"].isdigit() or int(fields["refund_fee"]) <= 0:
        return result(state, {}, err_code="PARAM_ERROR", err_code_des="total_fee或refund_fee参数格式错误")
    total_fee, refund_fee = int(fields["total_fee"]), int(fields["refund_fee"])
    refunds = book(state)
    with state.lock:
        trade = find_trade(state, fields)
        if trade is None:
            return result(state, {}, err_code="ORDERNOTEXIST", err_code_des="订单不存在")
        if trade.state != "SUCCESS":
            return result(state, {}, err_code="TRADE_STATE_ERROR", err_code_des="订单状态错误")
        if total_fee != trade.total_fee:
            return result(state, {}, err_code="PARAM_ERROR", err_code_des="订单金额与支付金额不一致")
        existing = refunds.refunds.get(fields["out_refund_no"])
        if existing is not None:
            # The same out_refund_no refunds once: a repeat with the same amount gets the same refund.
            if existing.out_trade_no != trade.out_trade_no or existing.refund_fee != refund_fee:
                return result(state, {}, err_code="INVALID_REQUEST",
                              err_code_des="订单金额或退款金额与之前请求不一致，请核实后再试")
            record = existing
        else:
            if refunds.fail_next:
                code = refunds.fail_next.pop(0)
                return result(state, {}, err_code=code, err_code_des=FAIL_DESCRIPTIONS.get(code, "业务错误"))
            refunded = sum(r.refund_fee for r in refunds.refunds.values()
                           if r.out_trade_no == trade.out_trade_no and r.status != "REFUNDCLOSE")
            if refunded + refund_fee > trade.total_fee:
                return result(state, {}, err_code="INVALID_REQUEST", err_code_des="累计退款金额大于支付金额")
            record = RefundRecord(
                out_refund_no=fields["out_refund_no"],
                refund_id="50" + random_token(27, string.digits),
                out_trade_no=trade.out_trade_no,
                transaction_id=trade.transaction_id,
                total_fee=trade.total_fee,
                refund_fee=refund_fee,
                refund_desc=fields.get("refund_desc", ""),
                notify_url=fields.get("notify_url", "") or trade.notify_url,
                created_at=shanghai_now().strftime(SUCCESS_TIME_FORMAT),
            )
            refunds.refunds[record.out_refund_no] = record
            if refunds.auto_settle:
                _later(refunds.settle_delay_seconds, lambda: settle(state, record.out_refund_no))
        reply = {
            "transaction_id": record.transaction_id,
            "out_trade_no": record.out_trade_no,
            "out_refund_no": record.out_refund_no,
            "refund_id": record.refund_id,
            "refund_fee": str(record.refund_fee),
            "settlement_refund_fee": str(record.refund_fee),
            "total_fee": str(record.total_fee),
            "cash_fee": str(record.total_fee),
            "cash_refund_fee": str(record.refund_fee),
            "refund_channel": "",
        }
        return result(state, reply)


def refundquery(state: State, request: Request) -> Response:
    """POST /pay/pay/refundquery — the refunds of a trade, or one refund, with their status."""
    state.count("refundquery")
    fields = authenticate(state, request)
    if isinstance(fields, Response):
        return fields
    keys = ("out_refund_no", "refund_id", "out_trade_no", "transaction_id")
    if not any(fields.get(k) for k in keys):
        return fail("缺少参数out_refund_no")
    with state.lock:
        records = [r for r in book(state).refunds.values()
                   if any(fields.get(k) and getattr(r, k) == fields[k] for k in keys)]
        if not records:
            return result(state, {}, err_code="REFUNDNOTEXIST", err_code_des="退款订单查询失败")
        first = records[0]
        reply = {"transaction_id": first.transaction_id, "out_trade_no": first.out_trade_no,
                 "total_fee": str(first.total_fee), "cash_fee": str(first.total_fee),
                 "refund_count": str(len(records))}
        for n, record in enumerate(records):
            reply.update({f"out_refund_no_{n}": record.out_refund_no, f"refund_id_{n}": record.refund_id,
                          f"refund_fee_{n}": str(record.refund_fee), f"refund_status_{n}": record.status,
                          f"refund_recv_accout_{n}": "支付用户的零钱"})
            if record.success_time:
                reply[f"refund_success_time_{n}"] = record.success_time
        return result(state, reply)


ROUTES: dict[tuple[str, str], Callable[[State, Request], Response]] = {
    ("POST", "/pay/secapi/pay/refund"): refund,
    ("POST", "/pay/pay/refundquery"): refundquery,
}


# --- WeChat's side: settling and notifying -------------------------------------------------------


def settle(state: State, out_refund_no: str, *, status: str = "SUCCESS", times: int = 1,
           concurrent: bool = False, delay_seconds: float = 0, notify: bool = True) -> dict[str, Any]:
    """Finish a PROCESSING refund as `status` and notify our server `times` times (never, with
    notify=False: only refundquery can tell)."""
    if status not in SETTLE_STATUSES:
        raise PaymentRefused("INVALID_ARGUMENT", f"status must be one of {', '.join(SETTLE_STATUSES)}", 400)
    with state.lock:
        record = _record(state, out_refund_no)
        if record.status != "PROCESSING":
            raise PaymentRefused("REFUND_SETTLED", f"退款已处理（{record.status}）")
        record.status = status
        if status == "SUCCESS":
            record.success_time = shanghai_now().strftime(SUCCESS_TIME_FORMAT)
    if not notify:
        return {"out_refund_no": record.out_refund_no, "refund_id": record.refund_id, "status": record.status,
                "deliveries": [], "scheduled": False}
    return _send(state, record, "genuine", _bounded(times), concurrent, delay_seconds)


def renotify(state: State, out_refund_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
    """Send a settled refund's notification again (as WeChat's retries do)."""
    with state.lock:
        record = _record(state, out_refund_no)
        if record.status == "PROCESSING":
            raise PaymentRefused("REFUND_PROCESSING", "退款处理中，尚无退款通知")
    return _send(state, record, "genuine", _bounded(times), concurrent, 0)


def forge(state: State, out_refund_no: str, *, kind: str) -> dict[str, Any]:
    """POST a refund notification WeChat never sent, shaped as `kind` says."""
    if kind not in REFUND_FORGERIES:
        raise PaymentRefused("UNKNOWN_KIND", f"kind must be one of {', '.join(REFUND_FORGERIES)}", 400)
    with state.lock:
        record = _record(state, out_refund_no)
    return _send(state, record, kind, 1, False, 0)


def notify_body(state: State, record: RefundRecord, kind: str = "genuine") -> bytes:
    """The refund notification for `record`, genuine or forged as `kind` says."""
    inner = {
        "out_refund_no": record.out_refund_no,
        "out_trade_no": record.out_trade_no,
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
        "refund_fee": str(record.refund_fee + (1 if kind == "wrong_amount" else 0)),
        "refund_id": record.refund_id,
        "refund_recv_accout": "支付用户的零钱",
        "refund_request_source": "API",
        "refund_status": record.status if record.status != "PROCESSING" else "SUCCESS",
        "settlement_refund_fee": str(record.refund_fee),
        "settlement_total_fee": str(record.total_fee),
        "success_time": record.success_time or shanghai_now().strftime(SUCCESS_TIME_FORMAT),
        "total_fee": str(record.total_fee),
        "transaction_id": record.transaction_id,
    }
    plain = b"<root>" + to_xml(inner)[len(b"<xml>"):-len(b"</xml>")] + b"</root>"
    key = "not-the-merchant-key" if kind == "wrong_key" else state.api_key
    req_info = base64.b64encode(plain).decode() if kind == "not_encrypted" else encrypt_req_info(plain, key)
    outer = {"return_code": "SUCCESS", "appid": state.app_id, "mch_id": state.mch_id,
             "nonce_str": random_token(32), "req_info": req_info}
    if kind == "other_appid":
        outer["appid"] = "wx" + random_token(16, "0123456789abcdef")
    elif kind == "other_mch_id":
        outer["mch_id"] = str(int(state.mch_id) + 1) if state.mch_id.isdigit() else state.mch_id + "0"
    body = to_xml(outer)
    return body[: len(body) // 2] if kind == "malformed" else body


def encrypt_req_info(plain: bytes, api_key: str) -> str:
    """WeChat's req_info: AES-256-ECB with key = md5(API key) as 32 hex characters, PKCS#7, base64."""
    key = hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def _send(state: State, record: RefundRecord, kind: str, times: int, concurrent: bool,
          delay_seconds: float) -> dict[str, Any]:
    bodies = [notify_body(state, record, kind) for _ in range(times)]
    answer: dict[str, Any] = {"out_refund_no": record.out_refund_no, "refund_id": record.refund_id,
                              "status": record.status}
    if delay_seconds > 0:
        _later(delay_seconds, lambda: _deliver_all(state, record, kind, bodies, concurrent))
        return {**answer, "deliveries": [], "scheduled": True}
    deliveries = _deliver_all(state, record, kind, bodies, concurrent)
    return {**answer, "deliveries": [asdict(d) for d in deliveries], "scheduled": False}


def _deliver_all(state: State, record: RefundRecord, kind: str, bodies: list[bytes],
                 concurrent: bool) -> list[Delivery]:
    if not record.notify_url:
        return []
    if not concurrent:
        results = [_deliver(record.notify_url, body, kind) for body in bodies]
    else:
        # All threads wait at the barrier, then POST together: the duplicate-notify race.
        by_index: dict[int, Delivery] = {}
        barrier = threading.Barrier(len(bodies))

        def run(index: int, body: bytes) -> None:
            barrier.wait()
            by_index[index] = _deliver(record.notify_url, body, kind)

        threads = [threading.Thread(target=run, args=(i, b), daemon=True) for i, b in enumerate(bodies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = [by_index[i] for i in range(len(bodies))]
    with state.lock:
        record.deliveries.extend(results)
    return results


def _later(delay_seconds: float, action: Callable[[], object]) -> None:
    def run() -> None:
        time.sleep(delay_seconds)
        try:
            action()
        except PaymentRefused:
            pass  # settled meanwhile by a test: nothing left to do

    threading.Thread(target=run, name="sandbox-refund-later", daemon=True).start()


def _record(state: State, out_refund_no: str) -> RefundRecord:
    record = book(state).refunds.get(out_refund_no)
    if record is None:
        raise PaymentRefused("REFUNDNOTEXIST", "退款单不存在", status=404)
    return record


def _bounded(times: Any) -> int:
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_DELIVERIES:
        raise PaymentRefused("INVALID_TIMES", f"times must be 1..{MAX_DELIVERIES}", status=400)
    return times


# --- control endpoints ----------------------------------------------------------------------------


def control(state: State, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if request.method == "GET" and path.startswith("/sandbox/refunds/"):
        out_refund_no = path.removeprefix("/sandbox/refunds/")
        return _guard(lambda: _record_json(state, out_refund_no))
    if request.method == "GET" and path == "/sandbox/refunds":
        return _guard(lambda: _list(state, request.query))
    action = _CONTROLS.get(path) if request.method == "POST" else None
    if action is None:
        return None
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    return _guard(lambda: action(state, data))


def _guard(action: Callable[[], dict[str, Any]]) -> Response:
    try:
        return json_response(action())
    except PaymentRefused as exc:
        return json_response({"error": exc.code, "message": exc.message}, exc.status)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be a non-empty string", status=400)
    return value


def _flag(data: dict[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be true or false", status=400)
    return value


def _seconds(data: dict[str, Any], name: str, default: float = 0) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
        raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be a number of seconds (0..60)", status=400)
    return float(value)


def _settle(state: State, data: dict[str, Any]) -> dict[str, Any]:
    status = data.get("status", "SUCCESS")
    return settle(state, _text(data, "out_refund_no"), status=str(status), times=data.get("times", 1),
                  concurrent=_flag(data, "concurrent"), delay_seconds=_seconds(data, "delay_seconds"),
                  notify=_flag(data, "notify", True))


def _notify_body(state: State, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("kind", "genuine")
    if kind != "genuine" and kind not in REFUND_FORGERIES:
        raise PaymentRefused("UNKNOWN_KIND", f"kind must be genuine or one of {', '.join(REFUND_FORGERIES)}", 400)
    with state.lock:
        record = _record(state, _text(data, "out_refund_no"))
        if record.status == "PROCESSING":
            raise PaymentRefused("REFUND_PROCESSING", "退款处理中，尚无退款通知")
        return {"xml": notify_body(state, record, str(kind)).decode("utf-8")}


def _renotify(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return renotify(state, _text(data, "out_refund_no"), times=data.get("times", 1),
                    concurrent=_flag(data, "concurrent"))


def _forge(state: State, data: dict[str, Any]) -> dict[str, Any]:
    return forge(state, _text(data, "out_refund_no"), kind=_text(data, "kind"))


def _options(state: State, data: dict[str, Any]) -> dict[str, Any]:
    refunds = book(state)
    fail_next = data.get("fail_next")
    if isinstance(fail_next, str):
        fail_next = [fail_next]
    if fail_next is not None and (not isinstance(fail_next, list)
                                  or not all(code in FAILABLE for code in fail_next)):
        raise PaymentRefused("INVALID_ARGUMENT", f"fail_next takes codes of {', '.join(FAILABLE)}", status=400)
    with state.lock:
        if fail_next is not None:
            refunds.fail_next = list(fail_next)
        if "auto_settle" in data:
            refunds.auto_settle = _flag(data, "auto_settle")
        if "settle_delay_seconds" in data:
            refunds.settle_delay_seconds = _seconds(data, "settle_delay_seconds")
        return refunds.options()


def _record_json(state: State, out_refund_no: str) -> dict[str, Any]:
    with state.lock:
        return _record(state, out_refund_no).as_json()


def _list(state: State, query: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        return {"refunds": [r.as_json() for r in book(state).refunds.values()
                            if query.get("out_trade_no") in (None, r.out_trade_no)]}


_CONTROLS: dict[str, Callable[[State, dict[str, Any]], dict[str, Any]]] = {
    "/sandbox/refund_settle": _settle,
    "/sandbox/refund_notify": _renotify,
    "/sandbox/refund_forge": _forge,
    "/sandbox/refund_notify_body": _notify_body,
    "/sandbox/refund_options": _options,
}
