"""The points mall (积分商城).

    GET  /api/v1/points-mall/items                     items on offer now (a token is optional: with
                                                        one, each item says how many the caller has
                                                        exchanged and whether they can exchange it)
    POST /api/v1/points-mall/items/{item_id}/exchange  {"address_id": 12?} → 201 the exchange
                                                        (Idempotency-Key: a retry returns the first
                                                        exchange with 200 and Idempotent-Replayed: true)
    GET  /api/v1/points-mall/exchanges                  the caller's exchanges, newest first
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api.coupons import COUPON_GRANT_ERRORS, TemplateTextsOutput
from campaigns.errors import PointsMallItemNotFound, PointsMallLimitReached, PointsMallNotAvailable, PointsMallSoldOut
from campaigns.models import PointsExchange, PointsExchangeStatus, PointsMallItem, PointsMallItemKind
from campaigns.selectors import points_mall as selectors
from campaigns.services import points_mall as services
from core.api.headers import idempotency_header, idempotency_key
from core.api.media import ImageUrlField
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.idempotency import IdempotencyKeyReused
from members.api.views import ADDRESS_NOT_FOUND, current_member, optional_member
from members.errors import PointsInsufficient

MAX_ID = 2**63 - 1
IDEMPOTENCY_HEADER = idempotency_header(
    "同一会员、同一 key 重试时返回首次兑换的结果（不会重复扣积分）；同一 key 用于另一件商品返回 409")


class ItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=PointsMallItemKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    image_url = ImageUrlField()
    description = serializers.CharField()
    points_price = serializers.IntegerField(help_text="所需积分")
    stock_left = serializers.IntegerField()
    sold_out = serializers.SerializerMethodField()
    per_member_limit = serializers.IntegerField(allow_null=True, help_text="每人限兑，null 表示不限")
    ends_at = serializers.DateTimeField(allow_null=True)
    coupon = TemplateTextsOutput(source="coupon_template", allow_null=True, help_text="优惠券商品的券面信息")
    my_exchanged = serializers.SerializerMethodField(help_text="我已兑换的数量；未登录为 null")
    can_exchange = serializers.SerializerMethodField(help_text="有库存、未达上限、积分够；未登录为 null")

    def get_sold_out(self, item: Any) -> bool:
        return item.stock_left <= 0

    def get_my_exchanged(self, item: Any) -> int | None:
        counts = self.context.get("counts")
        return None if counts is None else counts.get(item.pk, 0)

    def get_can_exchange(self, item: Any) -> bool | None:
        counts, balance = self.context.get("counts"), self.context.get("balance")
        if counts is None or balance is None:
            return None
        within_limit = item.per_member_limit is None or counts.get(item.pk, 0) < item.per_member_limit
        return item.stock_left > 0 and within_limit and balance >= item.points_price


class ExchangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    item_name = serializers.CharField()
    kind = serializers.CharField(source="item.kind")
    points = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PointsExchangeStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    coupon_id = serializers.IntegerField(allow_null=True)
    receiver_name = serializers.CharField()
    receiver_phone = serializers.CharField()
    address = serializers.CharField()
    tracking_no = serializers.CharField()
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)


class ItemListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ItemOutput
    queryset = PointsMallItem.objects.none()  # for the schema; get_queryset() builds the offer

    def get_queryset(self) -> Any:
        return selectors.points_mall_items_on_offer(now=timezone.now())

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        page = getattr(self, "_page_ids", None)
        member = optional_member(self.request)
        if member is not None and page is not None:
            context["counts"] = selectors.points_mall_exchanged_counts(member_id=member.pk, item_ids=page)
            context["balance"] = member.points_balance
        return context

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        self._page_ids = [item.pk for item in page] if page is not None else None
        return page

    @extend_schema(operation_id="points_mall_items",
                   description="积分商城的商品与券，及我能否兑换。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ExchangeView(APIView):
    class ExchangeInput(InputSerializer):
        address_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                              help_text="实物礼品的收货地址；留空用默认地址")

    @errors(PointsMallItemNotFound, PointsMallNotAvailable, PointsMallSoldOut, PointsMallLimitReached,
            PointsInsufficient, ADDRESS_NOT_FOUND, ApiError(400, "address_required", "实物礼品须有收货地址"),
            IdempotencyKeyReused, *COUPON_GRANT_ERRORS)
    @extend_schema(operation_id="points_mall_exchange",
                   description="用积分兑换一件积分商城商品或券。",
                   request=ExchangeInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: ExchangeOutput, 200: ExchangeOutput})
    def post(self, request: Request, item_id: int) -> Response:
        key = idempotency_key(request)
        data = self.ExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        exchange, replayed = services.points_mall_exchange(
            member=current_member(request), item_id=item_id, idempotency_key=key,
            address_id=data.validated_data.get("address_id"))
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(ExchangeOutput(exchange, context={"request": request}).data, headers=headers,
                        status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


class ExchangeListView(generics.ListAPIView):
    serializer_class = ExchangeOutput
    queryset = PointsExchange.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return PointsExchange.objects.none()
        return selectors.points_exchanges_for_member(member_id=current_member(self.request).pk)

    @extend_schema(operation_id="points_mall_exchanges",
                   description="我的积分兑换记录。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns: list[URLPattern] = [
    path("points-mall/items", ItemListView.as_view(), name="points-mall-items"),
    path("points-mall/items/<int:item_id>/exchange", ExchangeView.as_view(), name="points-mall-exchange"),
    path("points-mall/exchanges", ExchangeListView.as_view(), name="points-mall-exchanges"),
]
