"""Sharing a product: the share card and the share poster.

    GET /api/v1/products/{product_id}/share    the card (title, image, path) and the poster's signed URL

The poster's mini-program code opens settings.DISTRIBUTION_PRODUCT_PAGE with scene
"p=<product id>&d=<distributor id>" (an active distributor) or "p=<product id>&s=<share no>"
(anyone else: a product share, reported on opening with POST shares/{share_no}/visits); the
card's path carries the same in its query (?id=<product id>&d=… / &s=…).
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import SharerKind
from campaigns.services.product_posters import ProductShare, product_share
from core.api.schema import ApiError, errors
from core.errors import UpstreamError
from members.api.views import current_member


class ProductShareCardOutput(serializers.Serializer):
    title = serializers.CharField(help_text="分享卡片标题：¥89起｜商品名")
    image_url = serializers.SerializerMethodField(help_text="分享卡片图片（商品主图，绝对地址）；没有主图为 null")
    path = serializers.CharField(help_text="分享卡片打开的页面路径，带商品与分享人参数")
    scene = serializers.CharField(help_text="海报小程序码的 scene：p=<商品ID>&d=<分销员ID>（分销员）或 "
                                            "p=<商品ID>&s=<分享编号>（其他会员，打开时上报 shares/{share_no}/visits）")
    sharer_kind = serializers.ChoiceField(source="poster.sharer_kind", choices=SharerKind.choices)
    share_no = serializers.CharField(allow_null=True, help_text="会员分享时卡片与海报携带的分享编号；分销员分享为 null")
    poster_url = serializers.SerializerMethodField(help_text="分享海报 PNG（750×1200）的签名地址，会过期，用时再取")

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image_url(self, share: ProductShare) -> str | None:
        return self._absolute(default_storage.url(share.image)) if share.image else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_poster_url(self, share: ProductShare) -> str:
        return self._absolute(share.poster.poster.url)


class ProductShareView(APIView):
    @errors(ApiError(404, "product_not_found", "商品不存在或已下架"), UpstreamError)
    @extend_schema(operation_id="products_share", responses={200: ProductShareCardOutput},
                   description="分享商品：分享卡片的标题、图片、路径，与分享海报（商品图、名称、价格、分享人、小程序码）。"
                               "海报按商品与分享人生成并保存，商品信息变化后才重新生成。")
    def get(self, request: Request, product_id: int) -> Response:
        share = product_share(member=current_member(request), product_id=product_id)
        return Response(ProductShareCardOutput(share, context={"request": request}).data)


urlpatterns: list[URLPattern] = [
    path("products/<int:product_id>/share", ProductShareView.as_view(), name="product-share"),
]
