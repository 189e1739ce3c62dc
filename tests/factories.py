"""factory_boy factories for the domain models, typed: `SkuFactory.create(...)` is a Sku. Stock goes
through the stock service."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.models import (
    BargainActivity,
    CouponKind,
    CouponTemplate,
    FlashItem,
    FlashSession,
    GroupBuyActivity,
    GroupBuyItem,
    Validity,
)
from catalog.models import Category, FreightRule, FreightTemplate, Product, Sku, StockMovement
from catalog.services import product_refresh_denormalised, stock_adjust, stock_ensure_row
from members.models import Address, Member


class MemberFactory(DjangoModelFactory[Member]):
    class Meta:
        model = Member

    openid = factory.Sequence(lambda n: f"o-test-openid-{n:06d}")
    nickname = factory.Sequence(lambda n: f"测试会员{n}")


class AddressFactory(DjangoModelFactory[Address]):
    class Meta:
        model = Address

    member = factory.SubFactory(MemberFactory)
    receiver_name = "张三"
    phone = "13800138000"
    province = "浙江省"
    city = "杭州市"
    district = "西湖区"
    detail = "文三路 100 号"
    is_default = True


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"测试商品{n}")
    is_on_shelf = True


class SkuFactory(DjangoModelFactory[Sku]):
    class Meta:
        model = Sku
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"SKU{n:06d}")
    specs = factory.LazyFunction(lambda: {"颜色": "红", "尺码": "M"})
    price_fen = 9900
    cost_fen = 5000

    @factory.post_generation
    def stock(obj: Sku, create: bool, extracted: int | None, **kwargs: Any) -> None:
        """SkuFactory.create(stock=n): the SKU's stock row, with n units in through the stock service."""
        if not create:
            return
        stock_ensure_row(sku=obj)
        if extracted:
            stock_adjust(sku=obj, delta=extracted, reason=StockMovement.Reason.INITIAL)
        product_refresh_denormalised(product_id=obj.product_id)


def default_freight(*, first_fee_fen: int = 1000, extra_fee_fen: int = 500,
                    free_threshold_fen: int | None = 9900) -> FreightTemplate:
    """全国 first piece ¥10 + ¥5 per extra piece, free from ¥99; 新疆/西藏 ¥20 + ¥10."""
    template = FreightTemplate.objects.create(name="默认运费", is_default=True,
                                              free_threshold_fen=free_threshold_fen)
    FreightRule.objects.create(template=template, provinces=[], first_count=1, first_fee_fen=first_fee_fen,
                               extra_count=1, extra_fee_fen=extra_fee_fen)
    FreightRule.objects.create(template=template, provinces=["新疆维吾尔自治区", "西藏自治区"], first_count=1,
                               first_fee_fen=2000, extra_count=1, extra_fee_fen=1000)
    return template


class CouponTemplateFactory(DjangoModelFactory[CouponTemplate]):
    """满 100 减 10, whole store, 7 days from claim, 1 per member, unlimited quantity."""

    class Meta:
        model = CouponTemplate
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"测试券{n}")
    kind = CouponKind.FULL_REDUCTION
    threshold_fen = 10000
    amount_fen = 1000
    validity = Validity.RELATIVE
    valid_days = 7


class FlashSessionFactory(DjangoModelFactory[FlashSession]):
    """A flash-sale session running now (started an hour ago, ends in an hour), no budget."""

    class Meta:
        model = FlashSession

    name = factory.Sequence(lambda n: f"测试秒杀场{n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(hours=2))
    unpaid_timeout_minutes = 15


class FlashItemFactory(DjangoModelFactory[FlashItem]):
    """20 units of a SKU at ¥49.00, one per member, in a running session."""

    class Meta:
        model = FlashItem

    session = factory.SubFactory(FlashSessionFactory)
    sku = factory.SubFactory(SkuFactory)
    flash_price_fen = 4900
    stock_total = 20
    stock_left = factory.LazyAttribute(lambda o: o.stock_total)
    per_member_limit = 1


class GroupBuyActivityFactory(DjangoModelFactory[GroupBuyActivity]):
    """A 拼团 activity running now (started an hour ago, for a week): groups of 3, open 24 h."""

    class Meta:
        model = GroupBuyActivity

    name = factory.Sequence(lambda n: f"测试拼团{n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(days=7))
    group_size = 3
    open_hours = 24
    per_member_limit = 1


class GroupBuyItemFactory(DjangoModelFactory[GroupBuyItem]):
    """50 units of a SKU at a group price of ¥59.00 (no leader price), in a running activity."""

    class Meta:
        model = GroupBuyItem

    activity = factory.SubFactory(GroupBuyActivityFactory)
    sku = factory.SubFactory(SkuFactory)
    group_price_fen = 5900
    stock_total = 50
    stock_left = factory.LazyAttribute(lambda o: o.stock_total)


class BargainActivityFactory(DjangoModelFactory[BargainActivity]):
    """砍价 running now (started an hour ago, ends in a week): ¥99.00 → ¥9.90 with 5 helpers in
    24 hours, 3 helps per helper, 20 units, buying only at the floor."""

    class Meta:
        model = BargainActivity

    name = factory.Sequence(lambda n: f"测试砍价{n}")
    sku = factory.SubFactory(SkuFactory, price_fen=12900, stock=100)
    start_price_fen = 9900
    floor_price_fen = 990
    helpers_needed = 5
    hours_to_finish = 24
    helps_per_helper = 3
    buy_before_floor = False
    stock_total = 20
    stock_left = factory.LazyAttribute(lambda o: o.stock_total)
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(days=7))
