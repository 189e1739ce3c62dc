"""Demo promotions and loyalty set-up, so the console and the API show campaigns from the first run.

Coupon templates of every kind (one for new members, one for 支付有礼, one per tier…), the gift
rules, two 满减 activities, today's and tomorrow's flash sessions with items, a partner code batch,
a channel, member tags and two segments, and the card plans on sale. Created once: the stage is
skipped when any coupon template exists, so it never mixes into an operator's own campaigns.
Everything goes through the campaign and member services, as an operator's clicks would.

积分商城 is a stage of its own (load_points_mall_demo, skipped when any item exists): a coupon and two
gifts, exchanged by the members with the most points (who earned them with the demo's orders).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Channel,
    ChannelKind,
    CouponKind,
    CouponTemplate,
    FlashItem,
    FlashSession,
    FullReduction,
    FullReductionStep,
    GiftRule,
    PointsMallItem,
    PointsMallItemKind,
    Scope,
    Validity,
)
from campaigns.services.claims import coupon_claim
from campaigns.services.codes import code_batch_generate
from campaigns.services.flash import flash_sessions_create_for_day
from campaigns.services.points_mall import (
    PointsMallItemInput,
    points_exchange_ship,
    points_mall_exchange,
    points_mall_item_save,
)
from catalog.models import Category, Sku
from core.errors import DomainError
from members.models import Member, Segment, Tier
from members.models.cards import CardPlan
from members.services.segments import segment_evaluate, tag_add, tag_get_or_create

FLASH_ITEMS_PER_SESSION = 3


def load_campaign_demo(*, members: list[Member]) -> str:
    """Create the demo campaigns unless any coupon template exists. Returns what happened."""
    if CouponTemplate.objects.exists():
        return "skipped (coupon templates exist)"
    with transaction.atomic():
        templates = _coupon_templates()
        _gift_rules(templates)
        _full_reductions()
        _tags_and_segments(members)
        CardPlan.objects.filter(name__in=["月卡", "年卡"]).update(is_active=True)
        Channel.objects.create(name="门店收银台", kind=ChannelKind.CASHIER, template=templates["center"],
                               scene="ch=cashier01")
        Channel.objects.create(name="快递包裹卡片", kind=ChannelKind.PACKAGE, template=templates["no_threshold"],
                               scene="ch=package01")
    # Each of these is its own use case with its own transaction.
    code_batch_generate(template_id=templates["no_threshold"].pk, name="健身房异业合作", partner="乐动健身",
                        quantity=50)
    today = timezone.localdate()
    for day in (today, today + dt.timedelta(days=1)):
        flash_sessions_create_for_day(day=day)
    _flash_items()
    for member in members[:4]:
        coupon_claim(member=member, template_id=templates["center"].pk)
    return "created"


def _coupon_templates() -> dict[str, CouponTemplate]:
    baby = Category.objects.filter(parent__isnull=True, name__contains="母婴").first()
    rows = {
        "new_member": dict(name="新人专享 满59减10", kind=CouponKind.FULL_REDUCTION, threshold_fen=5900,
                           amount_fen=1000, new_customer_only=True, show_in_center=False, valid_days=7),
        "center": dict(name="全场满199减20", kind=CouponKind.FULL_REDUCTION, threshold_fen=19900, amount_fen=2000,
                       total_quantity=500, valid_days=7, budget_fen=500 * 2000),
        "discount": dict(name="母婴 8.8折券 最高减30", kind=CouponKind.DISCOUNT, pay_percent=88,
                         max_discount_fen=3000, threshold_fen=0, valid_days=15,
                         scope=Scope.CATEGORIES if baby else Scope.ALL),
        "no_threshold": dict(name="无门槛 5元", kind=CouponKind.NO_THRESHOLD, amount_fen=500, total_quantity=1000,
                             show_in_center=False, valid_days=30),
        "freight": dict(name="包邮券", kind=CouponKind.FREIGHT, amount_fen=0, per_member_limit=2, valid_days=30),
        "gold": dict(name="黄金会员日 满299减50", kind=CouponKind.FULL_REDUCTION, threshold_fen=29900,
                     amount_fen=5000, per_member_limit=1, valid_days=7),
        "birthday": dict(name="生日礼券 满100减30", kind=CouponKind.FULL_REDUCTION, threshold_fen=10000,
                         amount_fen=3000, per_member_limit=100, show_in_center=False, valid_days=30),
    }
    templates = {key: CouponTemplate.objects.create(validity=Validity.RELATIVE, **fields)
                 for key, fields in rows.items()}
    if baby:
        templates["discount"].categories.set([baby])
    templates["gold"].tiers.set(Tier.objects.filter(level__gte=2))
    return templates


def _gift_rules(templates: dict[str, CouponTemplate]) -> None:
    GiftRule.objects.create(name="新人礼", trigger=GiftRule.Trigger.NEW_MEMBER, template=templates["new_member"])
    GiftRule.objects.create(name="支付满99送5元", trigger=GiftRule.Trigger.PAID_ORDER, min_paid_fen=9900,
                            template=templates["no_threshold"])
    GiftRule.objects.create(name="生日礼", trigger=GiftRule.Trigger.BIRTHDAY, template=templates["birthday"])


def _full_reductions() -> None:
    now = timezone.now()
    ladder = FullReduction.objects.create(name="店庆 满199减20 / 满299减40", starts_at=now - dt.timedelta(hours=1),
                                          ends_at=now + dt.timedelta(days=30))
    FullReductionStep.objects.create(activity=ladder, threshold_fen=19900, discount_fen=2000)
    FullReductionStep.objects.create(activity=ladder, threshold_fen=29900, discount_fen=4000)
    snacks = Category.objects.filter(parent__isnull=True, name__contains="零食").first()
    if snacks:
        pieces = FullReduction.objects.create(name="零食 满2件9折", kind=FullReduction.Kind.QUANTITY,
                                              scope=Scope.CATEGORIES, starts_at=now - dt.timedelta(hours=1),
                                              ends_at=now + dt.timedelta(days=14))
        pieces.categories.set([snacks])
        FullReductionStep.objects.create(activity=pieces, threshold_count=2, pay_percent=90)


def _flash_items() -> None:
    """Three SKUs per session at 70 % of the price (never below cost), 20 units, one per member."""
    skus = list(Sku.objects.filter(is_active=True, product__is_on_shelf=True, stock__available__gte=30)
                .order_by("-price_fen")[: FLASH_ITEMS_PER_SESSION * 2])
    for n, session in enumerate(FlashSession.objects.order_by("starts_at")):
        for sku in skus[(n % 2) * FLASH_ITEMS_PER_SESSION:][:FLASH_ITEMS_PER_SESSION]:
            price = max(sku.cost_fen, sku.price_fen * 70 // 100 // 10 * 10)
            FlashItem.objects.get_or_create(session=session, sku=sku, defaults={
                "flash_price_fen": price, "stock_total": 20, "stock_left": 20, "per_member_limit": 1})


def _tags_and_segments(members: list[Member]) -> None:
    mums = tag_get_or_create(name="宝妈")
    bakers = tag_get_or_create(name="烘焙爱好者")
    tag_add(tag=mums, member_ids=[m.pk for m in members[0:8:3]], operator=None)
    tag_add(tag=bakers, member_ids=[m.pk for m in members[2:4]], operator=None)
    segment_ids: list[int] = []
    for name, rules in (
        ("黄金及以上·90天未下单·本月生日", {"all": [{"type": "tier", "min_level": 2},
                                                  {"type": "last_order", "min_days": 90},
                                                  {"type": "birthday_month", "this_month": True}]}),
        ("宝妈", {"all": [{"type": "tag", "tag_ids": [mums.pk]}]}),
        ("沉睡客户（60天未下单）", {"all": [{"type": "last_order", "min_days": 60}]}),
    ):
        segment_ids.append(Segment.objects.create(name=name, rules=rules).pk)
    transaction.on_commit(lambda: _segments_evaluate(segment_ids))


def _segments_evaluate(segment_ids: list[int]) -> None:
    for segment_id in segment_ids:
        segment_evaluate(segment_id=segment_id)


def load_points_mall_demo(*, members: list[Member]) -> str:
    """积分商城: a coupon and two gifts, and exchanges by the members with the most points (one gift
    shipped, one awaiting shipment), unless any item exists."""
    if PointsMallItem.objects.exists():
        return "skipped (points mall items exist)"
    coupon = CouponTemplate.objects.filter(name="无门槛 5元").first()
    items = []
    if coupon is not None:
        items.append(points_mall_item_save(data=PointsMallItemInput(
            name="5 元无门槛券", kind=PointsMallItemKind.COUPON, points_price=100, stock_total=200,
            coupon_template_id=coupon.pk, per_member_limit=2, sort=1)))
    for sort, (name, price, stock) in enumerate((("帆布购物袋", 150, 50), ("保温杯 350ml", 600, 20)), start=2):
        items.append(points_mall_item_save(data=PointsMallItemInput(
            name=name, kind=PointsMallItemKind.GIFT, points_price=price, stock_total=stock, sort=sort,
            description="积分兑换，包邮到家")))
    richest = list(Member.objects.filter(pk__in=[m.pk for m in members], addresses__isnull=False)
                   .distinct().order_by("-points_balance", "id")[:3])
    gifts = [item for item in items if item.kind == PointsMallItemKind.GIFT]
    for n, member in enumerate(richest):
        for item in (items[0], gifts[n % len(gifts)]):
            try:
                exchange, _ = points_mall_exchange(member=member, item_id=item.pk,
                                                   idempotency_key=f"demo-exchange-{member.pk}-{item.pk}")
            except DomainError:
                continue  # not enough points: the member exchanges nothing
            if n == 0 and item.kind == PointsMallItemKind.GIFT:
                points_exchange_ship(exchange_id=exchange.pk, tracking_no="YT800100200300")
    return "created"
