"""Demo events: about 60 days of mini-program traffic, sent through the ingestion service.

Each simulated batch goes through `events_ingest` (what POST /api/v1/events calls) with its
simulated receive time, so the demo's events are checked, buffered and flushed exactly as a
phone's are. Devices come back or are new, some log in as the demo members (their earlier
anonymous visits then count as the member's), arrive by WeChat's entry scenes or the demo's
channel codes, browse Zipf-popular products, search, add to cart, start checkout, share. The
traffic grows over the weeks and peaks at weekends. Deterministic (one seeded generator).

Before the traffic, the audience: members who joined over the same weeks from all over China
(their provinces spelled as people spell them: "广东省", "广东", "Guangdong"), channel codes scanned
(some on the day the scanner joined) and partner codes redeemed, with orders that used the
coupons: 用户画像's map and 渠道效果's rows have shape. All through the services, at past moments.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from analytics.models import Event, EventSource, Funnel
from analytics.services.events import events_ingest
from analytics.services.funnel_rollups import funnel_rollup, funnel_rollup_due
from analytics.services.rollups import kpi_rollup_range
from analytics.services.storage import events_flush, events_partitions_maintain
from campaigns.models import Channel, CodeBatch, Coupon, CouponStatus, RedeemCode
from campaigns.services.channels import channel_scan
from campaigns.services.codes import code_batch_import, code_redeem
from catalog.models import Product, Sku
from core.errors import DomainError
from members.models import Address, Gender, Member
from members.services import address_create
from shop.demo.history import demo_clock, demo_pay
from shop.services.orders import CheckoutInput, LineInput, order_place

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
    log(f"demo events: {_demo_audience(random.Random(seed + 1), today=today, days=days)}")
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
    for funnel in _demo_funnels():
        # As the hourly job would have kept them: every day whose window has closed.
        funnel_rollup(funnel=funnel, days=funnel_rollup_due(funnel=funnel))
    log(f"demo events: {accepted} events from {len(devices)} devices over {days} days, rolled up")
    return accepted


def _demo_funnels() -> list[Funnel]:
    funnels = []
    for name, steps, hours in (
        ("商品购买转化", [("product_view", []), ("add_to_cart", []), ("checkout_start", [])], 24),
        ("搜索到加购", [("search", []), ("product_view", []), ("add_to_cart", [])], 2),
        ("母婴品类转化", [("product_view", [{"property": "category", "op": "=", "value": "母婴"}]),
                    ("add_to_cart", []), ("checkout_start", [])], 24),
    ):
        funnel, _ = Funnel.objects.get_or_create(name=name, defaults={
            "steps": [{"event": event, "filters": filters} for event, filters in steps], "window_hours": hours})
        funnels.append(funnel)
    return funnels


# ---------------------------------------------------------------- the audience and its channels

AUDIENCE_OPENID = "demo_audience_"
AUDIENCE_MEMBERS = 60
# (province as the member wrote it, city, weight): roughly where online shoppers live.
AUDIENCE_PLACES = [
    ("广东省", "广州市", 8), ("广东", "深圳市", 6), ("Guangdong", "Dongguan", 1), ("浙江省", "杭州市", 6),
    ("江苏省", "苏州市", 6), ("上海市", "上海市", 5), ("北京市", "北京市", 4), ("山东省", "济南市", 5),
    ("河南省", "郑州市", 4), ("四川省", "成都市", 4), ("湖北省", "武汉市", 3), ("福建省", "厦门市", 3),
    ("湖南省", "长沙市", 3), ("安徽省", "合肥市", 2), ("河北省", "石家庄市", 2), ("陕西省", "西安市", 2),
    ("重庆市", "重庆市", 2), ("辽宁省", "沈阳市", 2), ("江西省", "南昌市", 1), ("广西壮族自治区", "南宁市", 1),
    ("云南省", "昆明市", 1), ("天津市", "天津市", 1), ("黑龙江省", "哈尔滨市", 1), ("吉林省", "长春市", 1),
    ("山西省", "太原市", 1), ("贵州省", "贵阳市", 1), ("内蒙古自治区", "呼和浩特市", 1), ("海南省", "海口市", 1),
]
AUDIENCE_NAMES = "晓雨 阿宁 小米粒 大橙子 木木 豆豆妈 阿峰 小鱼儿 安静 橘子汽水 老周 青柠 团子 阿珂 小白兔 星星".split()
COFFEE_CODES = [f"KAFEI{n:04d}" for n in range(1, 41)]


def _demo_audience(rng: random.Random, *, today: dt.date, days: int) -> str:
    """Members joining over `days` days, channel scans and partner code redemptions, and orders
    that used the coupons so had (the demo campaigns' channels and batches; skipped without them,
    or when the audience is there already). Returns what it did."""
    if Member.objects.filter(openid__startswith=AUDIENCE_OPENID).exists():
        return "audience already there, skipped"
    zone = timezone.get_current_timezone()
    joined = [_audience_member(rng, index, today - dt.timedelta(days=rng.randint(1, max(days - 1, 1))), zone)
              for index in range(AUDIENCE_MEMBERS)]
    channels = list(Channel.objects.filter(is_active=True).order_by("pk").values_list("scene", flat=True))
    gym = CodeBatch.objects.filter(origin=CodeBatch.Origin.GENERATED).order_by("pk").first()
    if not channels or gym is None:
        return f"{len(joined)} members joined; no channel codes or code batches, no scans"
    coffee = CodeBatch.objects.filter(name="咖啡馆联名").first() or code_batch_import(
        template_id=gym.template_id, name="咖啡馆联名", partner="街角咖啡", codes=COFFEE_CODES)
    free_codes = {batch.pk: list(RedeemCode.objects.filter(batch=batch, redeemed_by__isnull=True)
                                 .order_by("pk").values_list("code", flat=True)) for batch in (gym, coffee)}
    skus = list(Sku.objects.filter(is_active=True, product__is_on_shelf=True, price_fen__gte=3000)
                .order_by("pk").values_list("pk", "price_fen")[:40])
    old = list(Member.objects.filter(deleted_at__isnull=True).exclude(openid__startswith=AUDIENCE_OPENID)
               .order_by("pk"))
    scans = redeemed = orders = 0
    # Who does what, and when: a new member soon after joining, an older one on any day.
    plans = [(member, at + dt.timedelta(minutes=rng.randint(2, 90))) for member, at in joined] + [
        (member, dt.datetime.combine(today - dt.timedelta(days=rng.randint(1, days)),
                                     dt.time(rng.randint(9, 21), rng.randrange(60)), tzinfo=zone))
        for member in old]
    for member, moment in plans:
        action = rng.random()
        if action < 0.4:
            scans += 1  # a refused claim (the member's limit reached) is a scan too
            scene = rng.choice(channels)
            _demo_scan_visit(member, scene, moment)
            with demo_clock(moment), suppress(DomainError):
                scanned = channel_scan(member=member, scene=scene)
                if rng.random() < 0.5:  # shops on the spot, with the coupon the code gave
                    orders += _demo_order(member, scanned.coupon, skus, rng,
                                          moment + dt.timedelta(minutes=rng.randint(10, 60)), today=today)
        elif action < 0.75:
            batch = gym if rng.random() < 0.45 else coffee
            if not free_codes[batch.pk]:
                continue
            code = free_codes[batch.pk].pop(0)
            with demo_clock(moment), suppress(DomainError):
                coupon = code_redeem(member=member, code=code)
                redeemed += 1
                if rng.random() < 0.6:
                    orders += _demo_order(member, coupon, skus, rng,
                                          moment + dt.timedelta(hours=rng.uniform(0.2, 72)), today=today)
    return (f"{len(joined)} members joined; {scans} channel scans, {redeemed} partner codes redeemed, "
            f"{orders} orders with their coupons")


def _audience_member(rng: random.Random, index: int, day: dt.date, zone: dt.tzinfo) -> tuple[Member, dt.datetime]:
    province, city, _ = rng.choices(AUDIENCE_PLACES, [w for *_, w in AUDIENCE_PLACES])[0]
    at = dt.datetime.combine(day, dt.time(rng.randint(8, 20), rng.randrange(60)), tzinfo=zone)
    filled_in = rng.random() < 0.7  # the others said where they live by their address only
    with demo_clock(at):
        member = Member.objects.create(
            openid=f"{AUDIENCE_OPENID}{index:03d}", nickname=f"{rng.choice(AUDIENCE_NAMES)}{index:02d}",
            gender=rng.choices([Gender.FEMALE, Gender.MALE, Gender.UNKNOWN], [55, 35, 10])[0],
            birthday=dt.date(rng.randint(1972, 2005), rng.randint(1, 12), rng.randint(1, 28)),
            province=province if filled_in else "", city=city if filled_in else "")
        address_create(member=member, data={
            "receiver_name": member.nickname[:2], "phone": f"139{index:08d}", "province": province,
            "city": city, "district": "", "detail": f"人民路 {index + 1} 号"})
    return member, at


def _demo_scan_visit(member: Member, scene: str, at: dt.datetime) -> None:
    """The visit a scan is: the mini-program opened by the channel code (scene 1047, the code's
    scene in the launch query), as the phone sends it, so the day's figures go to that code."""
    events = [_event("app_launch", at, scene=1047, path="pages/coupon/scan", query={"scene": scene},
                     is_first_visit=False),
              _event("page_view", at + dt.timedelta(seconds=2), path="pages/coupon/scan", query={"scene": scene})]
    events_ingest(device_id=f"demo-scan-device-{member.pk:05d}", member_id=member.pk,
                  context={"platform": "ios", "model": "iPhone 15", "wechat_version": "8.0.54", "network": "wifi"},
                  events=events, received_at=at + dt.timedelta(seconds=5))


def _demo_order(member: Member, coupon: Coupon, skus: list[tuple[int, int]], rng: random.Random,
                at: dt.datetime, *, today: dt.date) -> int:
    """An order of one SKU the coupon's threshold allows, with the coupon, paid a few minutes
    later (1); or 0 when it would be in the future or checkout refuses it."""
    threshold = coupon.template.threshold_fen
    allowed = [sku_id for sku_id, price_fen in skus if price_fen >= threshold]
    if not allowed or timezone.localdate(at) >= today or coupon.status != CouponStatus.AVAILABLE:
        return 0
    sku_id = rng.choice(allowed)
    address = Address.objects.filter(member=member, is_default=True).first()
    with suppress(DomainError):
        with demo_clock(at):
            order, _ = order_place(member=member, data=CheckoutInput(
                items=(LineInput(sku_id, 1),), address_id=address.pk if address else None, coupon_ids=(coupon.pk,)))
        with demo_clock(at + dt.timedelta(minutes=3)):
            demo_pay(order)
        return 1
    return 0
