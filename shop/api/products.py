"""The product page: the catalog's product (catalog.api.views) with its rating summary and early access."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api.coupons import CentreEntryOutput
from campaigns.models import FullReduction
from campaigns.pricing import ReductionOffer
from campaigns.selectors.product_page import reduction_text
from catalog import selectors as catalog_selectors
from catalog.api.views import ProductOutput
from catalog.models import Product
from core.api.cache import cached_public_get
from core.api.schema import ApiError, errors
from members.api.views import optional_member
from members.models import Tier
from shop.api.orders import STAGE_CHOICES
from shop.product_offers import ProductOffers, product_offers
from shop.selectors import review_summary_of
from shop.services import browsing


class RatingSummaryOutput(serializers.Serializer):
    """The product page's 评价 header; links to /products/{id}/reviews/ (?with_photos=1 for 有图)."""

    count = serializers.IntegerField(help_text="已发布评价数")
    average = serializers.DecimalField(max_digits=2, decimal_places=1, allow_null=True,
                                       help_text="平均星级，一位小数；无评价时为 null")
    with_photos = serializers.IntegerField(help_text="有图评价数")
    positive_rate = serializers.IntegerField(allow_null=True, help_text="好评率（4–5 星）百分比")


class EarlyAccessOutput(serializers.Serializer):
    until = serializers.DateTimeField(help_text="优先购截止时间：此前仅限指定等级及以上会员购买")
    min_tier_level = serializers.IntegerField(allow_null=True, help_text="可购买的最低会员等级序号；null 表示任一享有"
                                                                        "新品优先购权益的等级")
    min_tier_name = serializers.CharField(allow_null=True, help_text="可购买的最低会员等级名称")


class ProductDetailOutput(ProductOutput):
    rating = serializers.SerializerMethodField()
    early_access = serializers.SerializerMethodField(
        help_text="新品优先购：窗口未结束时给出截止时间与等级要求（期间不满足等级的会员不能加购或下单，"
                  "返回 403 early_access_only）；无优先购或已结束为 null")

    @extend_schema_field(EarlyAccessOutput(allow_null=True))
    def get_early_access(self, obj: Product) -> dict[str, Any] | None:
        until = obj.early_access_until
        if until is None or until <= timezone.now():
            return None
        level = obj.early_access_min_tier_level
        name = None
        if level is not None:
            name = Tier.objects.filter(level=level).values_list("name", flat=True).first()
        return dict(EarlyAccessOutput({"until": until, "min_tier_level": level, "min_tier_name": name}).data)

    @extend_schema_field(RatingSummaryOutput)
    def get_rating(self, obj: Product) -> dict[str, Any]:
        return dict(RatingSummaryOutput(self.context["rating"]).data)


class ProductDetailView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @errors(ApiError(404, "product_not_found", "商品不存在或已下架"))
    @extend_schema(operation_id="products_retrieve",
                   description="商品详情（对所有人相同，可缓存）：SKU、规格、库存、评价概况、新品优先购。",
                   responses={200: ProductDetailOutput})
    @cached_public_get
    def get(self, request: Request, product_id: int) -> Response:
        product = catalog_selectors.product_detail(product_id=product_id)
        rating = review_summary_of(product)
        return Response(ProductDetailOutput(product, context={"request": request, "rating": rating}).data)


# --- the member's part of the product page ------------------------------------------------------


class OfferAdjustmentOutput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=STAGE_CHOICES,
                                    help_text="activity 秒杀价 / member 会员价 / full_reduction 满减 / coupon 优惠券")
    label = serializers.CharField()  # type: ignore[assignment]
    amount_fen = serializers.IntegerField(help_text="负数为优惠（分）")


class SkuOfferOutput(serializers.Serializer):
    sku_id = serializers.IntegerField()
    list_price_fen = serializers.IntegerField(help_text="售价（分）")
    price_fen = serializers.IntegerField(help_text="本人购买一件的价格（分）：秒杀价、会员价、满减之后，用券之前")
    final_price_fen = serializers.IntegerField(
        help_text="到手价（分）：price_fen 再减去已领的最优优惠券；与结算预览购买一件时的商品应付金额一致（不含运费）")
    flash_item_id = serializers.IntegerField(allow_null=True,
                                             help_text="以秒杀价购买时结算传入的 flash_item_id；null 表示不按秒杀价")
    member_price_label = serializers.CharField(
        help_text="会员价的说明（等级折扣、会员卡折扣、叠加或最低售价）；无会员价为空")
    coupon_id = serializers.IntegerField(allow_null=True, help_text="到手价所用的已领优惠券")
    adjustments = OfferAdjustmentOutput(many=True)


class FlashOfferOutput(serializers.Serializer):
    flash_item_id = serializers.IntegerField(source="item_id")
    session_id = serializers.IntegerField()
    session_name = serializers.CharField()
    sku_id = serializers.IntegerField()
    flash_price_fen = serializers.IntegerField()
    stock_left = serializers.IntegerField()
    per_member_limit = serializers.IntegerField()
    my_remaining = serializers.IntegerField(allow_null=True, help_text="本人还可抢购件数；未登录为 null")
    buyable = serializers.BooleanField(help_text="还有库存且本人未达限购：结算按秒杀价")
    ends_at = serializers.DateTimeField()


class FlashCountdownOutput(serializers.Serializer):
    ends_at = serializers.DateTimeField(help_text="最早结束的场次的结束时间")
    seconds_left = serializers.IntegerField(help_text="倒计时秒数（按 server_time 计算）")
    items = FlashOfferOutput(many=True)


class FullReductionOfferOutput(serializers.Serializer):
    id = serializers.IntegerField(source="activity_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=FullReduction.Kind.choices)
    text = serializers.SerializerMethodField(help_text="满199减30，满299减50 / 满2件9折")

    def get_text(self, offer: ReductionOffer) -> str:
        return reduction_text(offer)


class ProductOffersOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    server_time = serializers.DateTimeField(source="now")
    logged_in = serializers.BooleanField()
    tier_name = serializers.CharField(help_text="会员等级名称；未登录为空")
    card_active = serializers.BooleanField(help_text="持有生效中的付费会员卡（有折扣）")
    lowest_final_price_fen = serializers.IntegerField(allow_null=True,
                                                      help_text="各 SKU 到手价的最低值（“到手价 ¥x 起”）")
    skus = SkuOfferOutput(many=True)
    flash = serializers.SerializerMethodField(help_text="正在进行的秒杀（含倒计时）；没有为 null")
    full_reductions = FullReductionOfferOutput(many=True, help_text="适用于本商品、正在进行的满减 / 满折活动")
    coupons = CentreEntryOutput(many=True, help_text="领券中心里适用于本商品的券，及其对本人的状态")
    favourite_id = serializers.IntegerField(allow_null=True, help_text="本人对该商品的收藏 ID；未收藏或未登录为 null")
    group_buy = serializers.JSONField(allow_null=True, help_text="预留：拼团入口（功能上线前恒为 null）")
    bargain = serializers.JSONField(allow_null=True, help_text="预留：砍价入口（功能上线前恒为 null）")

    @extend_schema_field(FlashCountdownOutput(allow_null=True))
    def get_flash(self, offers: ProductOffers) -> dict[str, Any] | None:
        ends_at = offers.flash_ends_at
        if ends_at is None:
            return None
        seconds = max(int((ends_at - offers.now).total_seconds()), 0)
        return dict(FlashCountdownOutput({"ends_at": ends_at, "seconds_left": seconds, "items": offers.flash}).data)


class ProductOffersView(APIView):
    permission_classes = [AllowAny]

    @errors(ApiError(404, "product_not_found", "商品不存在或已下架"))
    @extend_schema(operation_id="products_offers", responses={200: ProductOffersOutput},
                   description="商品页里因人而异的部分（不缓存，与公共的商品详情分开请求）：本人购买每个 SKU 一件的价格"
                               "（秒杀价、会员价及其说明、满减、已领最优券后的到手价，与结算预览一致）、正在进行的秒杀及倒计时、"
                               "可领的券、适用的满减、是否已收藏。无需登录；未登录按游客计价。登录时记一条浏览足迹。")
    def get(self, request: Request, product_id: int) -> Response:
        member = optional_member(request)
        offers = product_offers(product_id=product_id, member=member, now=timezone.now())
        if member is not None:
            browsing.footprint_record(member=member, product_id=product_id, now=offers.now)
        return Response(ProductOffersOutput(offers).data)
