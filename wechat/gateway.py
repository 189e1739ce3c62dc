"""The payment gateway port: what shop needs from a payment provider; and the transfer gateway
port: what payouts need.

The WeChat Pay v2 adapter (wechat.pay_v2) is the one payment implementation; a v3 adapter can sit
behind the same port later. Payouts (商家转账) exist only in Pay v3: wechat.pay_v3 implements
TransferGateway. Amounts are integer fen; times are aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PrepayResult:
    prepay_id: str
    # Exactly what the mini-program passes to wx.requestPayment:
    # {"appId", "timeStamp", "nonceStr", "package": "prepay_id=...", "signType": "MD5", "paySign"}
    request_payment: dict[str, str]


@dataclass(frozen=True)
class PaymentNotice:
    """A verified 'this was paid' message (from a notify, or from a query)."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    paid_at: dt.datetime
    raw: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class TradeState:
    SUCCESS = "SUCCESS"
    NOTPAY = "NOTPAY"
    CLOSED = "CLOSED"
    REFUND = "REFUND"
    USERPAYING = "USERPAYING"
    PAYERROR = "PAYERROR"
    NOT_FOUND = "ORDERNOTEXIST"


@dataclass(frozen=True)
class QueryResult:
    trade_state: str  # one of TradeState
    notice: PaymentNotice | None = None  # set when trade_state == SUCCESS


class RefundState:
    """A refund's state at the provider (WeChat's refund_status values)."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    CHANGE = "CHANGE"  # 退款异常: the money could not reach the buyer's account
    REFUNDCLOSE = "REFUNDCLOSE"  # 退款关闭
    NOT_FOUND = "REFUNDNOTEXIST"


@dataclass(frozen=True)
class RefundResult:
    """The provider accepted a refund request (the money moves later; a notify tells when)."""

    out_refund_no: str
    refund_id: str
    amount_fen: int


@dataclass(frozen=True)
class RefundNotice:
    """A verified word about a refund's outcome (from a refund notify, or a refund query)."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    status: str  # one of RefundState
    amount_fen: int  # refund_fee
    total_fee_fen: int  # the trade's total
    succeeded_at: dt.datetime | None = None
    raw: str = ""


class PaymentGateway(Protocol):
    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str, openid: str,
               client_ip: str, notify_url: str, expires_at: dt.datetime) -> PrepayResult:
        """Create the provider-side order (JSAPI unified order). Raises WechatApiError."""
        ...

    def parse_notify(self, body: bytes) -> PaymentNotice:
        """Verify and parse a payment notification. Raises InvalidNotification (nothing else)."""
        ...

    def query(self, *, out_trade_no: str) -> QueryResult:
        """Ask the provider for the state of a trade (orderquery)."""
        ...

    def close(self, *, out_trade_no: str) -> None:
        """Close an unpaid trade so it can no longer be paid (closeorder). Idempotent."""
        ...

    def refund(self, *, out_trade_no: str, out_refund_no: str, total_fee_fen: int, amount_fen: int,
               reason: str, notify_url: str) -> RefundResult:
        """Ask the provider to refund `amount_fen` of a paid trade (needs the merchant certificate).

        Idempotent per out_refund_no: a repeat with the same amount is the same refund.
        Raises RefundRefused when the provider says no (balance, amount, trade state) and
        WechatApiError when the outcome is unknown (network, protocol): retry the same number.
        """
        ...

    def parse_refund_notify(self, body: bytes) -> RefundNotice:
        """Verify (appid, mch_id) and decrypt a refund notification. Raises InvalidNotification."""
        ...

    def query_refund(self, *, out_refund_no: str) -> RefundNotice | None:
        """Ask the provider about a refund (refundquery); None when it does not know the number."""
        ...

    def notify_ack(self) -> tuple[bytes, str]:
        """The exact body and content type to answer a notification we accepted."""
        ...

    def notify_nack(self, message: str) -> tuple[bytes, str]:
        """The body and content type to answer a notification we rejected."""
        ...


# --- payouts: WeChat Pay 商家转账 (v3 transfer bills) -------------------------------------------------


class TransferBillState:
    """A transfer bill's state at WeChat (`state` in its answers and notifies)."""

    ACCEPTED = "ACCEPTED"  # 转账已受理
    PROCESSING = "PROCESSING"  # locking the funds (a long stay: the merchant's balance is short)
    WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"  # the member must confirm receipt (package_info)
    TRANSFERING = "TRANSFERING"  # confirmed, the result is not known yet
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CANCELING = "CANCELING"  # our cancel was accepted and is being carried out
    CANCELLED = "CANCELLED"

    ALL = frozenset({ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED})
    FINAL = frozenset({SUCCESS, FAIL, CANCELLED})


# fail_reason codes of a FAIL bill, for the people who read them (the console, the member's record).
TRANSFER_FAIL_REASONS = {
    "ACCOUNT_FROZEN": "收款用户账户已冻结",
    "REAL_NAME_CHECK_FAIL": "收款用户未实名认证",
    "NAME_NOT_CORRECT": "收款用户姓名校验不通过",
    "OPENID_INVALID": "收款用户OpenID无效",
    "TRANSFER_QUOTA_EXCEED": "超过用户单笔收款额度",
    "DAY_RECEIVED_QUOTA_EXCEED": "超过用户单日收款额度",
    "MONTH_RECEIVED_QUOTA_EXCEED": "超过用户单月收款额度",
    "DAY_RECEIVED_COUNT_EXCEED": "超过用户单日收款次数",
    "ID_CARD_NOT_CORRECT": "收款用户身份证校验不通过",
    "ACCOUNT_NOT_EXIST": "收款用户微信账户不存在",
    "TRANSFER_RISK": "转账存在风险，已被微信拦截",
    "REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED": "用户账户收款受限",
    "RECEIVE_ACCOUNT_NOT_PERMMIT": "收款用户不在收款范围内",
    "PAYEE_ACCOUNT_ABNORMAL": "收款用户账户异常",
    "PAYER_ACCOUNT_ABNORMAL": "商户账户异常",
    "TRANSFER_SCENE_UNAVAILABLE": "转账场景暂不可用",
    "TRANSFER_SCENE_INVALID": "转账场景无效",
    "TRANSFER_REMARK_SET_FAIL": "转账备注设置失败",
    "RECEIVE_ACCOUNT_NOT_CONFIGURE": "收款账户未配置",
    "BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH": "超出用户单月收款额度",
    "BLOCK_B2C_USERLIMITAMOUNT_MONTH": "用户账户存在风险收款受限",
    "MERCHANT_REJECT": "商户拒绝转账",
    "MERCHANT_NOT_CONFIRM": "商户未确认转账",
    "OVERDUE_CLOSE": "超过系统重试期，系统自动关闭",
    "OTHER_FAIL_REASON_TYPE": "其它失败原因",
    # Error codes that refuse a bill outright (it is never created), kept as the transfer's reason.
    "NOT_ENOUGH": "商户运营账户资金不足",
    "NO_AUTH": "商户无权使用该转账场景",
    "PARAM_ERROR": "转账参数错误",
    "INVALID_REQUEST": "转账请求不符合要求",
}


def transfer_fail_reason_text(code: str) -> str:
    """WeChat's fail_reason in Chinese (the code itself when WeChat adds a new one)."""
    return TRANSFER_FAIL_REASONS.get(code, code)


@dataclass(frozen=True)
class TransferRequest:
    """A transfer bill to create (POST /v3/fund-app/mch-transfer/transfer-bills)."""

    out_bill_no: str
    openid: str
    amount_fen: int
    remark: str  # at most 32 characters, shown to the member
    scene_id: str  # transfer_scene_id (佣金报酬: 1005)
    report_infos: tuple[tuple[str, str], ...]  # transfer_scene_report_infos as (info_type, info_content)
    notify_url: str
    user_recv_perception: str = ""
    user_name: str = ""  # plain; sent encrypted, and only where WeChat requires it (from ¥2,000)


@dataclass(frozen=True)
class TransferBill:
    """WeChat's verified word on a transfer bill: a create or cancel answer, a query, a notify."""

    out_bill_no: str
    state: str  # one of TransferBillState
    transfer_bill_no: str = ""
    package_info: str = ""  # WAIT_USER_CONFIRM in a create answer: for wx.requestMerchantTransfer
    fail_reason: str = ""  # FAIL: WeChat's code (e.g. PAYEE_ACCOUNT_ABNORMAL)
    amount_fen: int | None = None  # queries and notifies carry it; create answers do not
    openid: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferNotice:
    """A verified, decrypted transfer notify (event MCHTRANSFER.BILL.FINISHED)."""

    notify_id: str
    event_type: str
    bill: TransferBill
    resource: dict[str, Any]


class TransferGateway(Protocol):
    def create_transfer(self, request: TransferRequest) -> TransferBill:
        """Create the bill, or get the existing one: WeChat answers a repeat of the same out_bill_no
        with the same bill, so a retry after a lost answer never pays twice. Raises TransferRefused
        when WeChat refuses (the bill was not created), WechatApiError when the outcome is unknown
        (network, timeout, a system error): send the same request again."""
        ...

    def query_transfer(self, *, out_bill_no: str) -> TransferBill | None:
        """The bill as WeChat has it; None when WeChat does not know the number."""
        ...

    def cancel_transfer(self, *, out_bill_no: str) -> TransferBill:
        """Ask WeChat to cancel a bill the member has not confirmed (CANCELING or CANCELLED).
        Raises TransferRefused when it can no longer be cancelled."""
        ...

    def parse_transfer_notify(self, headers: Mapping[str, str], body: bytes) -> TransferNotice:
        """Verify (WeChat Pay's signature) and decrypt a transfer notify. Raises
        InvalidNotification (nothing else) for anything WeChat did not send."""
        ...
