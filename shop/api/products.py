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

from catalog import selectors as catalog_selectors
from catalog.api.views import ProductOutput
from catalog.models import Product
from core.api.cache import cached_public_get
from core.api.schema import ApiError, errors
from members.models import Tier
from shop.selectors import review_summary_of


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
    @extend_schema(operation_id="products_retrieve", responses={200: ProductDetailOutput})
    @cached_public_get
    def get(self, request: Request, product_id: int) -> Response:
        product = catalog_selectors.product_detail(product_id=product_id)
        rating = review_summary_of(product)
        return Response(ProductDetailOutput(product, context={"request": request, "rating": rating}).data)
