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


class UnknownTransfer(DomainError):
    status = 400
    code = "unknown_transfer"
    message = "转账通知对应的转账单不存在"


class TransferMismatch(Conflict):
    """WeChat's word on a bill disagrees with ours (amount, payee), or a payable already has a live
    transfer of another amount or payee."""

    code = "transfer_mismatch"
    message = "转账单的金额或收款人与记录不一致"


class InvalidTransfer(DomainError):
    status = 400
    code = "invalid_transfer"
    message = "转账参数不正确"


class TransferNotConfirmable(Conflict):
    """The mini-program asked to confirm receipt of a transfer that is not waiting for it."""

    code = "transfer_not_confirmable"
    message = "该转账当前无需确认收款"
