"""Decorated pages for the mini-program.

    GET /api/v1/pages/{key}     the page resolved in one request ("home" is the home page)

Public and cached (shop.pages): an operator's save shows at once, card prices and stock within
PAGE_CACHE_SECONDS. Blocks come in the operator's order; each has `kind` and that kind's fields.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.selectors.coupons import CENTRE_STATE_LABELS
from catalog.models import ProductTag
from core.api.schema import errors
from shop.errors import StorePageNotFound
from shop.models import BlockKind, LinkKind, ProductRule
from shop.pages import page_for_shopper


class PageLinkOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LinkKind.choices, help_text="跳转目标类型")
    product_id = serializers.IntegerField(allow_null=True, help_text="kind=product 时的商品 ID")
    category_id = serializers.IntegerField(allow_null=True, help_text="kind=category 时的分类 ID")
    value = serializers.CharField(allow_null=True, help_text="kind=page：页面标识；search：搜索词；path：小程序路径")


class PagePictureOutput(serializers.Serializer):
    title = serializers.CharField(allow_blank=True)
    image_url = serializers.URLField(allow_null=True, help_text="图片的完整 URL")
    link = PageLinkOutput()


class PageCardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    subtitle = serializers.CharField(allow_blank=True)
    image_url = serializers.URLField(allow_null=True)
    price_fen = serializers.IntegerField(help_text="当前售价（分，最低 SKU 价）")
    flash_price_fen = serializers.IntegerField(allow_null=True, help_text="正在进行的秒杀价（分）；无秒杀为 null")
    sales_count = serializers.IntegerField()
    stock_state = serializers.ChoiceField(choices=["in_stock", "low_stock", "sold_out"],
                                          help_text="in_stock 有货 / low_stock 仅剩少量 / sold_out 已售罄")
    tags = serializers.ListField(child=serializers.ChoiceField(choices=ProductTag.choices))


class PageCouponOutput(serializers.Serializer):
    template_id = serializers.IntegerField(help_text="领取：POST /api/v1/coupon-centre/{template_id}/claim")
    name = serializers.CharField()
    kind = serializers.CharField()
    benefit_text = serializers.CharField(help_text="如 减10元 / 8.5折，最高减20元 / 免运费")
    threshold_text = serializers.CharField(help_text="如 满100可用 / 无门槛")
    validity_text = serializers.CharField()
    state = serializers.ChoiceField(choices=[(s.value, label) for s, label in CENTRE_STATE_LABELS.items()])
    state_label = serializers.CharField()


class PageFlashItemOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="秒杀商品 ID（下单时的 flash_item_id）")
    product_id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = serializers.URLField(allow_null=True)
    list_price_fen = serializers.IntegerField()
    flash_price_fen = serializers.IntegerField()
    sold_percent = serializers.IntegerField(help_text="已抢百分比 0–100")


class PageFlashSessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=["upcoming", "running", "ended"],
                                    help_text="running 抢购中 / upcoming 即将开始（首页只显示这两种）")
    state_label = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    items = PageFlashItemOutput(many=True)


class PageBlockBase(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=BlockKind.choices)
    title = serializers.CharField(allow_blank=True, help_text="模块标题，可为空")


class PicturesBlockOutput(PageBlockBase):
    items = PagePictureOutput(many=True)


class NoticeBlockOutput(PageBlockBase):
    text = serializers.CharField(allow_blank=True)
    link = PageLinkOutput(allow_null=True)


class ProductsBlockOutput(PageBlockBase):
    rule = serializers.ChoiceField(choices=ProductRule.choices, help_text="选品规则")
    products = PageCardOutput(many=True)


class CouponsBlockOutput(PageBlockBase):
    coupons = PageCouponOutput(many=True, help_text="未登录时的状态；登录后以领券中心为准")


class FlashBlockOutput(PageBlockBase):
    session = PageFlashSessionOutput(allow_null=True, help_text="进行中的场次，否则今天下一场；今天没有则为 null")


BLOCK_OUTPUT = PolymorphicProxySerializer(
    component_name="PageBlock",
    resource_type_field_name="kind",
    serializers={
        BlockKind.BANNER.value: PicturesBlockOutput, BlockKind.ICON_NAV.value: PicturesBlockOutput,
        BlockKind.IMAGE_LINK.value: PicturesBlockOutput, BlockKind.NOTICE.value: NoticeBlockOutput,
        BlockKind.PRODUCTS.value: ProductsBlockOutput, BlockKind.COUPONS.value: CouponsBlockOutput,
        BlockKind.FLASH.value: FlashBlockOutput,
    },
    many=True,
)


@extend_schema_field(BLOCK_OUTPUT)
class BlocksField(serializers.ListField):
    """The resolved blocks (plain data from shop.pages), documented as one of the kinds' shapes."""


class PageOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    version = serializers.IntegerField(help_text="运营每次保存都会变化")
    changes_at = serializers.DateTimeField(allow_null=True, help_text="页面内容下一次按排期自动变化的时间")
    blocks = BlocksField(help_text="按运营排好的顺序；kind 决定其余字段")


class PageView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @errors(StorePageNotFound)
    @extend_schema(operation_id="pages_retrieve",
                   description=("装修页面（如 home 首页）：按排期解析后的全部模块，一次请求返回；商"
                                "品卡片带当前价格、秒杀价与库存状态。运营保存后立即生效；未启用或不存在的"
                                "页面返回 404 page_not_found。"),
                   responses={200: PageOutput})
    def get(self, request: Request, key: str) -> Response:
        origin = f"{request.scheme}://{request.get_host()}"
        page = page_for_shopper(key=key, now=timezone.now(), origin=origin, absolute=request.build_absolute_uri)
        return Response(page)


urlpatterns: list[URLPattern] = [
    path("pages/<slug:key>", PageView.as_view(), name="page"),
]
