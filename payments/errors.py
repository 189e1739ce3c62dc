"""Error codes of the payments core (stable; the messages are for people)."""

from __future__ import annotations

from core.errors import Conflict, DomainError


class UnknownTrade(DomainError):
    status = 400
    code = "unknown_trade"
    message = "支付通知对应的订单不存在"


class AmountMismatch(DomainError):
    status = 400
    code = "amount_mismatch"
    message = "支付金额与订单金额不一致"


class TradeMismatch(Conflict):
    """A prepay for a trade number that already belongs to another kind or amount."""

    code = "trade_mismatch"
    message = "支付单号已被其他订单使用"
