"""The payment gateway port: what shop needs from a payment provider.

The WeChat Pay v2 adapter (wechat.pay_v2) is the one implementation; a v3 adapter can sit
behind the same port later. Amounts are integer fen; times are aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


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
