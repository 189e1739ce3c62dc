"""Load the demo mall: catalogue, freight template, members and orders in every state.

Deterministic (one seeded Random) and idempotent, stage by stage:
- the catalogue is created only when there are no products at all (never mixed into a real one);
- members have stable openids (`demo_openid_NN`) and are created once;
- orders are placed through the shop services with stable idempotency keys, so a re-run
  replays instead of duplicating, and then moved on through the same services: payment via
  `payment_record_paid()` with a notice as WeChat would send it, shipping, receipt, cancel.

History needs past timestamps, and the services stamp `timezone.now()` (order numbers carry the
date too). So each historical step runs under `demo_clock(at)`, which moves Django's clock for
the loader's own single-threaded process only; the money, stock and audit rows are exactly what
the services write.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from campaigns.models import GroupBuy, GroupBuyActivity
from campaigns.services.activities import GroupBuyItemInput, groupbuy_item_save
from catalog.models import Category, FreightRule, FreightTemplate, Product, ProductImage, Sku, Stock, StockMovement
from catalog.services import product_refresh_denormalised, stock_adjust, stock_ensure_row
from core.audit import Actor
from core.jobs import jobs_not_queued
from members.models import Address, Gender, Member
from members.services import address_create
from shop.demo.aftersales import load_after_sales_demo
from shop.demo.browsing import load_browsing_demo
from shop.demo.campaigns import load_campaign_demo, load_points_mall_demo
from shop.demo.catalog import CATALOG, DemoProduct, DemoTopCategory
from shop.demo.history import demo_clock, demo_pay
from shop.demo.images import category_icon, product_image
from shop.demo.social import load_social_demo
from shop.demo.storefront import load_home_page_demo, load_search_demo
from shop.errors import IdempotencyKeyReused
from shop.models import Order, OrderStatus, ShippingInfoUpload, ShippingUploadState
from shop.services.orders import (
    CheckoutInput,
    GroupChoice,
    LineInput,
    order_cancel,
    order_confirm_receipt,
    order_place,
    order_ship,
)

SEED = 20250618
SKU_PREFIX = "DEMO-"
OPENID_PREFIX = "demo_openid_"


@dataclass
class DemoReport:
    catalogue: str = "skipped"
    categories: int = 0
    products: int = 0
    skus: int = 0
    images: int = 0
    members_created: int = 0
    orders: Counter[str] = field(default_factory=Counter)
    orders_replayed: int = 0
    campaigns: str = "skipped"
    after_sales: str = "skipped"
    points_mall: str = "skipped"
    group_buys: str = "skipped"
    social: str = "skipped"
    search: str = "skipped"
    home_page: str = "skipped"

    def lines(self) -> list[str]:
        out = [f"catalogue: {self.catalogue}"]
        if self.catalogue == "created":
            out.append(f"  {self.categories} categories, {self.products} products, {self.skus} SKUs, "
                       f"{self.images} pictures")
        out.append(f"members created: {self.members_created}")
        if self.orders:
            out.append("orders: " + ", ".join(f"{k} {v}" for k, v in sorted(self.orders.items())))
        if self.orders_replayed:
            out.append(f"orders already there (replayed, not duplicated): {self.orders_replayed}")
        out.append(f"campaigns (coupons, 满减, flash sales, segments): {self.campaigns}")
        out.append(f"after-sales, refunds, reviews, role operators: {self.after_sales}")
        out.append(f"points mall items and exchanges: {self.points_mall}")
        out.append(f"group buys (拼团): {self.group_buys}")
        out.append(f"bargains, shares and invitations: {self.social}")
        out.append(f"search (synonyms, hot words, index): {self.search}")
        out.append(f"decorated home page: {self.home_page}")
        return out


def yuan_to_fen(value: str) -> int:
    return int(Decimal(value) * 100)


# ---------------------------------------------------------------- catalogue


def _freight_template() -> FreightTemplate:
    template = FreightTemplate.objects.filter(is_default=True).first()
    if template is not None:
        return template
    template = FreightTemplate.objects.create(name="默认运费（满99包邮）", is_default=True,
                                              free_threshold_fen=9900)
    FreightRule.objects.create(template=template, provinces=[], first_count=1, first_fee_fen=1000,
                               extra_count=1, extra_fee_fen=500)
    FreightRule.objects.create(template=template,
                               provinces=["新疆维吾尔自治区", "西藏自治区", "新疆", "西藏"],
                               first_count=1, first_fee_fen=2000, extra_count=1, extra_fee_fen=1000)
    return template


def _save_image(field_file: FieldFile, name: str, content: bytes) -> None:
    # Stable names: a re-load after a database reset overwrites instead of piling up copies.
    path = field_file.field.generate_filename(field_file.instance, name)
    if default_storage.exists(path):
        default_storage.delete(path)
    field_file.save(name, ContentFile(content), save=False)


def _sku_rows(product: DemoProduct) -> list[tuple[dict[str, str], int]]:
    """(specs, price_fen) for every combination of the product's spec values."""
    names = [name for name, _ in product.specs]
    first_values = product.specs[0][1]
    rows = []
    for combo in itertools.product(*(values for _, values in product.specs)):
        index = first_values.index(combo[0])
        price = product.prices if isinstance(product.prices, str) else product.prices[index]
        rows.append((dict(zip(names, combo, strict=True)), yuan_to_fen(price)))
    return rows


def _load_catalogue(rng: random.Random, report: DemoReport) -> None:
    _freight_template()
    sort = 0
    for top_index, top in enumerate(CATALOG):
        parent = Category(name=top.name, sort=top_index * 10)
        _save_image(parent.icon, f"demo-{top.key.lower()}.jpg",
                    category_icon(seed=top_index, shape=top.shape, palette=top.palette))
        parent.save()
        report.categories += 1
        for child_index, child in enumerate(top.children):
            category = Category(parent=parent, name=child.name, sort=child_index)
            _save_image(category.icon, f"demo-{top.key.lower()}-{child.key.lower()}.jpg",
                        category_icon(seed=top_index * 100 + child_index, shape=top.shape,
                                      palette=top.palette))
            category.save()
            report.categories += 1
            for demo in child.products:
                sort += 1
                _load_product(rng, report, top, category, demo, sort)


def _description(top: DemoTopCategory, demo: DemoProduct) -> str:
    points = "\n".join(f"· {point}" for point in demo.highlights)
    return (f"{demo.name}\n{demo.subtitle}\n\n【产品亮点】\n{points}\n\n【购买须知】\n{top.note}\n"
            "现货商品下单后48小时内发货，默认中通/顺丰随机发出；全场满99元包邮（新疆、西藏除外）。")


def _load_product(rng: random.Random, report: DemoReport, top: DemoTopCategory, category: Category,
                  demo: DemoProduct, sort: int) -> None:
    code_base = f"{SKU_PREFIX}{top.key}-{demo.key}"
    seed = rng.randrange(1_000_000)
    tags = list(demo.tags)
    if not tags and rng.random() < 0.15:
        tags = ["recommended"]
    product = Product(category=category, name=demo.name, subtitle=demo.subtitle,
                      description=_description(top, demo), tags=tags, is_on_shelf=demo.on_shelf,
                      sort=sort)
    _save_image(product.main_image, f"{code_base.lower()}-main.jpg",
                product_image(seed=seed, shape=top.shape, palette=top.palette, label=demo.name))
    product.save()
    for variant in (1, 2):
        image = ProductImage(product=product, sort=variant)
        _save_image(image.image, f"{code_base.lower()}-{variant}.jpg",
                    product_image(seed=seed, shape=top.shape, palette=top.palette, variant=variant))
        image.save()
    report.images += 3
    has_strike_price = rng.random() < 0.6
    for index, (specs, price_fen) in enumerate(_sku_rows(demo), start=1):
        original = (-(-price_fen * 6 // 5 // 100)) * 100 if has_strike_price else 0  # ≈ +20%, whole yuan
        sku = Sku.objects.create(
            product=product, code=f"{code_base}-{index:02d}", specs=specs, price_fen=price_fen,
            original_price_fen=original, cost_fen=round(price_fen * rng.uniform(0.55, 0.70)),
            weight_g=rng.choice([150, 250, 400, 600, 800, 1200]),
        )
        roll = rng.random()
        units = 0 if roll < 0.03 else rng.randint(2, 5) if roll < 0.1 else rng.randint(30, 600)
        if units:
            stock_adjust(sku=sku, delta=units, reason=StockMovement.Reason.INITIAL, note="演示数据初始库存")
        else:
            stock_ensure_row(sku=sku)  # sold out: shows as 售罄
        report.skus += 1
    product_refresh_denormalised(product_id=product.pk)
    # Sales before this system existed (the services add every paid order on top; the nightly
    # counters reconcile keeps the base).
    base_sales = rng.randint(800, 6000) if "hot" in tags else rng.randint(0, 600)
    Product.objects.filter(pk=product.pk).update(sales_base=base_sales, sales_count=base_sales)
    report.products += 1


# ---------------------------------------------------------------- members

# nickname, gender, birthday, phone, addresses (receiver, province, city, district, detail)
MEMBERS: tuple[tuple[str, str, str, str, tuple[tuple[str, str, str, str, str], ...]], ...] = (
    ("小鹿妈妈", Gender.FEMALE, "1992-03-18", "13816620001", (
        ("林晓", "上海市", "上海市", "浦东新区", "张杨路1588弄8号1202室"),
        ("林晓", "上海市", "上海市", "徐汇区", "漕溪北路398号汇智大厦15楼（公司）"),
    )),
    ("阿杰", Gender.MALE, "1990-11-02", "13922880002", (
        ("陈杰", "广东省", "深圳市", "南山区", "科技园南区高新南七道18号"),
    )),
    ("糖糖爱烘焙", Gender.FEMALE, "1996-07-09", "15088120003", (
        ("王甜", "浙江省", "杭州市", "西湖区", "文三路259号昌地火炬大厦1号楼"),
    )),
    ("北京大叔", Gender.MALE, "1981-05-23", "13601100004", (
        ("刘建国", "北京市", "北京市", "朝阳区", "望京西园三区311号楼2单元502"),
    )),
    ("成都小吃货", Gender.FEMALE, "1999-12-24", "18280060005", (
        ("张蓉", "四川省", "成都市", "武侯区", "天府大道北段1700号环球中心W5"),
        ("张蓉", "四川省", "成都市", "锦江区", "春熙路步行街88号"),
    )),
    ("南京的风", Gender.UNKNOWN, "", "13770910006", (
        ("赵宁", "江苏省", "南京市", "鼓楼区", "中山北路30号城市名人酒店旁"),
    )),
    ("二宝妈", Gender.FEMALE, "1988-09-15", "13971270007", (
        ("黄丽", "湖北省", "武汉市", "洪山区", "光谷大道77号金融港B3栋"),
    )),
    ("天山雪莲", Gender.FEMALE, "1994-02-28", "13999160008", (
        ("古丽", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", "解放北路82号"),
    )),
    ("咖啡不加糖", Gender.MALE, "1993-08-01", "17717800009", (
        ("周墨", "上海市", "上海市", "静安区", "南京西路1266号恒隆广场"),
    )),
    ("慢慢来", Gender.UNKNOWN, "", "", ()),  # registered, never bought
)


def _load_members(report: DemoReport) -> list[Member]:
    members = []
    now = timezone.now()
    for index, (nickname, gender, birthday, phone, addresses) in enumerate(MEMBERS, start=1):
        openid = f"{OPENID_PREFIX}{index:02d}"
        member = Member.objects.filter(openid=openid).first()
        if member is None:
            with demo_clock(now - dt.timedelta(days=120 - index * 6, hours=index)):
                member = Member.objects.create(
                    openid=openid, nickname=nickname, gender=gender,
                    birthday=dt.date.fromisoformat(birthday) if birthday else None,
                    province=addresses[0][1] if addresses else "", city=addresses[0][2] if addresses else "",
                    phone=phone,
                )
            report.members_created += 1
        if addresses and not Address.objects.filter(member=member).exists():
            for receiver, province, city, district, detail in addresses:
                address_create(member=member, data={
                    "receiver_name": receiver, "phone": phone, "province": province, "city": city,
                    "district": district, "detail": detail,
                })
        members.append(member)
    return members


# ---------------------------------------------------------------- orders

# How many orders of each final state, and how long ago (days) such orders were placed.
ORDER_PLAN: tuple[tuple[str, int, tuple[float, float]], ...] = (
    (OrderStatus.RECEIVED, 14, (12, 45)),
    (OrderStatus.SHIPPED, 6, (2, 6)),
    (OrderStatus.PAID, 6, (0.05, 2)),
    (OrderStatus.CANCELLED, 6, (1, 40)),
    (OrderStatus.PENDING_PAYMENT, 4, (0.001, 0.006)),  # minutes ago: still payable
)
CARRIERS = (("顺丰速运", "SF"), ("中通快递", "ZT"), ("圆通速递", "YT"), ("韵达快递", "YD"))
REMARKS = ("", "", "", "请用顺丰发货，谢谢", "送人的，不要放价格单", "工作日白天送到公司", "尽快发货哦")
CANCEL_REASONS = (("不想要了", Actor.MEMBER), ("地址填错了，重新下单", Actor.MEMBER),
                  ("超时未支付，系统自动取消", Actor.SYSTEM))


def _load_orders(rng: random.Random, members: list[Member], report: DemoReport) -> None:
    buyers = [m for m in members if Address.objects.filter(member=m).exists()]
    # Chosen from the initial stock, not the current one, so a re-run draws the same baskets.
    sellable = list(
        Sku.objects.filter(code__startswith=SKU_PREFIX, is_active=True, product__is_on_shelf=True,
                           movements__reason=StockMovement.Reason.INITIAL, movements__delta__gte=20)
        .order_by("id").values_list("id", flat=True).distinct()
    )
    if not buyers or not sellable:
        return
    now = timezone.now()
    plan = [(status, window) for status, count, window in ORDER_PLAN for _ in range(count)]
    for number, (status, (lo, hi)) in enumerate(plan, start=1):
        member = rng.choice(buyers)
        address = rng.choice(list(Address.objects.filter(member=member).order_by("id")))
        skus = rng.sample(sellable, k=rng.choice([1, 1, 1, 2, 2, 3]))
        items = tuple(LineInput(sku_id=sku_id, quantity=rng.choice([1, 1, 1, 2])) for sku_id in sorted(skus))
        placed_at = now - dt.timedelta(days=rng.uniform(lo, hi))
        if hi > 1:  # shoppers buy in the daytime and evening
            placed_at = placed_at.replace(hour=rng.randint(8, 22))
        pay_after = dt.timedelta(minutes=rng.uniform(1, 12))
        ship_after = dt.timedelta(hours=rng.uniform(3, 30))
        receive_after = dt.timedelta(days=rng.uniform(2, 6))
        carrier, prefix = rng.choice(CARRIERS)
        tracking_no = f"{prefix}{rng.randrange(10**11, 10**12)}"
        cancel_reason, cancel_actor = rng.choice(CANCEL_REASONS)
        cancel_after = dt.timedelta(minutes=30 if cancel_actor == Actor.SYSTEM else rng.uniform(2, 20))
        story: dict[str, dt.timedelta] = {
            OrderStatus.PENDING_PAYMENT: dt.timedelta(0),
            OrderStatus.CANCELLED: cancel_after,
            OrderStatus.PAID: pay_after,
            OrderStatus.SHIPPED: pay_after + ship_after,
            OrderStatus.RECEIVED: pay_after + ship_after + receive_after,
        }
        last_step = story[status]
        # Nothing may happen in the future: pull the whole story back if it would.
        placed_at = min(placed_at, now - last_step - dt.timedelta(minutes=2))
        data = CheckoutInput(items=items, address_id=address.pk, remark=rng.choice(REMARKS))
        try:
            with demo_clock(placed_at):
                order, replayed = order_place(member=member, data=data,
                                              idempotency_key=f"demo-order-{number:03d}")
        except IdempotencyKeyReused:
            return  # the demo data was edited since: leave the orders as they are
        if replayed:
            report.orders_replayed += 1
            continue
        report.orders[status] += 1
        if status == OrderStatus.CANCELLED:
            with demo_clock(placed_at + cancel_after):
                order_cancel(order=order, reason=cancel_reason, actor=cancel_actor)
            continue
        if status == OrderStatus.PENDING_PAYMENT:
            continue
        with demo_clock(placed_at + pay_after):
            demo_pay(order)
        if status == OrderStatus.PAID:
            continue
        # History: the shipping info was uploaded to WeChat back then. Record it so, and queue
        # no upload job, which would only find the upload done and say "skipped".
        with demo_clock(placed_at + pay_after + ship_after), jobs_not_queued():
            order_ship(order=order, carrier=carrier, tracking_no=tracking_no)
            ShippingInfoUpload.objects.filter(order=order).update(
                state=ShippingUploadState.UPLOADED, uploaded_at=timezone.now(), next_attempt_at=None)
        if status == OrderStatus.SHIPPED:
            continue
        with demo_clock(placed_at + pay_after + ship_after + receive_after):
            order_confirm_receipt(order=order, actor=Actor.MEMBER)


# ---------------------------------------------------------------- 拼团


def _load_group_buys(members: list[Member]) -> str:
    """A running 3-person activity with two SKUs, a group that needs one more person (leader and a
    friend paid), a group just opened, and one that succeeded — opened, joined and paid through the
    services as shoppers would. Skipped when any group-buy activity exists."""
    if GroupBuyActivity.objects.exists():
        return "skipped (group-buy activities exist)"
    buyers = [m for m in members if Address.objects.filter(member=m).exists()]
    skus = list(Sku.objects.filter(code__startswith=SKU_PREFIX, is_active=True, product__is_on_shelf=True,
                                   stock__available__gte=30).order_by("price_fen", "id")[:2])
    if len(buyers) < 6 or not skus:
        return "skipped (no demo buyers or SKUs)"
    now = timezone.now()
    activity = GroupBuyActivity.objects.create(
        name="好友拼团 3人成团", starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=14),
        group_size=3, open_hours=24, per_member_limit=2, simulate_percent=67)
    items = [groupbuy_item_save(activity_id=activity.pk, data=GroupBuyItemInput(
        sku_id=sku.pk, group_price_fen=max(sku.cost_fen, sku.price_fen * 80 // 100 // 10 * 10),
        leader_price_fen=max(sku.cost_fen, sku.price_fen * 75 // 100 // 10 * 10), stock_total=100, sort=n))
        for n, sku in enumerate(skus)]
    plan = [(items[0], buyers[0:2]), (items[-1], buyers[2:3]), (items[0], buyers[3:6])]
    for n, (item, group_members) in enumerate(plan, start=1):
        group_id = None
        for k, member in enumerate(group_members):
            data = CheckoutInput(items=(LineInput(sku_id=item.sku_id, quantity=1),),
                                 group=GroupChoice(item_id=item.pk, group_id=group_id))
            order, _ = order_place(member=member, data=data, idempotency_key=f"demo-group-{n}-{k}")
            demo_pay(order)
            if group_id is None:
                group_id = GroupBuy.objects.get(group_no=order.order_no).pk
    return "created"


# ---------------------------------------------------------------- entry point


def load_demo_data(*, log: Callable[[str], None] = lambda line: None) -> DemoReport:
    """Load whatever part of the demo is missing. Safe to run any number of times."""
    rng = random.Random(SEED)
    report = DemoReport()
    if Product.objects.exists():
        report.catalogue = "skipped (products exist)"
    else:
        log("creating the demo catalogue and its pictures…")
        with transaction.atomic():
            _load_catalogue(rng, report)
        report.catalogue = "created"
    members = _load_members(report)
    has_demo_catalogue = Sku.objects.filter(code__startswith=SKU_PREFIX).exists()
    has_other_orders = Order.objects.exclude(member__openid__startswith=OPENID_PREFIX).exists()
    if has_demo_catalogue and not has_other_orders:
        order_rng = random.Random(SEED + 1)  # independent of the catalogue's draws
        _load_orders(order_rng, members, report)
    if has_demo_catalogue:
        report.campaigns = load_campaign_demo(members=members)
        load_browsing_demo(members=members)
    if has_demo_catalogue and not has_other_orders:
        report.after_sales = load_after_sales_demo(members=members)
        report.points_mall = load_points_mall_demo(members=members)
    report.search = load_search_demo()
    if has_demo_catalogue:
        report.group_buys = _load_group_buys(members)
        report.social = load_social_demo(members=members)
        report.home_page = load_home_page_demo()
    return report


def demo_stock_consistent() -> bool:
    """Every demo SKU's stock equals the sum of its movements (used by the tests)."""
    for stock in Stock.objects.filter(sku__code__startswith=SKU_PREFIX):
        total = sum(StockMovement.objects.filter(sku_id=stock.sku_id).values_list("delta", flat=True))
        if total != stock.available:
            return False
    return True
