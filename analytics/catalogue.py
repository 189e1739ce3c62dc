"""The catalogue of events the mini-program may send, and the check of one sent event.

docs/analytics-events.md is the same catalogue for front-end developers. A front end that speaks
神策 (Sensors Data)'s mini-program conventions can send its preset events as they are: their names
($MPLaunch, $MPShow, $MPHide, $MPViewScreen, $MPShare, $MPPageLeave) and their property names
($scene, $url_path, $url_query, $utm_source, $share_depth, $share_distinct_id, $is_first_time,
$event_duration ...) are mapped to ours one to one (ALIASES, PROPERTY_ALIASES).

Each event is judged alone: `event_parse` returns the row to store or the reason it is refused,
so one bad event never costs the good ones beside it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A property's value kind: "str", "int", "num" (int or float), "bool", "query" (an object of strings).
Kind = str


@dataclass(frozen=True)
class EventSpec:
    """An event the mini-program may send: what operators call it, and its properties by kind."""

    label: str
    required: Mapping[str, Kind] = field(default_factory=dict)
    optional: Mapping[str, Kind] = field(default_factory=dict)
    # Every property it names (required and optional), by kind; made once, read per event.
    known: Mapping[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", {**self.required, **self.optional})


# What every entry event (launch / show) and page view may carry: where the visit came from.
ENTRY: dict[str, Kind] = {
    "scene": "int", "path": "str", "query": "query", "is_first_visit": "bool",
    "utm_source": "str", "utm_medium": "str", "utm_campaign": "str", "utm_content": "str", "utm_term": "str",
    "sharer": "str", "share_depth": "int", "channel_code": "str",
}

CATALOGUE: dict[str, EventSpec] = {
    "app_launch": EventSpec("小程序启动", optional=ENTRY),
    "app_show": EventSpec("小程序显示", optional=ENTRY),
    "app_hide": EventSpec("小程序进入后台", optional={"duration": "num", "path": "str"}),
    "page_view": EventSpec("浏览页面", required={"path": "str"},
                           optional={**ENTRY, "title": "str", "referrer": "str"}),
    "page_leave": EventSpec("离开页面", required={"path": "str", "duration": "num"},
                            optional={"query": "query"}),
    "product_view": EventSpec("浏览商品", required={"product_id": "int"},
                              optional={"path": "str", "category_id": "int", "category": "str",
                                        "price_fen": "int", "source": "str"}),
    "search": EventSpec("搜索", required={"keyword": "str"},
                        optional={"result_count": "int", "source": "str"}),
    "add_to_cart": EventSpec("加入购物车", required={"product_id": "int", "sku_id": "int"},
                             optional={"quantity": "int", "price_fen": "int", "category": "str"}),
    "share": EventSpec("分享", required={"content_type": "str"},
                       optional={"content_id": "str", "path": "str", "query": "query", "share_to": "str",
                                 "sharer": "str", "share_depth": "int"}),
    "coupon_claim": EventSpec("领取优惠券", required={"template_id": "int"}, optional={"source": "str"}),
    "checkout_start": EventSpec("进入结算", optional={"item_count": "int", "goods_total_fen": "int",
                                                        "sku_ids": "str"}),
    "click": EventSpec("点击", required={"element": "str"}, optional={"path": "str", "content": "str"}),
}

# 神策 preset events → ours.
ALIASES = {
    "$MPLaunch": "app_launch",
    "$MPShow": "app_show",
    "$MPHide": "app_hide",
    "$MPViewScreen": "page_view",
    "$MPPageLeave": "page_leave",
    "$MPShare": "share",
    "$MPClick": "click",
}
PROPERTY_ALIASES = {
    "$scene": "scene",
    "$url_path": "path",
    "$url": "path",
    "$url_query": "query",
    "$referrer": "referrer",
    "$title": "title",
    "$is_first_time": "is_first_visit",
    "$share_depth": "share_depth",
    "$share_distinct_id": "sharer",
    "$share_url_path": "path",
    "$share_method": "share_to",
    "$event_duration": "duration",
    "$element_name": "element",
    "$element_content": "content",
    "$latest_scene": "scene",
    **{f"$utm_{part}": f"utm_{part}" for part in ("source", "medium", "campaign", "content", "term")},
}

MAX_PROPERTIES = 40
MAX_STRING = 512
MAX_QUERY_KEYS = 20
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# A client clock ahead of ours is clamped to the receive time; an event older than this is refused
# (a device offline for longer has lost its cache anyway, and old months may be dropped).
MAX_AGE = dt.timedelta(days=7)
# page_leave durations in seconds; longer is a page left open in the background.
MAX_DURATION = 86_400
# What WeChat reports in wx.getSystemInfo().platform, and "" when unknown.
PLATFORMS = frozenset({"ios", "android", "windows", "mac", "devtools", "ohos", "linux"})


@dataclass(frozen=True)
class ParsedEvent:
    event_id: uuid.UUID
    name: str
    properties: dict[str, Any]
    occurred_at: dt.datetime
    client_time: dt.datetime


@dataclass(frozen=True)
class Refusal:
    index: int
    event_id: str | None
    code: str
    reason: str


def event_parse(raw: Any, *, index: int, received_at: dt.datetime) -> ParsedEvent | Refusal:
    """Check one sent event against the catalogue; its properties come back under our names."""
    if not isinstance(raw, dict):
        return Refusal(index, None, "not_an_object", "事件须为 JSON 对象")
    raw_id = raw.get("event_id")
    shown_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 64 else None

    def refuse(code: str, reason: str) -> Refusal:
        return Refusal(index, shown_id, code, reason)

    try:
        event_id = uuid.UUID(raw_id) if isinstance(raw_id, str) and len(raw_id) <= 40 else None
    except ValueError:
        event_id = None
    if event_id is None:
        return refuse("invalid_event_id", "event_id 须为 UUID")
    name = raw.get("name")
    name = ALIASES.get(name, name) if isinstance(name, str) else name
    spec = CATALOGUE.get(name) if isinstance(name, str) else None
    if spec is None or not isinstance(name, str):
        return refuse("unknown_event", "事件名不在事件目录中")
    time_ms = raw.get("time")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or not 0 < time_ms < 10**14:
        return refuse("invalid_time", "time 须为毫秒时间戳整数")
    client_time = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    if client_time < received_at - MAX_AGE:
        return refuse("event_too_old", f"事件发生时间早于 {MAX_AGE.days} 天前")
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        return refuse("invalid_properties", "properties 须为对象")
    parsed, problem = _properties(properties, spec)
    if problem is not None:
        return refuse("invalid_properties", problem)
    return ParsedEvent(event_id=event_id, name=name, properties=parsed,
                       occurred_at=min(client_time, received_at), client_time=client_time)


def _properties(given: dict[str, Any], spec: EventSpec) -> tuple[dict[str, Any], str | None]:
    if len(given) > MAX_PROPERTIES:
        return {}, f"属性不能超过 {MAX_PROPERTIES} 个"
    known = spec.known
    out: dict[str, Any] = {}
    for raw_key, value in given.items():
        key = PROPERTY_ALIASES.get(raw_key, raw_key)
        kind = known.get(key)
        if kind is None:
            if raw_key.startswith("$") and key == raw_key:
                continue  # another preset of the SDK's (screen size, lib version...): not ours to keep
            if not PROPERTY_NAME.match(key):
                return {}, f"属性名 {raw_key[:64]!r} 不合法"
            # A custom property the catalogue does not name: kept if it is a plain value.
            kind = "scalar"
        if value is None:
            continue
        problem = _check(key, value, kind)
        if problem is not None:
            return {}, problem
        out[key] = value
    missing = [key for key in spec.required if key not in out]
    if missing:
        return {}, f"缺少属性 {', '.join(missing)}"
    if "duration" in out and not 0 <= out["duration"] <= MAX_DURATION:
        return {}, f"duration 须为 0 到 {MAX_DURATION} 秒"
    return out, None


def _check(key: str, value: Any, kind: Kind) -> str | None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "int":
        ok = is_int and abs(value) < 2**53
    elif kind == "num":
        ok = (is_int or isinstance(value, float)) and abs(value) < 2**53
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str) and len(value) <= MAX_STRING and "\x00" not in value
    elif kind == "query":
        ok = (isinstance(value, dict) and len(value) <= MAX_QUERY_KEYS
              and all(isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= MAX_STRING
                      and "\x00" not in k + v for k, v in value.items()))
    else:  # a custom property: a string, a number or a boolean
        ok = (isinstance(value, bool | float) or is_int and abs(value) < 2**53
              or isinstance(value, str) and len(value) <= MAX_STRING and "\x00" not in value)
    if not ok:
        return f"属性 {key} 的值不合法"
    return None


def platform_of(value: Any) -> str:
    """WeChat's platform name, lower-cased; "" for anything else."""
    text = value.lower() if isinstance(value, str) else ""
    return text if text in PLATFORMS else ""
