"""Demo events: about 60 days of mini-program traffic, sent through the ingestion service.

Each simulated batch goes through `events_ingest` (what POST /api/v1/events calls) with its
simulated receive time, so the demo's events are checked, buffered and flushed exactly as a
phone's are. Devices come back or are new, some log in as the demo members (their earlier
anonymous visits then count as the member's), arrive by WeChat's entry scenes or the demo's
channel codes, browse Zipf-popular products, search, add to cart, start checkout, share. The
traffic grows over the weeks and peaks at weekends. Deterministic (one seeded generator).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from analytics.models import Event, EventSource, Funnel
from analytics.services.events import events_ingest
from analytics.services.rollups import kpi_rollup_range
from analytics.services.storage import events_flush, events_partitions_maintain
from campaigns.models import Channel
from catalog.models import Product
from members.models import Member

DAYS = 60
SCENES = [(1001, 26), (1089, 10), (1007, 12), (1008, 8), (1047, 10), (1011, 4), (1035, 6), (1043, 3),
          (1058, 3), (1005, 6), (1053, 4), (1037, 2), (1045, 3)]
KEYWORDS = ["奶粉", "纸尿裤", "连衣裙", "T恤", "面霜", "口红", "蛋糕", "湿巾", "玩具", "保温杯"]
MODELS = {"ios": ["iPhone 15", "iPhone 14 Pro", "iPhone 13"], "android": ["HUAWEI Mate 60", "Xiaomi 14", "OPPO Reno11"]}
PAGES = {"index": "pages/index/index", "category": "pages/category/index", "product": "pages/product/detail",
         "cart": "pages/cart/index", "checkout": "pages/checkout/index", "search": "pages/search/index",
         "coupons": "pages/coupon/center", "me": "pages/me/index"}


@dataclass
class Device:
    device_id: str
    platform: str
    model: str
    member_id: int | None = None  # once logged in
    seen: bool = False


@dataclass
class Batch:
    device: Device
    member_id: int | None
    events: list[dict[str, Any]] = field(default_factory=list)


def _event(name: str, at: dt.datetime, **properties: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "name": name, "time": int(at.timestamp() * 1000),
            "properties": properties}


def _visit(rng: random.Random, device: Device, start: dt.datetime, products: list[tuple[int, str, int]],
           weights: list[float], channels: list[str]) -> list[dict[str, Any]]:
    at = start
    events = []
    scene = rng.choices([s for s, _ in SCENES], [w for _, w in SCENES])[0]
    entry: dict[str, Any] = {"scene": scene, "path": PAGES["index"], "is_first_visit": not device.seen}
    if channels and scene in (1047, 1048) and rng.random() < 0.6:
        entry["query"] = {"scene": rng.choice(channels)}
    if scene in (1035, 1043, 1058):
        entry |= {"utm_source": "wechat_mp", "utm_campaign": rng.choice(["新品", "周末特惠", "会员日"])}
    if scene in (1007, 1008):
        entry |= {"sharer": f"demo-device-{rng.randrange(400):04d}", "share_depth": rng.choice([1, 1, 1, 2, 3])}
    events.append(_event("app_launch", at, **entry))
    path = PAGES["index"]

    def view(page: str, **props: Any) -> None:
        nonlocal at, path
        if events[-1]["name"] != "app_launch":
            stay = rng.randint(3, 90)
            at += dt.timedelta(seconds=stay)
            events.append(_event("page_leave", at, path=path, duration=stay))
        at += dt.timedelta(seconds=rng.randint(1, 4))
        path = page
        events.append(_event("page_view", at, path=page, **props))

    view(PAGES["index"], scene=scene)
    for _ in range(rng.choices([0, 1, 2, 3, 4, 6], [20, 30, 22, 14, 9, 5])[0]):
        if rng.random() < 0.2:
            view(PAGES["search"])
            keyword = rng.choice(KEYWORDS)
            events.append(_event("search", at, keyword=keyword, result_count=rng.randint(0, 30)))
        elif rng.random() < 0.15:
            view(PAGES["category"])
        product_id, category, price = rng.choices(products, weights)[0]
        view(PAGES["product"], query={"id": str(product_id)})
        events.append(_event("product_view", at, product_id=product_id, category=category, price_fen=price))
        if rng.random() < 0.22:
            events.append(_event("add_to_cart", at, product_id=product_id, sku_id=product_id, quantity=1,
                                 category=category))
            if rng.random() < 0.5:
                view(PAGES["cart"])
                if rng.random() < 0.55:
                    view(PAGES["checkout"])
                    events.append(_event("checkout_start", at, item_count=rng.randint(1, 3),
                                         goods_total_fen=price * rng.randint(1, 3)))
        if rng.random() < 0.06:
            events.append(_event("share", at, content_type="product", content_id=str(product_id),
                                 path=PAGES["product"], share_to=rng.choice(["chat", "group", "moments"])))
    if rng.random() < 0.07:
        view(PAGES["coupons"])
        events.append(_event("coupon_claim", at, template_id=rng.randint(1, 5), source="center"))
    stay = rng.randint(3, 60)
    at += dt.timedelta(seconds=stay)
    events.append(_event("page_leave", at, path=path, duration=stay))
    events.append(_event("app_hide", at, path=path))
    return events


def demo_events_load(*, days: int = DAYS, seed: int = 12, log: Callable[[str], None] = print,
                     today: dt.date | None = None) -> int:
    """Send `days` days of demo traffic through events_ingest, flush it and roll the days up.

    Does nothing when the mini-program has sent events already (demo or real). Returns the events
    accepted.
    """
    if Event.objects.filter(source=EventSource.CLIENT).exists():
        log("demo events: the mini-program's events are already there, skipped")
        return 0
    rng = random.Random(seed)
    today = today or timezone.localdate()
    # The category a shopper sees on the product: its top-level one (母婴, 美妆护肤...).
    products = list(Product.objects.values_list("pk", "category__parent__name", "category__name", "skus__price_fen")
                    .order_by("pk"))
    seen_products: dict[int, tuple[int, str, int]] = {}
    for pk, parent, category, price in products:
        seen_products.setdefault(pk, (pk, parent or category or "", price or 0))
    catalogue = list(seen_products.values())
    if not catalogue:
        log("demo events: no products, skipped")
        return 0
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(catalogue))]  # Zipf-popular products
    rng.shuffle(weights)
    members = list(Member.objects.filter(deleted_at__isnull=True).order_by("pk").values_list("pk", flat=True))
    channels = list(Channel.objects.filter(is_active=True).values_list("scene", flat=True))
    devices: list[Device] = []
    zone = timezone.get_current_timezone()
    accepted = 0
    for offset in range(days, 0, -1):
        day = today - dt.timedelta(days=offset)
        growth = 1 + (days - offset) / days
        weekend = 1.35 if day.weekday() >= 5 else 1.0
        for _ in range(int(rng.gauss(45, 6) * growth * weekend)):
            if devices and rng.random() < 0.45:
                device = rng.choice(devices)
            else:
                platform = rng.choices(["ios", "android", "devtools"], [52, 46, 2])[0]
                device = Device(f"demo-device-{len(devices):04d}", platform,
                                rng.choice(MODELS.get(platform, ["devtools"])))
                devices.append(device)
            if device.member_id is None and device.seen and members and rng.random() < 0.35:
                device.member_id = rng.choice(members)  # logs in on this visit
            hour = rng.choices(range(24), [1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 8, 7, 7, 8, 9, 10, 12, 13, 11,
                                           7, 3])[0]
            start = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=zone)
            events = _visit(rng, device, start, catalogue, weights, channels)
            device.seen = True
            context = {"platform": device.platform, "model": device.model, "wechat_version": "8.0.54",
                       "network": rng.choice(["wifi", "wifi", "5g", "4g"])}
            for first in range(0, len(events), 50):
                chunk = events[first:first + 50]
                received = dt.datetime.fromtimestamp(chunk[-1]["time"] / 1000, tz=dt.UTC) + dt.timedelta(seconds=2)
                result = events_ingest(device_id=device.device_id, member_id=device.member_id, context=context,
                                       events=chunk, received_at=received)
                accepted += result.accepted
        if offset % 10 == 0:
            events_flush()
            log(f"demo events: {day} done, {accepted} events so far")
    events_partitions_maintain(today=today)
    events_flush()
    kpi_rollup_range(first=today - dt.timedelta(days=days), last=today)
    _demo_funnels()
    log(f"demo events: {accepted} events from {len(devices)} devices over {days} days, rolled up")
    return accepted


def _demo_funnels() -> None:
    for name, steps, hours in (
        ("商品购买转化", [("product_view", []), ("add_to_cart", []), ("checkout_start", [])], 24),
        ("搜索到加购", [("search", []), ("product_view", []), ("add_to_cart", [])], 2),
        ("母婴品类转化", [("product_view", [{"property": "category", "op": "=", "value": "母婴"}]),
                    ("add_to_cart", []), ("checkout_start", [])], 24),
    ):
        Funnel.objects.get_or_create(name=name, defaults={
            "steps": [{"event": event, "filters": filters} for event, filters in steps], "window_hours": hours})
