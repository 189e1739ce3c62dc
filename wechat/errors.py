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
