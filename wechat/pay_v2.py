"""The WeChat Pay v2 adapter of the payment gateway port (wechat.gateway).

wechatpy's `WeChatPay` does the signing and the XML; this module adds what DESIGN §8 says
wechatpy leaves to us: every reply's signature, appid and mch_id are verified before anything
in it is believed, `client_ip` is always passed (wechatpy would otherwise look up our IP over
the network), signing stays MD5 (its notify parser checks MD5 only), and notifications are
checked field by field. Base URL: `settings.WECHAT_PAY_API_BASE` — the sandbox's `/pay/` in
development and tests, `https://api.mch.weixin.qq.com/` in production.

Refunds (`secapi/...`) go to `settings.WECHAT_PAY_SECURE_API_BASE` with the merchant client
certificate (WECHAT_PAY_MCH_CERT / WECHAT_PAY_MCH_KEY, PEM files): WeChat refuses the TLS
handshake without it. In production both bases are WeChat's host; locally the sandbox serves
the secure one on its own HTTPS listener, whose CA is `settings.WECHAT_PAY_CA_BUNDLE`.
Refund notifications are not signed: they carry `req_info`, AES-256-ECB encrypted with
md5(API key), which only WeChat (and we) can produce; appid and mch_id are checked outside it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError
from zoneinfo import ZoneInfo

import requests
import xmltodict
from django.conf import settings
from wechatpy.exceptions import InvalidSignatureException, WeChatException, WeChatPayException
from wechatpy.pay import WeChatPay

from wechat.errors import InvalidNotification, RefundRefused, TradeAlreadyPaid, TradeClosed, WechatApiError
from wechat.gateway import (
    PaymentGateway,
    PaymentNotice,
    PrepayResult,
    QueryResult,
    RefundNotice,
    RefundResult,
    RefundState,
    TradeState,
)
from wechat.inbound import inbound_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
WECHAT_TIME_FORMAT = "%Y%m%d%H%M%S"  # time_expire, time_end: Shanghai wall-clock time

NOTIFY_ACK = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
XML_CONTENT_TYPE = "application/xml"
# Fields of a paid notification / orderquery reply that PaymentNotice carries as attributes.
_NOTICE_FIELDS = frozenset({"out_trade_no", "transaction_id", "total_fee", "time_end", "sign"})
REFUND_SUCCESS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # success_time in refund notifies and queries
REFUND_DESC_MAX_CHARS = 80
# err_codes after which the refund did not happen and will not by itself (the rest — SYSTEMERROR,
# ERROR, FREQUENCY_LIMITED... — leave the outcome open: retry with the same out_refund_no).
_REFUND_REFUSALS = frozenset({"NOTENOUGH", "INVALID_REQUEST", "PARAM_ERROR", "ORDERNOTEXIST",
                              "TRADE_STATE_ERROR", "USER_ACCOUNT_ABNORMAL", "INVALID_TRANSACTIONID",
                              "CERT_ERROR", "APPID_MCHID_NOT_MATCH", "REFUND_FEE_MISMATCH"})
_REFUND_STATES = frozenset({RefundState.PROCESSING, RefundState.SUCCESS, RefundState.CHANGE,
                            RefundState.REFUNDCLOSE})


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

    def __init__(self, *, api_base_url: str, secure_api_base_url: str = "", ca_bundle: str = "",
                 client_cert: tuple[str, str] | None = None, **kwargs: Any) -> None:
        # wechatpy would present its mch_cert on every request, so a missing certificate file
        # would break prepay too; here only the certificate-only APIs ever open it.
        super().__init__(mch_cert=None, mch_key=None, **kwargs)
        self.API_BASE_URL = api_base_url
        self.secure_api_base_url = secure_api_base_url or api_base_url
        self.ca_bundle = ca_bundle
        self.client_cert = client_cert

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        # The certificate-only APIs (secapi/pay/refund) live behind mutual TLS; everything else
        # keeps the plain base. A CA bundle given in settings is what verifies the server.
        if url_or_endpoint.startswith("secapi/"):
            kwargs.setdefault("api_base_url", self.secure_api_base_url)
            if self.client_cert:
                kwargs.setdefault("cert", self.client_cert)
        if self.ca_bundle:
            kwargs.setdefault("verify", self.ca_bundle)
        return super()._request(method, url_or_endpoint, **kwargs)

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
        secure_api_base_url: str = "",
        ca_bundle: str = "",
        timeout: float = 10,
    ) -> None:
        self.app_id = app_id
        self.mch_id = mch_id
        self._client = _Client(
            api_base_url=api_base_url,
            secure_api_base_url=secure_api_base_url,
            ca_bundle=ca_bundle,
            appid=app_id,
            api_key=api_key,
            mch_id=mch_id,
            client_cert=(mch_cert, mch_key) if mch_cert and mch_key else None,
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
        the caller does, with `amount_fen`. A body that is not UTF-8, holds a NUL or declares a
        DTD is refused before it is parsed (wechat.inbound).
        """
        try:
            inbound_text(body)
        except ValueError as exc:
            raise InvalidNotification(detail={"reason": str(exc)}) from exc
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

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        total_fee_fen: int,
        amount_fen: int,
        reason: str,
        notify_url: str,
    ) -> RefundResult:
        """secapi/pay/refund with the merchant certificate. Idempotent per out_refund_no.

        Raises RefundRefused when WeChat says no (NOTENOUGH, amount over what is left, ...),
        WechatApiError when the outcome is unknown (network, TLS, SYSTEMERROR): the caller may
        send the same out_refund_no again, and WeChat refunds it at most once.
        """
        if not self._client.client_cert:
            raise WechatApiError("NO_CERT", "refunds need WECHAT_PAY_MCH_CERT and WECHAT_PAY_MCH_KEY")
        for name, path in zip(("WECHAT_PAY_MCH_CERT", "WECHAT_PAY_MCH_KEY"), self._client.client_cert, strict=True):
            if not os.access(path, os.R_OK):
                raise WechatApiError("NO_CERT", f"{name} names {path}, which is not a readable file")
        if amount_fen <= 0 or amount_fen > total_fee_fen:
            raise ValueError("refund amount must be within 1..total_fee")
        reply = self._call(
            self._client.refund.apply,
            total_fee=total_fee_fen,
            refund_fee=amount_fen,
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            refund_desc=reason[:REFUND_DESC_MAX_CHARS] or None,
            notify_url=notify_url,
        )
        data = reply.data
        if data.get("result_code") != "SUCCESS":
            err_code = str(data.get("err_code") or "FAIL")
            description = str(data.get("err_code_des") or "")
            if err_code in _REFUND_REFUSALS:
                raise RefundRefused(err_code, description, message=f"微信支付拒绝退款：{description or err_code}")
            raise WechatApiError(err_code, description)
        refund_id = data.get("refund_id")
        if not isinstance(refund_id, str) or not refund_id:
            raise WechatApiError("BAD_RESPONSE", "refund returned no refund_id")
        if data.get("out_refund_no") != out_refund_no or str(data.get("refund_fee")) != str(amount_fen):
            raise WechatApiError("BAD_RESPONSE", "refund answered about another refund or amount")
        return RefundResult(out_refund_no=out_refund_no, refund_id=refund_id, amount_fen=amount_fen)

    def parse_refund_notify(self, body: bytes) -> RefundNotice:
        """Verify and decrypt a refund notification.

        The outer XML must say return_code SUCCESS for our appid and mch_id; `req_info` must
        decrypt with md5(API key) (only WeChat can make one that does) into a refund of known
        status with positive amounts. Raises InvalidNotification for any problem, nothing else.
        A body that is not UTF-8, holds a NUL or declares a DTD is refused unparsed (wechat.inbound).
        """
        try:
            inbound_text(body)
        except ValueError as exc:
            raise InvalidNotification(detail={"reason": str(exc)}) from exc
        try:
            outer = xmltodict.parse(body)["xml"]
            if not isinstance(outer, dict):
                raise InvalidNotification(detail={"reason": "malformed"})
            if outer.get("return_code") != "SUCCESS":
                raise InvalidNotification(detail={"reason": "return_code"})
            if outer.get("appid") != self.app_id:
                raise InvalidNotification(detail={"reason": "appid"})
            if outer.get("mch_id") != self.mch_id:
                raise InvalidNotification(detail={"reason": "mch_id"})
            if not isinstance(outer.get("req_info"), str):
                raise InvalidNotification(detail={"reason": "req_info"})
            # Strict base64: wechatpy's decoder would skip characters WeChat never sends.
            base64.b64decode(outer["req_info"], validate=True)
            data = self._client.parse_refund_notify_result(body)
        except InvalidNotification:
            raise
        # Wrong key (garbage after decryption), bad base64, repeated tags, not UTF-8: not WeChat.
        except (WeChatException, ExpatError, ValueError, TypeError, KeyError, AttributeError, IndexError,
                binascii.Error) as exc:
            raise InvalidNotification(detail={"reason": "req_info"}) from exc
        if not isinstance(data, dict):
            raise InvalidNotification(detail={"reason": "req_info"})
        try:
            return self._refund_notice(data, raw=body.decode("utf-8"))
        except ValueError as exc:
            raise InvalidNotification(detail={"reason": str(exc)}) from exc

    def query_refund(self, *, out_refund_no: str) -> RefundNotice | None:
        """refundquery by out_refund_no: the refund's state, or None when WeChat does not know it."""
        reply = self._call(self._client.refund.query, out_refund_no=out_refund_no)
        data = reply.data
        if data.get("result_code") != "SUCCESS":
            if data.get("err_code") == "REFUNDNOTEXIST":
                return None
            raise WechatApiError(str(data.get("err_code") or "FAIL"), str(data.get("err_code_des") or ""))
        try:
            count = int(data.get("refund_count") or 0)
            for n in range(count):
                if data.get(f"out_refund_no_{n}") != out_refund_no:
                    continue
                fields = {
                    "out_refund_no": out_refund_no,
                    "refund_id": data.get(f"refund_id_{n}"),
                    "out_trade_no": data.get("out_trade_no"),
                    "refund_status": data.get(f"refund_status_{n}"),
                    "refund_fee": int(data.get(f"refund_fee_{n}") or 0),
                    "total_fee": int(data.get("total_fee") or 0),
                    "success_time": data.get(f"refund_success_time_{n}"),
                }
                return self._refund_notice(fields, raw=reply.raw)
        except (TypeError, ValueError) as exc:
            raise WechatApiError("BAD_RESPONSE", f"refundquery reply is malformed: {exc}") from exc
        raise WechatApiError("BAD_RESPONSE", "refundquery answered about other refunds")

    @staticmethod
    def _refund_notice(data: dict[str, Any], *, raw: str) -> RefundNotice:
        """RefundNotice from a decrypted notify / refundquery dict (fees already ints)."""
        for name in ("out_refund_no", "refund_id", "out_trade_no"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"{name} missing")
        status = data.get("refund_status")
        if status not in _REFUND_STATES:
            raise ValueError("refund_status unknown")
        amount, total = data.get("refund_fee"), data.get("total_fee")
        for value in (amount, total):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError("refund_fee / total_fee is not a positive integer")
        succeeded_at = None
        if status == RefundState.SUCCESS:
            text = data.get("success_time")
            if not isinstance(text, str):
                raise ValueError("success_time missing")
            succeeded_at = dt.datetime.strptime(text, REFUND_SUCCESS_TIME_FORMAT).replace(tzinfo=SHANGHAI)
        assert isinstance(amount, int) and isinstance(total, int)
        return RefundNotice(
            out_refund_no=data["out_refund_no"],
            refund_id=data["refund_id"],
            out_trade_no=data["out_trade_no"],
            status=str(status),
            amount_fen=amount,
            total_fee_fen=total,
            succeeded_at=succeeded_at,
            raw=raw,
        )

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
        secure_api_base_url=getattr(settings, "WECHAT_PAY_SECURE_API_BASE", ""),
        ca_bundle=getattr(settings, "WECHAT_PAY_CA_BUNDLE", ""),
        timeout=settings.WECHAT_HTTP_TIMEOUT,
    )
