"""WeChat's shipping-information upload (发货信息录入, `wxa/sec/order/upload_shipping_info`).

Trade mini-programs must tell WeChat what was shipped or the payment's funds stay frozen. This
module only speaks the wire format: the caller (shop's shipping service) decides what to send
and when, with plain values, and keeps the state of the upload.

Over HTTP to `{WECHAT_API_BASE}` like every WeChat call here (the sandbox in development and
tests). Errors raise `WechatApiError` whose `errcode` says what happened; `is_transient()` says
whether trying again later can help.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from wechat.errors import WechatApiError
from wechat.miniprogram import TOKEN_REJECTED_ERRCODES, _call, _token_after_rejection, get_access_token

ENDPOINT = "wxa/sec/order/upload_shipping_info"

LOGISTICS_EXPRESS = 1  # 实体物流配送（快递公司）
DELIVERY_UNIFIED = 1  # UNIFIED_DELIVERY: the whole order in one package
DELIVERY_SPLIT = 2  # SPLIT_DELIVERY: several packages, is_all_delivered says when the last went
MAX_PACKAGES = 15  # WeChat: a payment splits into at most 15 packages
ITEM_DESC_MAX = 120

# Worth trying again later: WeChat busy (-1, 10060012, 10060019), our network or an HTTP error,
# a malformed answer, and 10060001 支付单不存在 — WeChat indexes a payment some seconds after
# paying, so an upload right after payment can see it "missing" (their advice: retry later).
TRANSIENT_ERRCODES: frozenset[int | str] = frozenset(
    {-1, 10060012, 10060019, 10060001, 45009, "NETWORK_ERROR", "HTTP_ERROR", "BAD_RESPONSE"}
)


def is_transient(errcode: int | str) -> bool:
    return errcode in TRANSIENT_ERRCODES


@dataclass(frozen=True)
class OrderKey:
    """Which payment: WeChat's transaction_id (type 2) or our mchid + out_trade_no (type 1)."""

    transaction_id: str = ""
    out_trade_no: str = ""

    def as_json(self) -> dict[str, Any]:
        if self.transaction_id:
            return {"order_number_type": 2, "transaction_id": self.transaction_id}
        return {"order_number_type": 1, "mchid": settings.WECHAT_MCH_ID, "out_trade_no": self.out_trade_no}


@dataclass(frozen=True)
class Package:
    tracking_no: str
    express_company: str  # WeChat's delivery_id, e.g. "SF"
    item_desc: str  # e.g. "婴儿湿巾 80抽*3；棉柔巾*1", at most 120 characters
    receiver_phone: str = ""  # masked before it leaves: 138****8000

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "tracking_no": self.tracking_no,
            "express_company": self.express_company,
            "item_desc": item_desc_fit(self.item_desc),
        }
        if self.receiver_phone:
            item["contact"] = {"receiver_contact": mask_phone(self.receiver_phone)}
        return item


def upload_shipping_info(*, order_key: OrderKey, payer_openid: str, packages: list[Package],
                         all_delivered: bool, upload_time: dt.datetime) -> None:
    """Upload (or update) the shipping of one payment. Returns on errcode 0.

    One package that is the whole order is UNIFIED_DELIVERY; anything else is SPLIT_DELIVERY
    with `is_all_delivered` (WeChat tells the shopper "shipped" only once it is true). The full
    list of packages so far is sent each time. A rejected access token is refreshed and the
    call retried once. Raises WechatApiError (see `is_transient`).
    """
    if not packages or len(packages) > MAX_PACKAGES:
        raise ValueError(f"1 to {MAX_PACKAGES} packages, not {len(packages)}")
    unified = len(packages) == 1 and all_delivered
    body: dict[str, Any] = {
        "order_key": order_key.as_json(),
        "logistics_type": LOGISTICS_EXPRESS,
        "delivery_mode": DELIVERY_UNIFIED if unified else DELIVERY_SPLIT,
        "shipping_list": [p.as_json() for p in packages],
        "upload_time": rfc3339(upload_time),
        "payer": {"openid": payer_openid},
    }
    if not unified:
        body["is_all_delivered"] = all_delivered
    token = get_access_token()
    try:
        _post(token, body)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_REJECTED_ERRCODES:
            raise
        _post(_token_after_rejection(token), body)


def _post(token: str, body: dict[str, Any]) -> None:
    _call("post", ENDPOINT, params={"access_token": token}, data=body)


def rfc3339(moment: dt.datetime) -> str:
    """2022-12-15T13:29:35.120+08:00 — Shanghai time with milliseconds, as WeChat's example."""
    local = timezone.localtime(moment)
    return local.isoformat(timespec="milliseconds")


_DIGITS = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """138****8000: WeChat wants contacts masked with the last 4 digits in the clear."""
    digits = "".join(_DIGITS.findall(phone))
    if len(digits) <= 4:
        return digits
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * (len(digits) - 4) + digits[-4:]


def item_desc_fit(text: str) -> str:
    """At most ITEM_DESC_MAX characters, cut with '…' rather than rejected by WeChat."""
    text = text.strip() or "商品"
    return text if len(text) <= ITEM_DESC_MAX else text[: ITEM_DESC_MAX - 1] + "…"
