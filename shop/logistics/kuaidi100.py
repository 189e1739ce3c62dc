"""A Kuaidi100-style real-time tracking API (快递100 实时查询, `poll/query.do`).

    POST {LOGISTICS_API_BASE}poll/query.do   (application/x-www-form-urlencoded)
        customer = LOGISTICS_API_CUSTOMER
        param    = {"com": "shunfeng", "num": "SF…", "phone": "8000", "resultv2": "1",
                    "show": "0", "order": "desc"}               (compact JSON)
        sign     = MD5(param + key + customer), upper-case hex

    200 {"message": "ok", "status": "200", "state": "0", "ischeck": "0", "com": "…", "nu": "…",
         "data": [{"time": "2026-11-23 10:33:55", "ftime": "…", "context": "…",
                   "location": "…", "areaName": "…", "status": "在途"}, …]}
    200 {"result": false, "returnCode": "500", "message": "查询无结果，请隔段时间再查"}

State codes (`state`, with resultv2=1 also per checkpoint): 0 在途, 1 揽收, 2 疑难, 3 签收,
4 退签, 5 派件, 6 退回, 7 转投, 8 清关, 14 拒签. SF needs `phone` (the last four digits suffice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from shop.logistics.port import Checkpoint, TrackingResult, TrackingUnavailable

# Our carrier codes (WeChat's delivery_id) -> Kuaidi100 company codes.
COMPANY_CODES = {
    "SF": "shunfeng",
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "YD": "yunda",
    "STO": "shentong",
    "EMS": "ems",
    "JD": "jd",
    "JTSD": "jtexpress",
}

# Kuaidi100 state code -> LogisticsState value.
STATES = {
    "0": "in_transit", "1": "collected", "2": "problem", "3": "delivered", "4": "problem",
    "5": "delivering", "6": "problem", "7": "in_transit", "8": "in_transit", "14": "problem",
}
# resultv2 refines states into three digits (101 已下单, 301 本人签收, 501 派件中…): the first
# digit (or the first two for 14x) is the base state.
NO_RESULT_CODES = frozenset({"500"})  # 查询无结果: not picked up yet, not an error
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def sign(param: str, key: str, customer: str) -> str:
    return hashlib.md5(f"{param}{key}{customer}".encode()).hexdigest().upper()


def base_state(code: Any) -> str:
    text = str(code or "").strip()
    if len(text) == 3 and text.isdigit():
        text = text[:2] if text.startswith("14") else text[0]
    return STATES.get(text, "")


@dataclass(frozen=True)
class Kuaidi100:
    base_url: str  # ends in "/", as settings.LOGISTICS_API_BASE does
    customer: str
    key: str
    timeout: float = 10

    @classmethod
    def from_settings(cls) -> Kuaidi100:
        return cls(base_url=settings.LOGISTICS_API_BASE, customer=settings.LOGISTICS_API_CUSTOMER,
                   key=settings.LOGISTICS_API_KEY, timeout=settings.LOGISTICS_HTTP_TIMEOUT)

    def query(self, *, carrier_code: str, tracking_no: str, phone_tail: str = "") -> TrackingResult:
        company = COMPANY_CODES.get(carrier_code)
        if company is None:
            return TrackingResult(state="unknown")
        fields = {"com": company, "num": tracking_no, "resultv2": "1", "show": "0", "order": "desc"}
        if phone_tail:
            fields["phone"] = phone_tail
        param = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        form = {"customer": self.customer, "param": param, "sign": sign(param, self.key, self.customer)}
        url = self.base_url + "poll/query.do"
        try:
            response = requests.post(url, data=form, timeout=self.timeout)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise TrackingUnavailable(f"kuaidi100: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise TrackingUnavailable("kuaidi100: the answer is not a JSON object")
        return parse_answer(data)


def parse_answer(data: dict[str, Any]) -> TrackingResult:
    """A query.do answer as a TrackingResult; raises TrackingUnavailable for errors worth retrying."""
    if data.get("result") is False or str(data.get("status", "200")) != "200":
        code = str(data.get("returnCode") or data.get("status") or "")
        if code in NO_RESULT_CODES:
            return TrackingResult(state="unknown")
        raise TrackingUnavailable(f"kuaidi100 {code}: {data.get('message', '')}")
    checkpoints = []
    for item in data.get("data") or []:
        if not isinstance(item, dict):
            continue
        when = _time(item.get("ftime") or item.get("time"))
        if when is None:
            continue
        checkpoints.append(Checkpoint(
            time=when, text=str(item.get("context") or ""),
            location=str(item.get("location") or item.get("areaName") or ""),
            state=base_state(item.get("statusCode") or item.get("status_code")),
        ))
    checkpoints.sort(key=lambda c: c.time, reverse=True)
    state = "delivered" if str(data.get("ischeck")) == "1" else base_state(data.get("state"))
    if not checkpoints:
        state = "unknown"
    return TrackingResult(state=state or "in_transit", checkpoints=tuple(checkpoints))


def _time(text: Any) -> dt.datetime | None:
    try:
        naive = dt.datetime.strptime(str(text).strip(), TIME_FORMAT)
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_fixed_timezone(8 * 60))
