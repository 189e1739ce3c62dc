"""WeChat Pay 商家转账 (Pay v3 transfer bills) as the sandbox serves them under `/pay/v3/`.

Exposes `ROUTES` (WeChat's fixed paths → handler), `PATH_ROUTES` (its paths that carry the bill
number: method, pattern, handler) and `control(state, request)` for its `/sandbox/...` endpoints
(None when the path is not one of them). Its state lives in `state.extras["transfers"]`.

    POST /pay/v3/fund-app/mch-transfer/transfer-bills                          create (or repeat)
    GET  /pay/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}         query
    POST /pay/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}/cancel  cancel

Every request must carry the merchant's v3 signature (`Authorization: WECHATPAY2-SHA256-RSA2048
mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`), verified with the merchant certificate
the sandbox issued over the path after `/pay` (the Pay host's root): 401 SIGN_ERROR otherwise.
Every answer is signed with "WeChat Pay's" key (`Wechatpay-Signature/-Timestamp/-Nonce/-Serial`,
the serial being the public key id the mall is configured with); errors are `{"code", "message"}`
with WeChat's HTTP status. A repeat of an out_bill_no with the same parameters answers the same
bill (never a second one); other parameters under it answer 400 INVALID_REQUEST. The payee's
name (required from ¥2,000) must be RSA-OAEP encrypted with WeChat Pay's public key, named by
`Wechatpay-Serial`. Scene 1005 (佣金报酬) requires its report: 岗位类型 and 报酬说明.

A bill is ACCEPTED and at once WAIT_USER_CONFIRM, its `package_info` in the create answer (with
`accept_only_next` it stays ACCEPTED until `/ready`). The member confirms (`/confirm`, what
wx.requestMerchantTransfer does) → SUCCESS; `/fail` → FAIL with a fail_reason; our cancel API or
`/expire` (never confirmed in time) → CANCELLED. On each final state the notify is POSTed to the
bill's notify_url: JSON `{"id", "create_time", "resource_type": "encrypt-resource", "event_type":
"MCHTRANSFER.BILL.FINISHED", "summary", "resource": {"original_type": "mch_payment", "algorithm":
"AEAD_AES_256_GCM", "ciphertext", "associated_data": "mch_payment", "nonce"}}`, the resource
(out_bill_no, transfer_bill_no, state, mch_id, transfer_amount, openid, fail_reason, create_time,
update_time) encrypted with the APIv3 key, the body signed like an answer. Redeliveries keep the
notification id and are signed anew. A 200 or 204 acknowledges a delivery. Deliveries run before
the control (or cancel) request answers, so a test sees their outcome at once.

Control endpoints (JSON):

    POST /sandbox/transfers/<no>/confirm  {"package"?, "times"?=1, "concurrent"?=false, "notify"?=true}
    POST /sandbox/transfers/<no>/fail     {"reason"?="PAYEE_ACCOUNT_ABNORMAL", times, concurrent, notify}
    POST /sandbox/transfers/<no>/expire   {times, concurrent, notify}     unconfirmed in time: CANCELLED
    POST /sandbox/transfers/<no>/ready    {}                              ACCEPTED → WAIT_USER_CONFIRM
    POST /sandbox/transfers/<no>/notify   {"times"?, "concurrent"?}       deliver the final notify again
    POST /sandbox/transfers/<no>/forge    {"kind"}                        kind in FORGERIES
        -> {"out_bill_no", "state", "transfer_bill_no", "deliveries": [Delivery…]}
    POST /sandbox/transfer_options {"fail_next"?: ["NOT_ENOUGH", …], "delay_next_seconds"?: n,
                                    "accept_only_next"?: n} -> the options
        fail_next: the next new bills are refused with these codes (nothing created);
        delay_next_seconds: the next create is carried out, then answered this late (a client
        timeout: the answer is lost, the bill exists); accept_only_next: that many new bills stay
        ACCEPTED.
    GET  /sandbox/transfers[?state=]      -> {"transfers": [Bill…]}
    GET  /sandbox/transfers/<no>          -> Bill (with its deliveries)

Delivery = {"kind", "body", "status", "answer", "acknowledged", "error", "sent_at"}.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from wechat.sandbox import v3wire
from wechat.sandbox.payments import MAX_DELIVERIES, NOTIFY_TIMEOUT_SECONDS, PaymentRefused
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import random_token, shanghai_now

PAY_MOUNT = "/pay"  # the Pay host's root in the sandbox: v3 signatures cover the path after it
BILLS_PATH = "/pay/v3/fund-app/mch-transfer/transfer-bills"
OUT_BILL_NO = re.compile(r"^[A-Za-z0-9]{5,32}$")
EVENT_TYPE = "MCHTRANSFER.BILL.FINISHED"
ASSOCIATED_DATA = "mch_payment"
USER_NAME_REQUIRED_FROM_FEN = 2000_00
# 佣金报酬 must report exactly these facts (WeChat refuses other info_types for the scene).
SCENE_REPORTS = {"1005": frozenset({"岗位类型", "报酬说明"}), "1000": frozenset({"活动名称", "奖励说明"})}
FORGERIES = ("bad_signature", "unsigned", "other_serial", "stale", "wrong_apiv3_key", "tampered_ciphertext",
             "other_mch_id", "wrong_amount", "malformed", "garbage")
FAILURES = {  # error code -> HTTP status and WeChat's message
    "NOT_ENOUGH": (403, "资金不足"),
    "NO_AUTH": (403, "商户无权限使用该转账场景"),
    "PARAM_ERROR": (400, "参数错误"),
    "FREQUENCY_LIMITED": (429, "频率超限"),
    "SYSTEM_ERROR": (500, "系统错误，请使用相同参数稍后重新调用"),
}
FAIL_REASONS = ("PAYEE_ACCOUNT_ABNORMAL", "ACCOUNT_FROZEN", "REAL_NAME_CHECK_FAIL", "NAME_NOT_CORRECT",
                "TRANSFER_QUOTA_EXCEED", "DAY_RECEIVED_QUOTA_EXCEED", "TRANSFER_RISK", "OTHER_FAIL_REASON_TYPE")
# The fields a repeat of an out_bill_no must repeat exactly.
SAME_BILL_FIELDS = ("appid", "openid", "transfer_amount", "transfer_remark", "transfer_scene_id")


@dataclass
class Delivery:
    """One notify POSTed to a bill's notify_url and what our server answered."""

    kind: str  # "genuine" or the forgery kind
    body: str
    status: int | None = None
    answer: str = ""
    acknowledged: bool = False  # 200 or 204: WeChat stops delivering
    error: str = ""
    sent_at: str = ""


@dataclass
class Bill:
    out_bill_no: str
    transfer_bill_no: str
    appid: str
    openid: str
    transfer_amount: int
    transfer_remark: str
    transfer_scene_id: str
    notify_url: str
    user_recv_perception: str = ""
    report_infos: list[dict[str, str]] = field(default_factory=list)
    user_name: str = ""  # as decrypted (the sandbox checks it could be)
    state: str = "ACCEPTED"
    package_info: str = ""
    fail_reason: str = ""
    create_time: str = ""
    update_time: str = ""
    notify_id: str = ""  # the final-state notification's id, kept by its redeliveries
    deliveries: list[Delivery] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransferBook:
    bills: dict[str, Bill] = field(default_factory=dict)
    fail_next: list[str] = field(default_factory=list)
    delay_next_seconds: float = 0
    accept_only_next: int = 0

    def options(self) -> dict[str, Any]:
        return {"fail_next": list(self.fail_next), "delay_next_seconds": self.delay_next_seconds,
                "accept_only_next": self.accept_only_next}


def book(state: State) -> TransferBook:
    with state.lock:
        found = state.extras.get("transfers")
        if not isinstance(found, TransferBook):
            found = state.extras["transfers"] = TransferBook()
        return found


# --- WeChat's endpoints -------------------------------------------------------------------------------


def create_bill(state: State, request: Request) -> Response:
    """POST /pay/v3/fund-app/mch-transfer/transfer-bills — create a bill, or answer the existing one."""
    state.count("transfer_bills")
    refused = _authenticate(state, request)
    if refused is not None:
        return refused
    data = request.json()
    if data is None:
        return _error(state, 400, "PARAM_ERROR", "请求体不是JSON对象")
    problem = _check_create(state, request, data)
    if isinstance(problem, Response):
        return problem
    user_name = problem
    transfers = book(state)
    with state.lock:
        bill = transfers.bills.get(data["out_bill_no"])
        if bill is not None:
            if any(getattr(bill, name) != data.get(name) for name in SAME_BILL_FIELDS):
                return _error(state, 400, "INVALID_REQUEST", "商户单号重复，且请求参数与原单据不一致")
        elif transfers.fail_next:
            code = transfers.fail_next.pop(0)
            status, message = FAILURES[code]
            return _error(state, status, code, message)
        else:
            now = v3wire.rfc3339(shanghai_now())
            bill = Bill(
                out_bill_no=data["out_bill_no"], transfer_bill_no="1330" + random_token(36, string.digits),
                appid=data["appid"], openid=data["openid"], transfer_amount=data["transfer_amount"],
                transfer_remark=data["transfer_remark"], transfer_scene_id=data["transfer_scene_id"],
                notify_url=str(data.get("notify_url") or ""),
                user_recv_perception=str(data.get("user_recv_perception") or ""),
                report_infos=list(data.get("transfer_scene_report_infos") or []), user_name=user_name,
                create_time=now, update_time=now)
            if transfers.accept_only_next > 0:
                transfers.accept_only_next -= 1
            else:
                _ready(bill)
            transfers.bills[bill.out_bill_no] = bill
        answer = {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                  "create_time": bill.create_time, "state": bill.state}
        if bill.state == "WAIT_USER_CONFIRM":
            answer["package_info"] = bill.package_info
        if bill.fail_reason:
            answer["fail_reason"] = bill.fail_reason
        delay, transfers.delay_next_seconds = transfers.delay_next_seconds, 0
    if delay:
        time.sleep(delay)  # the bill exists; the caller gave up waiting for this answer
    return _answer(state, answer)


def _check_create(state: State, request: Request, data: dict[str, Any]) -> str | Response:
    """The decrypted payee name ("" when none was sent), or the 400 that refuses the request."""
    for name in ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_remark"):
        if not isinstance(data.get(name), str) or not data[name]:
            return _error(state, 400, "PARAM_ERROR", f"缺少参数{name}")
    if data["appid"] != state.app_id:
        return _error(state, 400, "PARAM_ERROR", "appid与mchid不匹配")
    if not OUT_BILL_NO.match(data["out_bill_no"]):
        return _error(state, 400, "PARAM_ERROR", "商户单号只能由数字、大小写字母组成，长度5至32")
    amount = data.get("transfer_amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _error(state, 400, "PARAM_ERROR", "转账金额必须为正整数（分）")
    if len(data["transfer_remark"]) > 32:
        return _error(state, 400, "PARAM_ERROR", "转账备注最多32个字符")
    required = SCENE_REPORTS.get(data["transfer_scene_id"])
    infos = data.get("transfer_scene_report_infos") or []
    if not isinstance(infos, list) or not all(
            isinstance(i, dict) and isinstance(i.get("info_type"), str) and isinstance(i.get("info_content"), str)
            and 0 < len(i["info_content"]) <= 32 for i in infos):
        return _error(state, 400, "PARAM_ERROR", "转账场景报备信息格式错误")
    if required is not None and {i["info_type"] for i in infos} != required:
        return _error(state, 400, "PARAM_ERROR", "未传入完整且对应的转账场景报备信息，请根据接口文档检查")
    encrypted = data.get("user_name")
    if encrypted is None:
        if amount >= USER_NAME_REQUIRED_FROM_FEN:
            return _error(state, 400, "PARAM_ERROR", "转账金额>=2000元时，收款用户姓名必填")
        return ""
    if request.headers.get("wechatpay-serial") != state.public_key_id:
        return _error(state, 400, "PARAM_ERROR", "Wechatpay-Serial与加密敏感信息的微信支付公钥不一致")
    assert state.pay_v3 is not None  # _authenticate refused the request otherwise
    plain = v3wire.decrypt_field(state.pay_v3, encrypted) if isinstance(encrypted, str) else None
    if not plain:
        return _error(state, 400, "PARAM_ERROR", "收款用户姓名解密失败，请使用微信支付公钥加密")
    return plain


def query_bill(state: State, request: Request) -> Response:
    """GET …/transfer-bills/out-bill-no/{out_bill_no} — the bill, or 404 NOT_FOUND."""
    state.count("transfer_bills_query")
    refused = _authenticate(state, request)
    if refused is not None:
        return refused
    with state.lock:
        bill = book(state).bills.get(_bill_no(request.path))
        if bill is None:
            return _error(state, 404, "NOT_FOUND", "记录不存在")
        answer = {"mch_id": state.mch_id, "out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                  "appid": bill.appid, "state": bill.state, "transfer_amount": bill.transfer_amount,
                  "transfer_remark": bill.transfer_remark, "openid": bill.openid, "create_time": bill.create_time,
                  "update_time": bill.update_time}
        if bill.fail_reason:
            answer["fail_reason"] = bill.fail_reason
    return _answer(state, answer)


def cancel_bill(state: State, request: Request) -> Response:
    """POST …/out-bill-no/{out_bill_no}/cancel — cancel a bill the member has not confirmed.

    Answers CANCELING as WeChat does; the bill is CANCELLED and its notify delivered before the
    answer leaves (so the order in which our server hears of it is fixed for tests).
    """
    state.count("transfer_bills_cancel")
    refused = _authenticate(state, request)
    if refused is not None:
        return refused
    with state.lock:
        bill = book(state).bills.get(_bill_no(request.path))
        if bill is None:
            return _error(state, 404, "NOT_FOUND", "记录不存在")
        if bill.state not in ("ACCEPTED", "WAIT_USER_CONFIRM", "CANCELLED"):
            return _error(state, 400, "INVALID_STATE", f"单据状态为{bill.state}，不能撤销")
        cancelled_before = bill.state == "CANCELLED"
    if not cancelled_before:
        _finish(state, bill.out_bill_no, to="CANCELLED", allowed=("ACCEPTED", "WAIT_USER_CONFIRM"))
    with state.lock:
        answer = {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                  "state": "CANCELLED" if cancelled_before else "CANCELING", "update_time": bill.update_time}
    return _answer(state, answer)


ROUTES: dict[tuple[str, str], Callable[[State, Request], Response]] = {
    ("POST", BILLS_PATH): create_bill,
}
PATH_ROUTES: tuple[tuple[str, re.Pattern[str], Callable[[State, Request], Response]], ...] = (
    ("GET", re.compile(re.escape(BILLS_PATH) + r"/out-bill-no/[^/]+"), query_bill),
    ("POST", re.compile(re.escape(BILLS_PATH) + r"/out-bill-no/[^/]+/cancel"), cancel_bill),
)


def _bill_no(path: str) -> str:
    return path.removeprefix(BILLS_PATH + "/out-bill-no/").removesuffix("/cancel")


def _authenticate(state: State, request: Request) -> Response | None:
    """None when the request carries our merchant's valid v3 signature, else the 401 answer."""
    if state.pay_v3 is None:
        return json_response({"code": "SYSTEM_ERROR", "message": "sandbox started without Pay v3 keys"}, 500)
    url = request.path.removeprefix(PAY_MOUNT) + (f"?{request.raw_query}" if request.raw_query else "")
    reason = v3wire.verify_request(state.pay_v3, mch_id=state.mch_id, method=request.method, url=url,
                                   body=request.body, authorization=request.headers.get("authorization", ""))
    return _error(state, 401, "SIGN_ERROR", reason) if reason else None


def _answer(state: State, data: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer signed with WeChat Pay's key, as every v3 answer is."""
    assert state.pay_v3 is not None
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    headers = v3wire.signature_headers(state.pay_v3.wechatpay_key, body, serial=state.public_key_id)
    headers["Request-ID"] = str(uuid.uuid4())
    return Response(status, body, "application/json; charset=utf-8", headers)


def _error(state: State, status: int, code: str, message: str) -> Response:
    return _answer(state, {"code": code, "message": message}, status)


def _ready(bill: Bill) -> None:
    bill.state = "WAIT_USER_CONFIRM"
    # Opaque to the merchant: the mini-program hands it to wx.requestMerchantTransfer unchanged.
    bill.package_info = base64.b64encode(secrets.token_bytes(48)).decode("ascii")


# --- WeChat's side: the member, the clock, the notifies -----------------------------------------------


def _finish(state: State, out_bill_no: str, *, to: str, allowed: tuple[str, ...], fail_reason: str = "",
            times: int = 1, concurrent: bool = False, notify: bool = True) -> dict[str, Any]:
    """Move a bill to the final state `to` and deliver its notify `times` times (unless notify=False)."""
    with state.lock:
        bill = _bill(state, out_bill_no)
        if bill.state not in allowed:
            raise PaymentRefused("INVALID_STATE", f"单据状态为{bill.state}，不能变为{to}")
        bill.state, bill.fail_reason = to, fail_reason
        bill.update_time = v3wire.rfc3339(shanghai_now())
        bill.notify_id = str(uuid.uuid4())
    deliveries = _send(state, bill, "genuine", _bounded(times), concurrent) if notify else []
    return _result(bill, deliveries)


def confirm(state: State, out_bill_no: str, *, package: str | None = None, **options: Any) -> dict[str, Any]:
    """What wx.requestMerchantTransfer does when the member confirms: the money moves, SUCCESS."""
    with state.lock:
        bill = _bill(state, out_bill_no)
        if package is not None and package != bill.package_info:
            raise PaymentRefused("INVALID_PACKAGE", "package_info信息有误", status=400)
    return _finish(state, out_bill_no, to="SUCCESS", allowed=("WAIT_USER_CONFIRM",), **options)


def expire(state: State, out_bill_no: str, **options: Any) -> dict[str, Any]:
    """The member never confirmed in time: WeChat cancels the bill (CANCELLED) and notifies."""
    return _finish(state, out_bill_no, to="CANCELLED", allowed=("ACCEPTED", "WAIT_USER_CONFIRM"), **options)


def renotify(state: State, out_bill_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
    """Deliver a final bill's notify again, under the same notification id (WeChat's retries)."""
    with state.lock:
        bill = _bill(state, out_bill_no)
        if not bill.notify_id:
            raise PaymentRefused("NOT_FINAL", "单据尚未到终态，没有转账通知")
    return _result(bill, _send(state, bill, "genuine", _bounded(times), concurrent))


def forge(state: State, out_bill_no: str, *, kind: str) -> dict[str, Any]:
    """POST a notify WeChat never sent for the bill (final or not), shaped as `kind` says."""
    if kind not in FORGERIES:
        raise PaymentRefused("UNKNOWN_KIND", f"kind must be one of {', '.join(FORGERIES)}", status=400)
    with state.lock:
        bill = _bill(state, out_bill_no)
        if not bill.notify_id:  # a forger claims it ended well
            bill = Bill(**{**asdict(bill), "state": "SUCCESS", "notify_id": str(uuid.uuid4()), "deliveries": []})
    return _result(bill, _send(state, bill, kind, 1, False))


def notify_message(state: State, bill: Bill, kind: str = "genuine") -> tuple[bytes, dict[str, str]]:
    """The notify for a final `bill` (body and headers), genuine or forged as `kind` says."""
    assert state.pay_v3 is not None
    resource = {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no, "state": bill.state,
                "mch_id": state.mch_id, "transfer_amount": bill.transfer_amount, "openid": bill.openid,
                "create_time": bill.create_time, "update_time": bill.update_time}
    if bill.fail_reason:
        resource["fail_reason"] = bill.fail_reason
    if kind == "wrong_amount":
        resource["transfer_amount"] = bill.transfer_amount + 1
    elif kind == "other_mch_id":
        resource["mch_id"] = str(int(state.mch_id) + 1) if state.mch_id.isdigit() else state.mch_id + "0"
    key = "wrongapiv3key0000000000000000000" if kind == "wrong_apiv3_key" else state.apiv3_key
    encrypted = v3wire.encrypt_resource(json.dumps(resource, ensure_ascii=False).encode("utf-8"), apiv3_key=key,
                                        associated_data=ASSOCIATED_DATA)
    if kind == "tampered_ciphertext":
        raw = bytearray(base64.b64decode(encrypted["ciphertext"]))
        raw[0] ^= 0x01
        encrypted["ciphertext"] = base64.b64encode(bytes(raw)).decode("ascii")
    envelope = {"id": bill.notify_id, "create_time": v3wire.rfc3339(shanghai_now()),
                "resource_type": "encrypt-resource", "event_type": EVENT_TYPE, "summary": "商家转账单据终态通知",
                "resource": {"original_type": ASSOCIATED_DATA, **encrypted}}
    body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    if kind == "malformed":
        body = body[: len(body) // 2]
    elif kind == "garbage":
        body = secrets.token_bytes(96)
    headers = {"Content-Type": "application/json", "User-Agent": "Mozilla/4.0"}
    if kind not in ("unsigned", "garbage"):
        signer = state.pay_v3.merchant_key if kind == "bad_signature" else state.pay_v3.wechatpay_key
        serial = "PUB_KEY_ID_0000000000000000000000000000" if kind == "other_serial" else state.public_key_id
        stamp = int(time.time()) - 600 if kind == "stale" else None
        headers.update(v3wire.signature_headers(signer, body, serial=serial, timestamp=stamp))
    return body, headers


def _send(state: State, bill: Bill, kind: str, times: int, concurrent: bool) -> list[Delivery]:
    if not bill.notify_url:
        return []
    messages = [notify_message(state, bill, kind) for _ in range(times)]  # each signed anew
    if not concurrent:
        results = [_deliver(bill.notify_url, body, headers, kind) for body, headers in messages]
    else:
        # All threads wait at the barrier, then POST together: the duplicate-notify race.
        by_index: dict[int, Delivery] = {}
        barrier = threading.Barrier(len(messages))

        def run(index: int, body: bytes, headers: dict[str, str]) -> None:
            barrier.wait()
            by_index[index] = _deliver(bill.notify_url, body, headers, kind)

        threads = [threading.Thread(target=run, args=(i, body, headers), daemon=True)
                   for i, (body, headers) in enumerate(messages)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = [by_index[i] for i in range(len(messages))]
    with state.lock:
        bill.deliveries.extend(results)
    return results


def _deliver(url: str, body: bytes, headers: dict[str, str], kind: str) -> Delivery:
    delivery = Delivery(kind=kind, body=body.decode("utf-8", "replace"), sent_at=v3wire.rfc3339(shanghai_now()))
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT_SECONDS) as response:
            delivery.status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        delivery.status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"
        return delivery
    delivery.answer = raw.decode("utf-8", "replace")
    delivery.acknowledged = delivery.status in (200, 204)
    return delivery


def _result(bill: Bill, deliveries: list[Delivery]) -> dict[str, Any]:
    return {"out_bill_no": bill.out_bill_no, "state": bill.state, "transfer_bill_no": bill.transfer_bill_no,
            "deliveries": [asdict(d) for d in deliveries]}


def _bill(state: State, out_bill_no: str) -> Bill:
    bill = book(state).bills.get(out_bill_no)
    if bill is None:
        raise PaymentRefused("NOT_FOUND", "转账单不存在", status=404)
    return bill


def _bounded(times: Any) -> int:
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_DELIVERIES:
        raise PaymentRefused("INVALID_TIMES", f"times must be 1..{MAX_DELIVERIES}", status=400)
    return times


# --- control endpoints ----------------------------------------------------------------------------------


def control(state: State, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if request.method == "GET" and path == "/sandbox/transfers":
        return _guard(lambda: _list(state, request.query))
    if request.method == "GET" and path.startswith("/sandbox/transfers/"):
        return _guard(lambda: _bill_json(state, path.removeprefix("/sandbox/transfers/")))
    if request.method != "POST":
        return None
    if path == "/sandbox/transfer_options":
        action: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: _options(state, data)  # noqa: E731
    else:
        matched = re.fullmatch(r"/sandbox/transfers/([^/]+)/(confirm|fail|expire|ready|notify|forge)", path)
        if matched is None:
            return None
        out_bill_no, verb = matched.groups()
        action = lambda data: _ACTIONS[verb](state, out_bill_no, data)  # noqa: E731
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    return _guard(lambda: action(data))


def _guard(action: Callable[[], dict[str, Any]]) -> Response:
    try:
        return json_response(action())
    except PaymentRefused as exc:
        return json_response({"error": exc.code, "message": exc.message}, exc.status)


def _delivery_options(data: dict[str, Any]) -> dict[str, Any]:
    options = {"times": data.get("times", 1), "concurrent": data.get("concurrent", False),
               "notify": data.get("notify", True)}
    if not isinstance(options["concurrent"], bool) or not isinstance(options["notify"], bool):
        raise PaymentRefused("INVALID_ARGUMENT", "concurrent and notify must be true or false", status=400)
    return options


def _confirm(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    package = data.get("package")
    if package is not None and not isinstance(package, str):
        raise PaymentRefused("INVALID_ARGUMENT", "package must be a string", status=400)
    return confirm(state, out_bill_no, package=package, **_delivery_options(data))


def _fail(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    reason = data.get("reason", "PAYEE_ACCOUNT_ABNORMAL")
    if reason not in FAIL_REASONS:
        raise PaymentRefused("INVALID_ARGUMENT", f"reason must be one of {', '.join(FAIL_REASONS)}", status=400)
    return _finish(state, out_bill_no, to="FAIL", allowed=("ACCEPTED", "WAIT_USER_CONFIRM"), fail_reason=reason,
                   **_delivery_options(data))


def _expire(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    return expire(state, out_bill_no, **_delivery_options(data))


def _make_ready(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        bill = _bill(state, out_bill_no)
        if bill.state != "ACCEPTED":
            raise PaymentRefused("INVALID_STATE", f"单据状态为{bill.state}，不是ACCEPTED")
        _ready(bill)
        bill.update_time = v3wire.rfc3339(shanghai_now())
        return _result(bill, [])


def _renotify(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    options = _delivery_options(data)
    return renotify(state, out_bill_no, times=options["times"], concurrent=options["concurrent"])


def _forge(state: State, out_bill_no: str, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("kind")
    return forge(state, out_bill_no, kind=kind if isinstance(kind, str) else "")


_ACTIONS: dict[str, Callable[[State, str, dict[str, Any]], dict[str, Any]]] = {
    "confirm": _confirm, "fail": _fail, "expire": _expire, "ready": _make_ready, "notify": _renotify,
    "forge": _forge,
}


def _options(state: State, data: dict[str, Any]) -> dict[str, Any]:
    transfers = book(state)
    fail_next = data.get("fail_next")
    if isinstance(fail_next, str):
        fail_next = [fail_next]
    if fail_next is not None and (not isinstance(fail_next, list) or not all(c in FAILURES for c in fail_next)):
        raise PaymentRefused("INVALID_ARGUMENT", f"fail_next takes codes of {', '.join(FAILURES)}", status=400)
    delay = data.get("delay_next_seconds")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60):
        raise PaymentRefused("INVALID_ARGUMENT", "delay_next_seconds must be 0..60", status=400)
    accept_only = data.get("accept_only_next")
    if accept_only is not None and (isinstance(accept_only, bool) or not isinstance(accept_only, int)
                                    or accept_only < 0):
        raise PaymentRefused("INVALID_ARGUMENT", "accept_only_next must be a count", status=400)
    with state.lock:
        if fail_next is not None:
            transfers.fail_next = list(fail_next)
        if delay is not None:
            transfers.delay_next_seconds = float(delay)
        if accept_only is not None:
            transfers.accept_only_next = accept_only
        return transfers.options()


def _bill_json(state: State, out_bill_no: str) -> dict[str, Any]:
    with state.lock:
        return _bill(state, out_bill_no).as_json()


def _list(state: State, query: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        return {"transfers": [b.as_json() for b in book(state).bills.values()
                              if query.get("state") in (None, b.state)]}
