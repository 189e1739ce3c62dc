"""The cart. Every line is the member's own; invalid lines come back with a reason."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.errors import ProductUnavailable
from core.api.media import ImageUrlField
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from members.api.views import current_member
from shop import selectors
from shop.cart_hints import cart_hints
from shop.errors import EarlyAccessOnly
from shop.services import cart as cart_services

MAX_ID = 2**63 - 1
CART_ITEM_NOT_FOUND = ApiError(404, "cart_item_not_found", "购物车中没有该商品")


class CartLineOutput(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    sku_id = serializers.IntegerField(source="item.sku_id")
    product_id = serializers.IntegerField(source="item.sku.product_id")
    product_name = serializers.CharField(source="item.sku.product.name")
    spec_text = serializers.CharField(source="item.sku.spec_text")
    image_url = ImageUrlField(source="item.sku.product.main_image", help_text="商品主图（绝对地址）")
    quantity = serializers.IntegerField(source="item.quantity")
    selected = serializers.BooleanField(source="item.selected")
    price_fen = serializers.IntegerField(source="item.sku.price_fen")
    price_fen_when_added = serializers.IntegerField(source="item.price_fen_when_added")
    available = serializers.IntegerField()
    state = serializers.ChoiceField(choices=selectors.CART_LINE_STATES,
                                    help_text="ok / off_shelf / out_of_stock / insufficient_stock / price_changed")
    reason = serializers.CharField()
    purchasable = serializers.BooleanField()


class CartHintOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("full_reduction", "满减凑单"), ("free_shipping", "凑单包邮")])
    text = serializers.CharField(help_text="再买 ¥20 减 ¥30（店庆满减）/ 再买 1 件打 9折 / 还差 ¥12.5 包邮")
    gap_fen = serializers.IntegerField(help_text="还差的金额（分）；满件活动为 0")
    gap_count = serializers.IntegerField(help_text="还差的件数（满件活动），否则为 0")
    discount_fen = serializers.IntegerField(help_text="凑到下一档满减可减的金额（分）；满件与包邮为 0")
    activity_id = serializers.IntegerField(allow_null=True, help_text="满减活动 ID；包邮为 null")


class CartOutput(serializers.Serializer):
    items = CartLineOutput(many=True)
    selected_count = serializers.IntegerField()
    selected_total_fen = serializers.IntegerField()


def cart_body(request: Request) -> dict[str, Any]:
    lines = selectors.cart_lines_for_member(member=current_member(request))
    chosen = [v for v in lines if v.item.selected and v.purchasable]
    return {"items": lines, "selected_count": sum(v.item.quantity for v in chosen),
            "selected_total_fen": sum(v.item.sku.price_fen * v.item.quantity for v in chosen)}


class CartView(APIView):
    class CartAddInput(InputSerializer):
        sku_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        quantity = serializers.IntegerField(min_value=1, max_value=999, default=1)

    @extend_schema(operation_id="cart_list",
                   description="我的购物车：每行的状态（下架、缺货、变价）与凑单提示。", responses={200: CartOutput})
    def get(self, request: Request) -> Response:
        return Response(CartOutput(cart_body(request), context={"request": request}).data)

    @errors(ProductUnavailable, EarlyAccessOnly, ApiError(400, "invalid_quantity", "加上购物车中已有的件数超过上限"),
            ApiError(400, "cart_full", "购物车已满"))
    @extend_schema(operation_id="cart_add",
                   description="加入购物车；已在购物车中的 SKU 累加数量。",
                   request=CartAddInput, responses={201: CartOutput})
    def post(self, request: Request) -> Response:
        data = self.CartAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart_services.cart_add(member=current_member(request), **data.validated_data)
        return Response(CartOutput(cart_body(request), context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class CartItemView(APIView):
    class CartUpdateInput(InputSerializer):
        quantity = serializers.IntegerField(min_value=1, max_value=999, required=False)
        selected = serializers.BooleanField(required=False)
        acknowledge_price = serializers.BooleanField(required=False, help_text="已知晓价格变动")

    @errors(CART_ITEM_NOT_FOUND)
    @extend_schema(operation_id="cart_update",
                   description="修改购物车一行的数量、选中状态，或确认已知晓变价。",
                   request=CartUpdateInput, responses={200: CartOutput})
    def patch(self, request: Request, item_id: int) -> Response:
        data = self.CartUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        values = dict(data.validated_data)
        acknowledge = values.pop("acknowledge_price", False)
        cart_services.cart_update(member=member, item_id=item_id, **values)
        if acknowledge:
            cart_services.cart_acknowledge_price(member=member, item_id=item_id)
        return Response(CartOutput(cart_body(request), context={"request": request}).data)

    @errors(CART_ITEM_NOT_FOUND)
    @extend_schema(operation_id="cart_remove",
                   description="从购物车删除一行。", responses={204: None})
    def delete(self, request: Request, item_id: int) -> Response:
        cart_services.cart_remove(member=current_member(request), item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CartHintsOutput(serializers.Serializer):
    hints = CartHintOutput(many=True,
                           help_text="凑单提示：按结算的价格（活动价、会员价之后，用券之前）与默认地址的运费计算")


class CartHintsView(APIView):
    @extend_schema(operation_id="cart_hints", responses={200: CartHintsOutput},
                   description="凑单提示（再买 ¥x 减 ¥y、还差 ¥x 包邮），按购物车中选中的商品计算；"
                               "与购物车列表分开请求，购物车本身保持轻快。")
    def get(self, request: Request) -> Response:
        return Response(CartHintsOutput({"hints": cart_hints(member=current_member(request),
                                                             now=timezone.now())}).data)


class CartSelectAllView(APIView):
    class SelectAllInput(InputSerializer):
        selected = serializers.BooleanField()

    @extend_schema(operation_id="cart_select_all",
                   description="全选或全不选购物车。", request=SelectAllInput, responses={200: CartOutput})
    def post(self, request: Request) -> Response:
        data = self.SelectAllInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart_services.cart_select_all(member=current_member(request), selected=data.validated_data["selected"])
        return Response(CartOutput(cart_body(request), context={"request": request}).data)
