"""WeChat Pay v2 endpoints as the sandbox serves them under `/pay/`: signed XML both ways.

Protocol failures (not XML, bad signature, unknown merchant, missing parameter) answer an
unsigned `return_code FAIL`; business failures answer a signed `result_code FAIL` with
WeChat's `err_code`, exactly the split wechatpy and our adapter have to handle in production.
Not modelled: the 5-minute wait WeChat imposes before closeorder, refunds, HMAC-SHA256.
"""

from __future__ import annotations

import re
import string

from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.state import Trade
from wechat.sandbox.web import Request, Response, xml_response
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

OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,32}$")
REQUIRED_UNIFIEDORDER = ("body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
# A repeat of unifiedorder with the same out_trade_no gets the same prepay_id only if these match.
SAME_ORDER_FIELDS = ("body", "total_fee", "openid", "trade_type")
TRADE_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "已关闭"}


def fail(message: str) -> Response:
    return xml_response(to_xml({"return_code": "FAIL", "return_msg": message}))


def result(state: State, fields: dict[str, str], *, err_code: str = "", err_code_des: str = "") -> Response:
    """A signed business reply: result_code SUCCESS, or FAIL with err_code."""
    reply = {"return_code": "SUCCESS", "return_msg": "OK", "appid": state.app_id, "mch_id": state.mch_id}
    reply["result_code"] = "FAIL" if err_code else "SUCCESS"
    if err_code:
        reply.update(err_code=err_code, err_code_des=err_code_des)
    reply.update(fields)
    return xml_response(to_xml(sign_fields(reply, state.api_key)))


def authenticate(state: State, request: Request) -> dict[str, str] | Response:
    """The request's fields if it is well-formed XML signed by our merchant, else the FAIL reply."""
    fields = parse_xml(request.body)
    if fields is None:
        return fail("XML格式错误")
    for name in ("appid", "mch_id", "nonce_str", "sign"):
        if not fields.get(name):
            return fail(f"缺少参数{name}")
    if fields["mch_id"] != state.mch_id:
        return fail("商户号mch_id不存在")
    if fields["appid"] != state.app_id:
        return fail("appid和mch_id不匹配")
    if fields.get("sign_type", "MD5") != "MD5":
        return fail("sandbox只支持MD5签名")
    if fields["sign"] != sign_md5(fields, state.api_key):
        return fail("签名错误")
    return fields


def unifiedorder(state: State, request: Request) -> Response:
    """POST /pay/pay/unifiedorder — create (or repeat) a JSAPI trade, answer its prepay_id."""
    state.count("unifiedorder")
    fields = authenticate(state, request)
    if isinstance(fields, Response):
        return fields
    for name in REQUIRED_UNIFIEDORDER:
        if not fields.get(name):
            return fail(f"缺少参数{name}")
    if fields["trade_type"] != "JSAPI":
        return result(state, {}, err_code="PARAM_ERROR", err_code_des="sandbox只支持trade_type=JSAPI")
    if not fields.get("openid"):
        return result(state, {}, err_code="PARAM_ERROR", err_code_des="JSAPI支付必须传openid")
    problem = _unifiedorder_problem(fields)
    if problem:
        return result(state, {}, err_code="PARAM_ERROR", err_code_des=problem)
    with state.lock:
        trade = state.trades.get(fields["out_trade_no"])
        if trade is not None:
            if trade.state == "SUCCESS":
                return result(state, {}, err_code="ORDERPAID", err_code_des="该订单已支付")
            if trade.state == "CLOSED":
                return result(state, {}, err_code="ORDERCLOSED", err_code_des="该订单已关闭")
            if any(str(getattr(trade, name)) != fields.get(name, "") for name in SAME_ORDER_FIELDS):
                return result(state, {}, err_code="INVALID_REQUEST", err_code_des="201 商户订单号重复")
        else:
            now = shanghai_now()
            trade = Trade(
                out_trade_no=fields["out_trade_no"],
                prepay_id=f"wx{format_time(now)}{random_token(18, string.hexdigits.lower()[:16])}",
                body=fields["body"],
                total_fee=int(fields["total_fee"]),
                openid=fields["openid"],
                notify_url=fields["notify_url"],
                spbill_create_ip=fields["spbill_create_ip"],
                trade_type=fields["trade_type"],
                attach=fields.get("attach", ""),
                time_expire=fields.get("time_expire", ""),
                created_at=format_time(now),
            )
            state.trades[trade.out_trade_no] = trade
        return result(state, {"trade_type": trade.trade_type, "prepay_id": trade.prepay_id})


def _unifiedorder_problem(fields: dict[str, str]) -> str:
    if not OUT_TRADE_NO.match(fields["out_trade_no"]):
        return "out_trade_no参数格式错误"
    if len(fields["body"].encode("utf-8")) > 128:
        return "body参数长度有误"
    if not fields["total_fee"].isdigit() or int(fields["total_fee"]) <= 0:
        return "total_fee参数格式错误"
    if not fields["notify_url"].startswith(("http://", "https://")):
        return "notify_url参数格式错误"
    for name in ("time_start", "time_expire"):
        if fields.get(name) and parse_time(fields[name]) is None:
            return f"{name}参数格式错误"
    return ""


def find_trade(state: State, fields: dict[str, str]) -> Trade | None:
    with state.lock:
        if fields.get("transaction_id"):
            return next((t for t in state.trades.values() if t.transaction_id == fields["transaction_id"]), None)
        return state.trades.get(fields.get("out_trade_no", ""))


def paid_fields(trade: Trade) -> dict[str, str]:
    """What WeChat says about a paid trade (orderquery and the notify share these)."""
    fields = {
        "openid": trade.openid,
        "is_subscribe": "N",
        "trade_type": trade.trade_type,
        "bank_type": "OTHERS",
        "total_fee": str(trade.total_fee),
        "fee_type": "CNY",
        "cash_fee": str(trade.total_fee),
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "time_end": trade.time_end,
    }
    if trade.attach:
        fields["attach"] = trade.attach
    return fields


def orderquery(state: State, request: Request) -> Response:
    """POST /pay/pay/orderquery — trade_state SUCCESS / NOTPAY / CLOSED, or ORDERNOTEXIST."""
    state.count("orderquery")
    fields = authenticate(state, request)
    if isinstance(fields, Response):
        return fields
    if not fields.get("out_trade_no") and not fields.get("transaction_id"):
        return fail("缺少参数out_trade_no")
    with state.lock:
        trade = find_trade(state, fields)
        if trade is None:
            return result(state, {}, err_code="ORDERNOTEXIST", err_code_des="此交易订单号不存在")
        reply = {
            "out_trade_no": trade.out_trade_no,
            "trade_state": trade.state,
            "trade_state_desc": TRADE_STATE_DESC[trade.state],
        }
        if trade.state == "SUCCESS":
            reply.update(paid_fields(trade))
        return result(state, reply)


def closeorder(state: State, request: Request) -> Response:
    """POST /pay/pay/closeorder — NOTPAY becomes CLOSED; ORDERPAID / ORDERCLOSED otherwise."""
    state.count("closeorder")
    fields = authenticate(state, request)
    if isinstance(fields, Response):
        return fields
    if not fields.get("out_trade_no"):
        return fail("缺少参数out_trade_no")
    with state.lock:
        trade = state.trades.get(fields["out_trade_no"])
        if trade is None:
            return result(state, {}, err_code="ORDERNOTEXIST", err_code_des="此交易订单号不存在")
        if trade.state == "SUCCESS":
            return result(state, {}, err_code="ORDERPAID", err_code_des="订单已支付，不能发起关单")
        if trade.state == "CLOSED":
            return result(state, {}, err_code="ORDERCLOSED", err_code_des="订单已关闭，无法重复关闭")
        trade.state = "CLOSED"
        return result(state, {})
