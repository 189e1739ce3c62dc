"""Favourites (收藏), footprints (浏览足迹) and buying an order again (再次购买).

    GET    /api/v1/me/favourites/                  the member's favourites, newest first
    POST   /api/v1/me/favourites/                  {product_id} → 201 (200 when already saved)
    DELETE /api/v1/me/favourites/{favourite_id}
    GET    /api/v1/me/footprints/                  products the member opened, most recent first
    DELETE /api/v1/me/footprints/                  clear them all
    DELETE /api/v1/me/footprints/{footprint_id}
    POST   /api/v1/orders/{order_no}/buy-again     the order's SKUs back into the cart

Footprints are written by GET products/{id}/offers, the member's part of a product page.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.media import ImageUrlField
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.money import yuan
from members.api.views import current_member
from shop import selectors
from shop.api.cart import CartOutput, cart_body
from shop.errors import FavouriteNotFound, FootprintNotFound, OrderNotFound
from shop.models import Favourite, Footprint
from shop.services import browsing, cart

MAX_ID = 2**63 - 1
PRODUCT_NOT_FOUND = ApiError(404, "product_not_found", "商品不存在或已下架")


class BrowsedProductOutput(serializers.Serializer):
    """A product card in 收藏 / 足迹; an off-shelf product stays listed, marked on_shelf false."""

    id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    subtitle = serializers.CharField(source="product.subtitle")
    image_url = ImageUrlField(source="product.main_image", help_text="主图（绝对地址）")
    price_fen = serializers.IntegerField(source="product.min_price_fen")
    price_yuan = serializers.SerializerMethodField()
    on_shelf = serializers.BooleanField(source="product.is_on_shelf", help_text="false：已下架")
    in_stock = serializers.BooleanField(help_text="有 SKU 有货")

    def get_price_yuan(self, row: Any) -> str:
        return yuan(row.product.min_price_fen)


class FavouriteOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="收藏 ID（取消收藏用）")
    created_at = serializers.DateTimeField()
    product = BrowsedProductOutput(source="*")


class FootprintOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="足迹 ID（删除单条用）")
    viewed_at = serializers.DateTimeField(help_text="最近一次浏览时间")
    product = BrowsedProductOutput(source="*")


class FavouriteListView(generics.ListAPIView):
    serializer_class = FavouriteOutput
    queryset = Favourite.objects.none()  # for the schema; get_queryset() scopes by member

    class FavouriteInput(InputSerializer):
        product_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Favourite.objects.none()
        return selectors.favourite_list_for_member(member=current_member(self.request))

    @extend_schema(operation_id="favourites_list",
                   description="我的收藏，最新收藏在前；已下架的商品也列出（on_shelf 为 false）。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @errors(PRODUCT_NOT_FOUND)
    @extend_schema(operation_id="favourites_add", request=FavouriteInput,
                   responses={201: FavouriteOutput, 200: FavouriteOutput},
                   description="收藏一个在架商品。已收藏时返回原收藏（200），不会重复。")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.FavouriteInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        favourite, created = browsing.favourite_add(member=member, product_id=data.validated_data["product_id"])
        row = selectors.favourite_list_for_member(member=member).get(pk=favourite.pk)
        return Response(FavouriteOutput(row, context={"request": request}).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class FavouriteDetailView(APIView):
    @errors(FavouriteNotFound)
    @extend_schema(operation_id="favourites_remove", responses={204: None},
                   description="取消收藏。他人的或不存在的收藏 ID 返回 404 favourite_not_found。")
    def delete(self, request: Request, favourite_id: int) -> Response:
        browsing.favourite_remove(member=current_member(request), favourite_id=favourite_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FootprintListView(generics.ListAPIView):
    serializer_class = FootprintOutput
    queryset = Footprint.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Footprint.objects.none()
        return selectors.footprint_list_for_member(member=current_member(self.request))

    @extend_schema(operation_id="footprints_list",
                   description="浏览足迹：打开过的商品（每个商品一条，最近浏览在前，保留最近 100 个）。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="footprints_clear", responses={204: None}, description="清空浏览足迹。")
    def delete(self, request: Request) -> Response:
        browsing.footprints_clear(member=current_member(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FootprintDetailView(APIView):
    @errors(FootprintNotFound)
    @extend_schema(operation_id="footprints_remove", responses={204: None},
                   description="删除一条浏览足迹。他人的或不存在的 ID 返回 404 footprint_not_found。")
    def delete(self, request: Request, footprint_id: int) -> Response:
        browsing.footprint_remove(member=current_member(request), footprint_id=footprint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BuyAgainSkipOutput(serializers.Serializer):
    sku_id = serializers.IntegerField()
    product_name = serializers.CharField()
    code = serializers.ChoiceField(choices=[("product_unavailable", "已下架"), ("early_access_only", "优先购"),
                                            ("cart_full", "购物车已满"), ("invalid_quantity", "数量超过上限")],
                                   help_text="product_unavailable 已下架 / early_access_only 优先购 / "
                                             "cart_full 购物车已满 / invalid_quantity 数量超过上限")
    reason = serializers.CharField()


class BuyAgainOutput(serializers.Serializer):
    added_sku_ids = serializers.ListField(child=serializers.IntegerField(), help_text="加入购物车的 SKU")
    skipped = BuyAgainSkipOutput(many=True, help_text="未能加入的商品及原因")
    cart = CartOutput()


class BuyAgainView(APIView):
    @errors(OrderNotFound)
    @extend_schema(operation_id="orders_buy_again", request=None, responses={200: BuyAgainOutput},
                   description="再次购买：把这笔订单的商品按原数量加入购物车（并选中）。下架等无法加入的商品"
                               "列在 skipped 中，其余照常加入。他人的订单返回 404 order_not_found。")
    def post(self, request: Request, order_no: str) -> Response:
        member = current_member(request)
        added, skipped = cart.cart_add_from_order(member=member, order_no=order_no)
        body = {"added_sku_ids": added, "skipped": skipped, "cart": cart_body(request)}
        return Response(BuyAgainOutput(body, context={"request": request}).data)


urlpatterns: list[URLPattern] = [
    path("me/favourites/", FavouriteListView.as_view(), name="favourites"),
    path("me/favourites/<int:favourite_id>", FavouriteDetailView.as_view(), name="favourite-detail"),
    path("me/footprints/", FootprintListView.as_view(), name="footprints"),
    path("me/footprints/<int:footprint_id>", FootprintDetailView.as_view(), name="footprint-detail"),
    path("orders/<number:order_no>/buy-again", BuyAgainView.as_view(), name="order-buy-again"),
]
