from __future__ import annotations

from core.errors import DomainError, UpstreamError


class WechatApiError(UpstreamError):
    """WeChat answered with a non-zero errcode (or Pay with return_code/result_code FAIL)."""

    def __init__(self, errcode: int | str, errmsg: str, *, message: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(message or "微信服务暂时不可用，请稍后再试",
                         detail={"errcode": errcode, "errmsg": errmsg})


class InvalidCode(DomainError):
    """The wx.login()/getPhoneNumber code is invalid, expired or already used."""

    status = 400
    code = "invalid_wechat_code"
    message = "微信登录凭证无效或已过期，请重新登录"


class InvalidNotification(DomainError):
    """A payment notification that failed verification (signature, appid, mch_id, format)."""

    status = 400
    code = "invalid_notification"
    message = "支付通知校验失败"


class TradeAlreadyPaid(WechatApiError):
    """WeChat Pay says the trade is already paid (err_code ORDERPAID).

    Raised by `close()` and `prepay()`: the caller must not treat the order as unpaid — query
    the trade and mark the order paid instead (the notify may simply not have arrived yet).
    """

    status = 409
    code = "trade_already_paid"

    def __init__(self, out_trade_no: str) -> None:
        self.out_trade_no = out_trade_no
        super().__init__("ORDERPAID", "订单已支付", message="该订单已支付")


class TradeClosed(WechatApiError):
    """WeChat Pay says the trade is closed (err_code ORDERCLOSED): it can never be paid."""

    status = 409
    code = "trade_closed"

    def __init__(self, out_trade_no: str) -> None:
        self.out_trade_no = out_trade_no
        super().__init__("ORDERCLOSED", "订单已关闭", message="该订单已关闭，无法支付")


class RefundRefused(WechatApiError):
    """WeChat Pay refused a refund request (result_code FAIL): NOTENOUGH (balance), a refund
    amount over what is left, a trade that cannot be refunded... The refund did not happen; the
    same out_refund_no may be tried again once the cause is fixed."""

    status = 409
    code = "refund_refused"


class TransferRefused(WechatApiError):
    """WeChat Pay refused a transfer request (NOT_ENOUGH balance, PARAM_ERROR, NO_AUTH…): the bill
    was not created or not changed. The same out_bill_no may be sent again once the cause is fixed."""

    status = 409
    code = "transfer_refused"


class InvalidPush(DomainError):
    """A message pushed to our message URL that is not WeChat's: not signed with our token (403),
    or signed but not a message we can read (400)."""

    status = 400
    code = "invalid_push"
    message = "微信消息推送校验失败"


class PushSignatureInvalid(InvalidPush):
    status = 403
    code = "push_signature_invalid"
    message = "微信消息推送签名错误"
