"""WeChat Pay API v3 for payouts (商家转账 transfer bills): the TransferGateway of wechat.gateway.

`wechatpayv3` does the v3 protocol: the request signature (`Authorization: WECHATPAY2-SHA256-RSA2048
mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`, SHA256-RSA with the merchant's API
certificate key), the verification of every 2xx answer and of notifies with WeChat Pay's public key
(`Wechatpay-Signature/-Timestamp/-Nonce/-Serial`), RSA-OAEP encryption of the payee's name and
AEAD_AES_256_GCM decryption of notify resources with the APIv3 key. This module adds what it leaves
to us:

- the base URL: wechatpayv3 hard-codes WeChat's host; `_Client` aims it at
  `settings.WECHAT_PAY_API_BASE` (the sandbox's `/pay/` locally). The signed path is the API path
  after that base (`/v3/fund-app/…`), as WeChat signs it.
- "public key" mode only: with a public key and its id the library never downloads platform
  certificates; a notify whose `Wechatpay-Serial` is not our key's id is refused here before the
  library sees it (it would otherwise go and fetch certificates for the stranger's serial).
- keys from files in any PEM form (the library wants PKCS#8 / SPKI text);
- every answer checked before it is believed: the bill it names is ours, its state one WeChat
  has, amounts positive integers; notifies: our mch_id, the transfer event, a fresh timestamp.
- errors as ours: TransferRefused (WeChat said no; the bill was not created), WechatApiError
  (the outcome is unknown: send the same out_bill_no again), InvalidNotification.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from wechatpayv3 import WeChatPay, WeChatPayType

from wechat.errors import InvalidNotification, TransferRefused, WechatApiError
from wechat.gateway import TransferBill, TransferBillState, TransferGateway, TransferNotice, TransferRequest

logger = logging.getLogger(__name__)

TRANSFER_EVENT = "MCHTRANSFER.BILL.FINISHED"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat asks merchants to refuse notifies signed more than five minutes away from now (replays).
NOTIFY_MAX_SKEW_SECONDS = 300
# From ¥2,000 WeChat requires the payee's real name (encrypted with WeChat Pay's public key).
USER_NAME_REQUIRED_FROM_FEN = 2000_00
REMARK_MAX_CHARS = 32
# Error codes after which the request did nothing and will do nothing by itself (the rest —
# SYSTEM_ERROR, FREQUENCY_LIMITED, anything new — leave the outcome open: send the same number again).
_REFUSALS = frozenset({"PARAM_ERROR", "INVALID_REQUEST", "NO_AUTH", "NOT_ENOUGH", "ACCOUNT_ERROR",
                       "APPID_MCHID_NOT_MATCH", "OPENID_INVALID", "SIGN_ERROR", "INVALID_STATE",
                       "QUOTA_EXCEED", "RESOURCE_ALREADY_EXISTS"})
_NOTIFY_HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial",
                   "Wechatpay-Signature-Type")

class _Client(WeChatPay):
    """wechatpayv3's client aimed at `gateway` (the library hard-codes https://api.mch.weixin.qq.com:
    its Core joins that to each API path, so replacing the one attribute moves every request)."""

    def __init__(self, *, gateway: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._core._gate_way = gateway.rstrip("/")


class WeChatPayV3Gateway:
    """TransferGateway over WeChat Pay v3. Stateless: every call is one signed HTTP request."""

    def __init__(self, *, app_id: str, mch_id: str, api_base_url: str, private_key_pem: str, cert_serial_no: str,
                 apiv3_key: str, public_key_pem: str, public_key_id: str, timeout: float = 10) -> None:
        self.app_id = app_id
        self.mch_id = mch_id
        self.public_key_id = public_key_id
        self._client = _Client(
            gateway=api_base_url, wechatpay_type=WeChatPayType.MINIPROG, mchid=mch_id,
            private_key=private_key_pem, cert_serial_no=cert_serial_no, appid=app_id, apiv3_key=apiv3_key,
            public_key=public_key_pem, public_key_id=public_key_id, timeout=timeout,
        )

    # --- requests ---------------------------------------------------------------------------------

    def create_transfer(self, request: TransferRequest) -> TransferBill:
        """POST /v3/fund-app/mch-transfer/transfer-bills; a repeat of the number gets the same bill.

        The payee's name goes only from ¥2,000, where WeChat requires it (below, a name WeChat
        checks could only make the transfer fail); ValueError without one there.
        """
        if request.amount_fen <= 0:
            raise ValueError("a transfer amount must be a positive number of fen")
        if len(request.remark) > REMARK_MAX_CHARS or not request.remark:
            raise ValueError("transfer_remark is 1..32 characters")
        needs_name = request.amount_fen >= USER_NAME_REQUIRED_FROM_FEN
        if needs_name and not request.user_name:
            raise ValueError("WeChat requires the payee's real name from ¥2,000")
        data = self._call(
            self._client.mch_transfer_bills,
            out_bill_no=request.out_bill_no,
            transfer_scene_id=request.scene_id,
            openid=request.openid,
            transfer_amount=request.amount_fen,
            transfer_remark=request.remark,
            user_name=request.user_name if needs_name else None,
            user_recv_perception=request.user_recv_perception or None,
            transfer_scene_report_infos=[{"info_type": t, "info_content": c} for t, c in request.report_infos],
            appid=self.app_id,
            notify_url=request.notify_url,
        )
        if data is None:
            raise WechatApiError("BAD_RESPONSE", "transfer-bills answered 404")
        return self._bill(data, out_bill_no=request.out_bill_no)

    def query_transfer(self, *, out_bill_no: str) -> TransferBill | None:
        """GET …/transfer-bills/out-bill-no/{out_bill_no}; None when WeChat does not know it."""
        data = self._call(self._client.mch_transfer_bills_query, out_bill_no=out_bill_no)
        if data is None:
            return None
        bill = self._bill(data, out_bill_no=out_bill_no)
        if data.get("mch_id") not in (None, self.mch_id) or data.get("appid") not in (None, self.app_id):
            raise WechatApiError("MISMATCH", "the bill belongs to another merchant or appid")
        return bill

    def cancel_transfer(self, *, out_bill_no: str) -> TransferBill:
        """POST …/out-bill-no/{out_bill_no}/cancel: CANCELING or CANCELLED. TransferRefused when the
        bill can no longer be cancelled (confirmed, final) or is unknown."""
        data = self._call(self._client.mch_transfer_bills_cancel, out_bill_no=out_bill_no)
        if data is None:
            raise TransferRefused("NOT_FOUND", "转账单不存在", message="微信支付没有该转账单")
        return self._bill(data, out_bill_no=out_bill_no)

    def _call(self, endpoint: Callable[..., tuple[int, Any]], **kwargs: Any) -> dict[str, Any] | None:
        """Call a wechatpayv3 endpoint; the verified JSON answer, or None for a 404 (unknown bill).

        A network failure or timeout, a 5xx, an unverifiable 2xx, or an error code that leaves the
        outcome open raise WechatApiError; a refusal raises TransferRefused.
        """
        try:
            status, text = endpoint(**kwargs)
        except requests.RequestException as exc:
            raise WechatApiError("NETWORK_ERROR", type(exc).__name__) from exc
        # wechatpayv3 raises bare Exception, e.g. for an answer whose signature does not verify.
        except Exception as exc:
            raise WechatApiError("INVALID_RESPONSE", str(exc)[:200]) from exc
        body = _json(text)
        if 200 <= status < 300:
            if body is None:
                raise WechatApiError("BAD_RESPONSE", "WeChat Pay did not answer with a JSON object")
            return body
        code = str((body or {}).get("code") or f"HTTP_{status}")
        message = str((body or {}).get("message") or "")
        if status == 404 and code in ("NOT_FOUND", "RESOURCE_NOT_EXISTS", f"HTTP_{status}"):
            return None
        if 400 <= status < 500 and code in _REFUSALS:
            raise TransferRefused(code, message, message=f"微信支付拒绝转账：{message or code}")
        raise WechatApiError(code, message)

    def _bill(self, data: dict[str, Any], *, out_bill_no: str) -> TransferBill:
        if data.get("out_bill_no") != out_bill_no:
            raise WechatApiError("BAD_RESPONSE", "WeChat Pay answered about another bill")
        try:
            return _bill_from(data)
        except ValueError as exc:
            raise WechatApiError("BAD_RESPONSE", str(exc)) from exc

    # --- notifies ---------------------------------------------------------------------------------

    def parse_transfer_notify(self, headers: Mapping[str, str], body: bytes) -> TransferNotice:
        """Verify and decrypt a transfer notify; InvalidNotification for anything else.

        Checks, in order: the signing key is ours (Wechatpay-Serial = our public key id), the
        timestamp is within five minutes, the signature verifies over timestamp, nonce and the
        exact body (wechatpayv3), the resource decrypts with the APIv3 key (AEAD_AES_256_GCM, which
        also authenticates it and its associated data), the event is a transfer's, and the bill is
        for our mch_id with a known final state and a positive amount.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        signed = {name: lowered.get(name.lower(), "") for name in _NOTIFY_HEADERS}
        if signed["Wechatpay-Serial"] != self.public_key_id:
            raise InvalidNotification(detail={"reason": "serial"})
        if signed["Wechatpay-Signature-Type"] not in ("", SIGNATURE_TYPE):
            raise InvalidNotification(detail={"reason": "signature_type"})
        signed["Wechatpay-Signature-Type"] = SIGNATURE_TYPE
        timestamp = signed["Wechatpay-Timestamp"]
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > NOTIFY_MAX_SKEW_SECONDS:
            raise InvalidNotification(detail={"reason": "timestamp"})
        try:
            data = self._client.callback(signed, body.decode("utf-8"))
        # Not UTF-8, not JSON, another algorithm: wechatpayv3 raises bare Exception for some of them.
        except Exception as exc:
            raise InvalidNotification(detail={"reason": "malformed"}) from exc
        if not isinstance(data, dict):  # the signature did not verify, or the resource did not decrypt
            raise InvalidNotification(detail={"reason": "signature"})
        resource = data.get("resource")
        if data.get("event_type") != TRANSFER_EVENT or not isinstance(resource, dict):
            raise InvalidNotification(detail={"reason": "event_type"})
        notify_id = data.get("id")
        if not isinstance(notify_id, str) or not notify_id or len(notify_id) > 64:
            raise InvalidNotification(detail={"reason": "id"})
        if resource.get("mch_id") != self.mch_id:
            raise InvalidNotification(detail={"reason": "mch_id"})
        try:
            bill = _bill_from(resource)
        except ValueError as exc:
            raise InvalidNotification(detail={"reason": str(exc)}) from exc
        if bill.state not in TransferBillState.FINAL or bill.amount_fen is None:
            raise InvalidNotification(detail={"reason": "state"})
        return TransferNotice(notify_id=notify_id, event_type=TRANSFER_EVENT, bill=bill, resource=resource)


def _json(text: Any) -> dict[str, Any] | None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bill_from(data: dict[str, Any]) -> TransferBill:
    """A TransferBill from an answer or a decrypted resource; ValueError when it is not well-formed."""
    out_bill_no, state = data.get("out_bill_no"), data.get("state")
    if not isinstance(out_bill_no, str) or not out_bill_no:
        raise ValueError("out_bill_no missing")
    if state not in TransferBillState.ALL:
        raise ValueError(f"unknown state {state!r}")
    amount = data.get("transfer_amount")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
        raise ValueError("transfer_amount is not a positive integer")
    texts = {name: data.get(name, "") for name in ("transfer_bill_no", "package_info", "fail_reason", "openid")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise ValueError("a text field is not a string")
    return TransferBill(out_bill_no=out_bill_no, state=str(state), amount_fen=amount, raw=dict(data), **texts)


# --- configuration ----------------------------------------------------------------------------------


def _private_key_pem(path: str) -> str:
    """The merchant's RSA key from a PEM file (PKCS#1 or PKCS#8) as the PKCS#8 text wechatpayv3 reads."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key (Pay v3 signs with SHA256-RSA)")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_key_pem(path: str) -> str:
    """WeChat Pay's RSA public key from a PEM file (SPKI or PKCS#1), as SPKI text.

    ValueError when the file holds no RSA public key (the settings check reports it at startup).
    """
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = x509.load_pem_x509_certificate(data).public_key()  # a platform certificate works too
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def certificate_serial(path: str) -> str:
    """The serial number of the merchant's API certificate, as WeChat writes it (upper-case hex)."""
    return format(x509.load_pem_x509_certificate(Path(path).read_bytes()).serial_number, "X")


class _Config(NamedTuple):
    app_id: str
    mch_id: str
    api_base_url: str
    mch_key: str
    cert_serial: str
    mch_cert: str
    apiv3_key: str
    public_key: str
    public_key_id: str
    timeout: float
    files_changed: tuple[float, ...]  # the key files' mtimes: a replaced file is read again


def get_transfer_gateway() -> TransferGateway:
    """The configured Pay v3 gateway (settings are read now, so tests can point it at a sandbox).

    Raises WechatApiError("NO_CONFIG", …) naming the variable when the configuration is incomplete
    or a key file cannot be read (the startup checks report the same, mall.E011 / mall.E012).
    """
    missing = [name for name in ("WECHAT_PAY_MCH_KEY", "WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_PUBLIC_KEY",
                                 "WECHAT_PAY_PUBLIC_KEY_ID") if not getattr(settings, name, "")]
    if not (settings.WECHAT_PAY_MCH_CERT_SERIAL or settings.WECHAT_PAY_MCH_CERT):
        missing.append("WECHAT_PAY_MCH_CERT_SERIAL")
    if missing:
        raise WechatApiError("NO_CONFIG", f"Pay v3 needs {', '.join(missing)}")
    files = (settings.WECHAT_PAY_MCH_KEY, settings.WECHAT_PAY_PUBLIC_KEY, settings.WECHAT_PAY_MCH_CERT)
    try:
        changed = tuple(Path(path).stat().st_mtime if path else 0.0 for path in files)
        return _gateway(_Config(
            app_id=settings.WECHAT_APP_ID, mch_id=settings.WECHAT_MCH_ID, api_base_url=settings.WECHAT_PAY_API_BASE,
            mch_key=settings.WECHAT_PAY_MCH_KEY, cert_serial=settings.WECHAT_PAY_MCH_CERT_SERIAL,
            mch_cert=settings.WECHAT_PAY_MCH_CERT, apiv3_key=settings.WECHAT_PAY_APIV3_KEY,
            public_key=settings.WECHAT_PAY_PUBLIC_KEY, public_key_id=settings.WECHAT_PAY_PUBLIC_KEY_ID,
            timeout=settings.WECHAT_HTTP_TIMEOUT, files_changed=changed))
    except (OSError, ValueError, TypeError) as exc:
        raise WechatApiError("NO_CONFIG", f"Pay v3 keys unreadable: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _gateway(config: _Config) -> WeChatPayV3Gateway:
    # Loading an RSA private key checks it (~0.15 s, twice: here and in wechatpayv3): once per
    # configuration, not per notify. The gateway keeps no state between requests.
    return WeChatPayV3Gateway(
        app_id=config.app_id, mch_id=config.mch_id, api_base_url=config.api_base_url,
        private_key_pem=_private_key_pem(config.mch_key),
        cert_serial_no=config.cert_serial or certificate_serial(config.mch_cert),
        apiv3_key=config.apiv3_key, public_key_pem=public_key_pem(config.public_key),
        public_key_id=config.public_key_id, timeout=config.timeout,
    )
