"""The shopper's side of paying and WeChat's side of notifying: what the control endpoints
and the page do when someone "pays" in the sandbox.

Notifications are signed and shaped exactly as WeChat sends them and POSTed to the trade's
notify_url; every delivery is recorded on the trade with our server's answer. Network I/O
happens outside the state lock so a slow notify target never blocks the sandbox. WeChat's
retry schedule for unacknowledged notifications is not modelled: re-send with `notify()`.
"""

from __future__ import annotations

import string
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import asdict
from typing import Any

from wechat.sandbox.pay_api import paid_fields
from wechat.sandbox.state import Delivery, Trade
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.wire import (
    format_time,
    parse_time,
    parse_xml,
    random_token,
    shanghai_now,
    sign_md5,
    to_xml,
)
from wechat.sandbox.wire import signed as sign_fields

NOTIFY_TIMEOUT_SECONDS = 10
MAX_DELIVERIES = 20  # one request's bound on duplicate deliveries
FORGERIES = ("bad_sign", "unsigned", "wrong_amount", "other_appid", "other_mch_id", "malformed")


class PaymentRefused(Exception):
    """The sandbox refuses the action; `code` is WeChat-like (ORDERPAID, ORDERCLOSED…)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def pay(
    state: State,
    out_trade_no: str,
    *,
    times: int = 1,
    concurrent: bool = False,
    delay_seconds: float = 0,
    notify: bool = True,
) -> dict[str, Any]:
    """Mark a NOTPAY trade paid (new transaction_id, time_end now) and notify `times` times.

    With delay_seconds > 0 the notifications are sent later from a background thread and the
    answer has no deliveries yet (read them with the trade later). notify=False: paid at
    WeChat, but no notification ever arrives (only orderquery can tell).
    """
    times = _bounded_times(times)
    with state.lock:
        trade = _trade(state, out_trade_no)
        if trade.state == "SUCCESS":
            raise PaymentRefused("ORDERPAID", "该订单已支付")
        if trade.state == "CLOSED":
            raise PaymentRefused("ORDERCLOSED", "该订单已关闭")
        now = shanghai_now()
        expires = parse_time(trade.time_expire) if trade.time_expire else None
        if expires is not None and expires <= now:
            raise PaymentRefused("ORDER_EXPIRED", "订单已过支付期限")
        trade.state = "SUCCESS"
        trade.transaction_id = state.new_transaction_id(now)
        trade.time_end = format_time(now)
        answer: dict[str, Any] = {
            "out_trade_no": trade.out_trade_no,
            "state": trade.state,
            "transaction_id": trade.transaction_id,
            "time_end": trade.time_end,
        }
    answer["deliveries"], answer["scheduled"] = [], False
    if notify:
        answer.update(_send(state, trade, "genuine", times, concurrent, delay_seconds))
    return answer


def register_paid(state: State, trades: list[Any]) -> dict[str, int]:
    """Know trades that were paid at WeChat before this sandbox started (its memory is its
    process's): each {"out_trade_no", "transaction_id", "total_fee", "openid", "time_end"?
    (yyyyMMddHHmmss, Shanghai), "body"?, "notify_url"?} becomes a SUCCESS trade, as WeChat
    would still hold it — so shipping uploads, order queries and refunds of it work.

    A trade this sandbox already holds is left as it is (its own record wins) and counted as
    known. All or nothing: one invalid entry refuses the whole request and registers none.
    """
    entries = [_paid_entry(entry) for entry in trades]
    with state.lock:
        new = {e["out_trade_no"]: e for e in entries if e["out_trade_no"] not in state.trades}
        taken = Counter(t.transaction_id for t in state.trades.values() if t.transaction_id)
        taken.update(e["transaction_id"] for e in new.values())
        clash = next((tid for tid, n in taken.items() if n > 1), None)
        if clash is not None:
            raise PaymentRefused("TRANSACTION_ID_TAKEN", f"微信支付单号 {clash} 属于两笔交易")
        for entry in new.values():
            moment = parse_time(entry["time_end"]) or shanghai_now()
            state.trades[entry["out_trade_no"]] = Trade(
                out_trade_no=entry["out_trade_no"],
                prepay_id=f"wx{format_time(moment)}{random_token(18, string.hexdigits.lower()[:16])}",
                body=entry["body"], total_fee=entry["total_fee"], openid=entry["openid"],
                notify_url=entry["notify_url"], spbill_create_ip="127.0.0.1", state="SUCCESS",
                created_at=format_time(moment), transaction_id=entry["transaction_id"],
                time_end=format_time(moment),
            )
    registered = len(new)
    known = len({e["out_trade_no"] for e in entries}) - registered
    return {"registered": registered, "known": known}


def _paid_entry(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise PaymentRefused("INVALID_ARGUMENT", "trades must be a list of objects", status=400)
    checked: dict[str, Any] = {}
    for name in ("out_trade_no", "transaction_id", "openid"):
        value = entry.get(name)
        if not isinstance(value, str) or not value or len(value) > 64:
            raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be a non-empty string", status=400)
        checked[name] = value
    total_fee = entry.get("total_fee")
    if not isinstance(total_fee, int) or isinstance(total_fee, bool) or total_fee <= 0:
        raise PaymentRefused("INVALID_ARGUMENT", "total_fee must be a positive integer (fen)", status=400)
    checked["total_fee"] = total_fee
    for name in ("time_end", "body", "notify_url"):
        value = entry.get(name, "")
        if not isinstance(value, str):
            raise PaymentRefused("INVALID_ARGUMENT", f"{name} must be a string", status=400)
        checked[name] = value
    if checked["time_end"] and parse_time(checked["time_end"]) is None:
        raise PaymentRefused("INVALID_ARGUMENT", "time_end must be yyyyMMddHHmmss", status=400)
    return checked


def request_payment(state: State, params: dict[str, Any], **options: Any) -> dict[str, Any]:
    """What wx.requestPayment does with our prepay answer: check appId and paySign, then pay."""
    expected = {k: str(params.get(k, "")) for k in ("appId", "timeStamp", "nonceStr", "package", "signType")}
    if expected["appId"] != state.app_id:
        raise PaymentRefused("INVALID_APPID", "appId与当前小程序不一致", status=400)
    if expected["signType"] != "MD5" or params.get("paySign") != sign_md5(expected, state.api_key):
        raise PaymentRefused("INVALID_PAY_SIGN", "支付签名验证失败", status=400)
    prepay_id = expected["package"].removeprefix("prepay_id=")
    with state.lock:
        trade = next((t for t in state.trades.values() if t.prepay_id == prepay_id), None)
    if trade is None:
        raise PaymentRefused("PREPAY_ID_NOT_FOUND", "prepay_id不存在", status=404)
    return pay(state, trade.out_trade_no, **options)


def notify(state: State, out_trade_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
    """Send the genuine notification of a paid trade again (as WeChat's retries do)."""
    with state.lock:
        trade = paid_trade(state, out_trade_no)
    return _send(state, trade, "genuine", _bounded_times(times), concurrent, 0)


def paid_trade(state: State, out_trade_no: str) -> Trade:
    """The paid trade `out_trade_no` (call with state.lock held); refused when unknown or unpaid."""
    trade = _trade(state, out_trade_no)
    if trade.state != "SUCCESS":
        raise PaymentRefused("ORDERNOTPAID", "订单未支付，没有支付通知")
    return trade


def forge_notify(state: State, out_trade_no: str, *, kind: str) -> dict[str, Any]:
    """POST a notification WeChat never sent for the trade (paid or not) and record the answer.

    Kinds: bad_sign, unsigned, wrong_amount (total_fee + 1, correctly signed), other_appid and
    other_mch_id (correctly signed with our key), malformed (truncated XML).
    """
    if kind not in FORGERIES:
        raise PaymentRefused("UNKNOWN_KIND", f"kind must be one of {', '.join(FORGERIES)}", status=400)
    with state.lock:
        trade = _trade(state, out_trade_no)
    return _send(state, trade, kind, 1, False, 0)


def notify_xml(state: State, trade: Trade, kind: str = "genuine") -> bytes:
    """The notification body for `trade`, genuine or forged as `kind` says."""
    fields = paid_fields(trade)
    if not trade.transaction_id:  # forging for an unpaid trade
        fields.update(transaction_id=state.new_transaction_id(shanghai_now()), time_end=format_time(shanghai_now()))
    fields.update(appid=state.app_id, mch_id=state.mch_id, return_code="SUCCESS", result_code="SUCCESS")
    if kind == "wrong_amount":
        fields["total_fee"] = fields["cash_fee"] = str(trade.total_fee + 1)
    elif kind == "other_appid":
        fields["appid"] = "wx" + random_token(16, "0123456789abcdef")
    elif kind == "other_mch_id":
        fields["mch_id"] = str(int(state.mch_id) + 1) if state.mch_id.isdigit() else state.mch_id + "0"
    fields = dict(sorted(sign_fields(fields, state.api_key).items()))  # WeChat sends keys sorted
    if kind == "bad_sign":
        fields["sign"] = sign_md5(fields, "not-the-merchant-key")
    elif kind == "unsigned":
        del fields["sign"]
    body = to_xml(fields)
    return body[: len(body) // 2] if kind == "malformed" else body


def _send(state: State, trade: Trade, kind: str, times: int, concurrent: bool, delay_seconds: float) -> dict[str, Any]:
    bodies = [notify_xml(state, trade, kind) for _ in range(times)]  # each with its own nonce
    if delay_seconds > 0:

        def later() -> None:
            time.sleep(delay_seconds)
            _deliver_all(state, trade, kind, bodies, concurrent)

        threading.Thread(target=later, name="sandbox-notify-later", daemon=True).start()
        return {"deliveries": [], "scheduled": True}
    deliveries = _deliver_all(state, trade, kind, bodies, concurrent)
    return {"deliveries": [asdict(d) for d in deliveries], "scheduled": False}


def _deliver_all(state: State, trade: Trade, kind: str, bodies: list[bytes], concurrent: bool) -> list[Delivery]:
    if not concurrent:
        results = [_deliver(trade.notify_url, body, kind) for body in bodies]
    else:
        # All threads wait at the barrier, then POST together: the duplicate-notify race.
        results_by_index: dict[int, Delivery] = {}
        barrier = threading.Barrier(len(bodies))

        def run(index: int, body: bytes) -> None:
            barrier.wait()
            results_by_index[index] = _deliver(trade.notify_url, body, kind)

        threads = [threading.Thread(target=run, args=(i, b), daemon=True) for i, b in enumerate(bodies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = [results_by_index[i] for i in range(len(bodies))]
    with state.lock:
        trade.deliveries.extend(results)
    return results


def _deliver(url: str, body: bytes, kind: str) -> Delivery:
    delivery = Delivery(kind=kind, xml=body.decode("utf-8", "replace"), sent_at=format_time(shanghai_now()))
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"}
    )
    try:
        with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT_SECONDS) as response:
            delivery.status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        delivery.status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"
        return delivery
    delivery.answer = raw.decode("utf-8", "replace")
    answer = parse_xml(raw)
    delivery.acknowledged = delivery.status == 200 and answer is not None and answer.get("return_code") == "SUCCESS"
    return delivery


def _trade(state: State, out_trade_no: str) -> Trade:
    trade = state.trades.get(out_trade_no)
    if trade is None:
        raise PaymentRefused("ORDERNOTEXIST", "此交易订单号不存在", status=404)
    return trade


def _bounded_times(times: int) -> int:
    if not isinstance(times, int) or not 1 <= times <= MAX_DELIVERIES:
        raise PaymentRefused("INVALID_TIMES", f"times must be 1..{MAX_DELIVERIES}", status=400)
    return times
