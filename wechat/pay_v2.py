"""The WeChat Pay v2 adapter of the payment gateway port (wechat.gateway).

wechatpy's `WeChatPay` does the signing and the XML; this module adds what DESIGN §8 says
wechatpy leaves to us: every reply's signature, appid and mch_id are verified before anything
in it is believed, `client_ip` is always passed (wechatpy would otherwise look up our IP over
the network), signing stays MD5 (its notify parser checks MD5 only), and notifications are
checked field by field. Base URL: `settings.WECHAT_PAY_API_BASE` — the sandbox's `/pay/` in
development and tests, `https://api.mch.weixin.qq.com/` in production.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError
from zoneinfo import ZoneInfo

import requests
import xmltodict
from django.conf import settings
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay

from wechat.errors import InvalidNotification, TradeAlreadyPaid, TradeClosed, WechatApiError
from wechat.gateway import PaymentGateway, PaymentNotice, PrepayResult, QueryResult, TradeState

SHANGHAI = ZoneInfo("Asia/Shanghai")
WECHAT_TIME_FORMAT = "%Y%m%d%H%M%S"  # time_expire, time_end: Shanghai wall-clock time

NOTIFY_ACK = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
XML_CONTENT_TYPE = "application/xml"
# Fields of a paid notification / orderquery reply that PaymentNotice carries as attributes.
_NOTICE_FIELDS = frozenset({"out_trade_no", "transaction_id", "total_fee", "time_end", "sign"})


@dataclass(frozen=True)
class _Reply:
    data: dict[str, Any]
    raw: str


class _Client(WeChatPay):
    """wechatpy's Pay client aimed at our base URL, returning every reply for us to judge.

    wechatpy raises on result_code FAIL before anyone can check the reply's signature, and
    returns the bare text when the reply is not XML; here every reply comes back parsed with
    its raw text, and WeChatPayV2Gateway._call decides.
    """

    def __init__(self, *, api_base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.API_BASE_URL = api_base_url

    def _handle_result(self, res: requests.Response) -> _Reply:
        res.encoding = "utf-8"
        try:
            data = xmltodict.parse(res.text)["xml"]
        except (ExpatError, KeyError, TypeError, ValueError) as exc:
            raise WechatApiError("BAD_RESPONSE", "WeChat Pay did not answer with XML") from exc
        if not isinstance(data, dict):
            raise WechatApiError("BAD_RESPONSE", "WeChat Pay answered an empty <xml>")
        return _Reply(data=data, raw=res.text)


class WeChatPayV2Gateway:
    """PaymentGateway over WeChat Pay v2 (JSAPI, MD5). Stateless apart from its HTTP session."""

    def __init__(
        self,
        *,
        app_id: str,
        mch_id: str,
        api_key: str,
        api_base_url: str,
        mch_cert: str | None = None,
        mch_key: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.app_id = app_id
        self.mch_id = mch_id
        self._client = _Client(
            api_base_url=api_base_url,
            appid=app_id,
            api_key=api_key,
            mch_id=mch_id,
            mch_cert=mch_cert or None,
            mch_key=mch_key or None,
            timeout=timeout,
        )

    def prepay(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        openid: str,
        client_ip: str,
        notify_url: str,
        expires_at: dt.datetime,
    ) -> PrepayResult:
        """Unified order (JSAPI) and the signed wx.requestPayment parameters.

        WeChat returns the same prepay_id for a repeat with the same parameters, so this is
        safe to retry. Raises TradeAlreadyPaid / TradeClosed when the trade is past paying,
        WechatApiError for everything else (including another amount under the same number).
        """
        if not client_ip:
            raise ValueError("client_ip is required (wechatpy would look ours up over the network)")
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime")
        reply = self._call(
            self._client.order.create,
            trade_type="JSAPI",
            body=description,
            total_fee=amount_fen,
            notify_url=notify_url,
            client_ip=client_ip,
            user_id=openid,
            out_trade_no=out_trade_no,
            time_expire=expires_at.astimezone(SHANGHAI),
        )
        self._raise_for_result(reply, out_trade_no)
        prepay_id = reply.data.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise WechatApiError("BAD_RESPONSE", "unifiedorder returned no prepay_id")
        params = self._client.jsapi.get_jsapi_params(prepay_id)
        return PrepayResult(prepay_id=prepay_id, request_payment={k: str(v) for k, v in params.items()})

    def parse_notify(self, body: bytes) -> PaymentNotice:
        """Verify a payment notification and return what it says was paid.

        Checks the MD5 signature with our key, return_code and result_code SUCCESS, appid and
        mch_id equal ours, and that out_trade_no, transaction_id, total_fee (fen > 0) and
        time_end are well-formed. Raises InvalidNotification for any problem, nothing else:
        a hostile body must never become a 500. Does not compare the amount with the order:
        the caller does, with `amount_fen`.
        """
        try:
            data = self._client.parse_payment_result(body)
        except InvalidSignatureException as exc:
            raise InvalidNotification(detail={"reason": "signature"}) from exc
        # Malformed, non-UTF-8, repeated tags (lists where text was expected): not WeChat.
        except (ExpatError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidNotification(detail={"reason": "malformed"}) from exc
        for field in ("return_code", "result_code"):
            if data.get(field) != "SUCCESS":
                raise InvalidNotification(detail={"reason": field})
        if data.get("appid") != self.app_id:
            raise InvalidNotification(detail={"reason": "appid"})
        if data.get("mch_id") != self.mch_id:
            raise InvalidNotification(detail={"reason": "mch_id"})
        try:
            raw = body.decode("utf-8")
            return self._notice(data, raw=raw)
        except ValueError as exc:  # UnicodeDecodeError included
            raise InvalidNotification(detail={"reason": str(exc)}) from exc

    def query(self, *, out_trade_no: str) -> QueryResult:
        """orderquery: the trade's state, with a verified PaymentNotice when it is SUCCESS.

        A trade WeChat does not know (never prepaid) is TradeState.NOT_FOUND.
        """
        reply = self._call(self._client.order.query, out_trade_no=out_trade_no)
        if reply.data.get("result_code") != "SUCCESS":
            if reply.data.get("err_code") == "ORDERNOTEXIST":
                return QueryResult(trade_state=TradeState.NOT_FOUND)
            self._raise_for_result(reply, out_trade_no)
        state = reply.data.get("trade_state")
        if not isinstance(state, str) or not state:
            raise WechatApiError("BAD_RESPONSE", "orderquery returned no trade_state")
        if state != TradeState.SUCCESS:
            return QueryResult(trade_state=state)
        data = dict(reply.data)
        try:
            data["total_fee"] = int(data["total_fee"])
            notice = self._notice(data, raw=reply.raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise WechatApiError("BAD_RESPONSE", f"orderquery SUCCESS reply is malformed: {exc}") from exc
        if notice.out_trade_no != out_trade_no:
            raise WechatApiError("BAD_RESPONSE", "orderquery answered about another trade")
        return QueryResult(trade_state=state, notice=notice)

    def close(self, *, out_trade_no: str) -> None:
        """closeorder. Idempotent: an already closed or never created trade is not an error.

        Raises TradeAlreadyPaid when the trade was paid meanwhile: the caller must query it and
        mark the order paid instead of cancelling it.
        """
        reply = self._call(self._client.order.close, out_trade_no=out_trade_no)
        if reply.data.get("result_code") == "SUCCESS":
            return
        if reply.data.get("err_code") in ("ORDERCLOSED", "ORDERNOTEXIST"):
            return
        self._raise_for_result(reply, out_trade_no)

    def notify_ack(self) -> tuple[bytes, str]:
        """The exact SUCCESS answer WeChat expects; anything else makes it retry."""
        return NOTIFY_ACK, XML_CONTENT_TYPE

    def notify_nack(self, message: str) -> tuple[bytes, str]:
        """A FAIL answer: WeChat will deliver the notification again later."""
        safe = message.replace("]]>", "]] >")  # keep the CDATA section closed where we close it
        body = f"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[{safe}]]></return_msg></xml>"
        return body.encode("utf-8"), XML_CONTENT_TYPE

    def _call(self, endpoint: Any, **kwargs: Any) -> _Reply:
        """Call a wechatpy endpoint; return the reply only if WeChat Pay provably sent it.

        return_code FAIL (protocol-level: bad signature, wrong appid...), an HTTP or network
        failure, a bad signature on the reply, or another appid/mch_id raise WechatApiError.
        Business results (result_code FAIL, err_code) are left to the caller.
        """
        try:
            reply = endpoint(**kwargs)
        except WeChatPayException as exc:  # HTTP status >= 400
            raise WechatApiError("HTTP_ERROR", str(exc)) from exc
        except requests.RequestException as exc:
            raise WechatApiError("NETWORK_ERROR", type(exc).__name__) from exc
        if not isinstance(reply, _Reply):
            raise WechatApiError("BAD_RESPONSE", "WeChat Pay did not answer with XML")
        data = reply.data
        if data.get("return_code") != "SUCCESS":
            raise WechatApiError(str(data.get("return_code") or "FAIL"), str(data.get("return_msg") or ""))
        if not self._client.check_signature(data):
            raise WechatApiError("INVALID_SIGNATURE", "the reply's signature does not verify")
        if data.get("appid") != self.app_id or data.get("mch_id") != self.mch_id:
            raise WechatApiError("MISMATCH", "the reply is for another appid or mch_id")
        return reply

    @staticmethod
    def _raise_for_result(reply: _Reply, out_trade_no: str) -> None:
        data = reply.data
        if data.get("result_code") == "SUCCESS":
            return
        err_code = str(data.get("err_code") or "FAIL")
        if err_code == "ORDERPAID":
            raise TradeAlreadyPaid(out_trade_no)
        if err_code == "ORDERCLOSED":
            raise TradeClosed(out_trade_no)
        raise WechatApiError(err_code, str(data.get("err_code_des") or ""))

    @staticmethod
    def _notice(data: dict[str, Any], *, raw: str) -> PaymentNotice:
        """PaymentNotice from a verified notify / orderquery dict (total_fee already an int)."""
        out_trade_no, transaction_id = data.get("out_trade_no"), data.get("transaction_id")
        amount, time_end = data.get("total_fee"), data.get("time_end")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            raise ValueError("out_trade_no missing")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise ValueError("transaction_id missing")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("total_fee is not a positive integer")
        if not isinstance(time_end, str) or len(time_end) != 14 or not time_end.isdigit():
            raise ValueError("time_end is not yyyyMMddHHmmss")
        paid_at = dt.datetime.strptime(time_end, WECHAT_TIME_FORMAT).replace(tzinfo=SHANGHAI)
        extra = {k: str(v) for k, v in data.items() if k not in _NOTICE_FIELDS and isinstance(v, str | int)}
        return PaymentNotice(
            out_trade_no=out_trade_no,
            transaction_id=transaction_id,
            amount_fen=amount,
            paid_at=paid_at,
            raw=raw,
            extra=extra,
        )


def get_gateway() -> PaymentGateway:
    """The configured gateway (settings are read now, so tests can point it at a sandbox)."""
    return WeChatPayV2Gateway(
        app_id=settings.WECHAT_APP_ID,
        mch_id=settings.WECHAT_MCH_ID,
        api_key=settings.WECHAT_PAY_API_KEY,
        api_base_url=settings.WECHAT_PAY_API_BASE,
        mch_cert=settings.WECHAT_PAY_MCH_CERT,
        mch_key=settings.WECHAT_PAY_MCH_KEY,
        timeout=settings.WECHAT_HTTP_TIMEOUT,
    )
