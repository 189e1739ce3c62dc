"""Opening and joining a group (拼团): each places an ordinary order at the group price.

    POST /api/v1/group-buys/items/{item_id}/open          -> 201 the order (pay it with orders/{no}/pay)
    POST /api/v1/group-buys/groups/{group_no}/join        -> 201 the order

The seat is taken when the order is paid: the leader's payment opens the group, a friend's payment
joins it (the share card carries the group number). The reads (activities, a group's page, my
groups) are campaigns' (campaigns.api.groupbuy).
"""

from __future__ import annotations

from dataclasses import replace

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import (
    GroupBuyAlreadyJoined,
    GroupBuyClosed,
    GroupBuyFull,
    GroupBuyItemNotFound,
    GroupBuyJoinLimitReached,
    GroupBuyLimitExceeded,
    GroupBuyNewMembersOnly,
    GroupBuyNotActive,
    GroupBuyNotFound,
    GroupBuySoldOut,
    MemberBlockedFromCampaigns,
)
from campaigns.selectors.groupbuy import groupbuy_lookup
from core.api.headers import idempotency_key
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from members.api.views import current_member
from shop import selectors
from shop.api.orders import IDEMPOTENCY_HEADER, MAX_ID, PLACE_ERRORS, OrderDetailOutput
from shop.services import orders as order_services
from shop.services.orders import CheckoutInput, GroupChoice, LineInput

GROUP_ERRORS = (
    GroupBuyItemNotFound, GroupBuyNotActive, GroupBuySoldOut, GroupBuyLimitExceeded, MemberBlockedFromCampaigns,
    ApiError(400, "group_buy_line_mismatch", "拼团订单只能包含该拼团商品"),
)
JOIN_ERRORS = (GroupBuyNotFound, GroupBuyClosed, GroupBuyFull, GroupBuyAlreadyJoined, GroupBuyNewMembersOnly,
               GroupBuyJoinLimitReached)


class GroupOrderInput(InputSerializer):
    quantity = serializers.IntegerField(min_value=1, max_value=999, required=False, default=1)
    address_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    remark = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    expected_payable_fen = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, allow_null=True,
        help_text="预览时的应付金额；与实际不一致时返回 409 price_changed")
    coupon_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, allow_null=True,
        max_length=2, help_text="同下单接口：不传或 null 自动选择，[] 不用券")
    points = serializers.IntegerField(min_value=0, max_value=MAX_ID, required=False, default=0,
                                      help_text="使用的积分，同下单接口")
    device_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="小程序生成并保存在本机的设备标识（用于防刷）")

    def to_checkout(self, *, sku_id: int, choice: GroupChoice) -> CheckoutInput:
        data = self.validated_data
        choice = replace(choice, device_id=data.get("device_id") or "")
        coupon_ids = data.get("coupon_ids")
        return CheckoutInput(
            items=(LineInput(sku_id, data.get("quantity") or 1),), address_id=data.get("address_id"),
            remark=data.get("remark", ""), expected_payable_fen=data.get("expected_payable_fen"),
            coupon_ids=None if coupon_ids is None else tuple(sorted(set(coupon_ids))),
            points=data.get("points") or 0, group=choice)


def _place(request: Request, *, sku_id: int, choice: GroupChoice) -> Response:
    key = idempotency_key(request)
    data = GroupOrderInput(data=request.data)
    data.is_valid(raise_exception=True)
    member = current_member(request)
    order, replayed = order_services.order_place(member=member, data=data.to_checkout(sku_id=sku_id, choice=choice),
                                                 idempotency_key=key)
    detail = selectors.order_detail_for_member(member=member, order_no=order.order_no)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(OrderDetailOutput(detail).data, status=status.HTTP_201_CREATED, headers=headers)


class GroupOpenView(APIView):
    throttle_classes = [per_member("group_buy")]

    @errors(*PLACE_ERRORS, *GROUP_ERRORS)
    @extend_schema(operation_id="group_buys_open", request=GroupOrderInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: OrderDetailOutput},
                   description="开团：按团长价（无团长价时按拼团价）下单；支付成功即开团")
    def post(self, request: Request, item_id: int) -> Response:
        sku_id = groupbuy_lookup(item_id=item_id).sku_id
        return _place(request, sku_id=sku_id, choice=GroupChoice(item_id=item_id))


class GroupJoinView(APIView):
    throttle_classes = [per_member("group_buy")]

    @errors(*PLACE_ERRORS, *GROUP_ERRORS, *JOIN_ERRORS)
    @extend_schema(operation_id="group_buys_join", request=GroupOrderInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: OrderDetailOutput},
                   description="参团：按拼团价下单；支付成功时占座。支付时该团已满或已结束的，按活动设置自动开新团或自动退款")
    def post(self, request: Request, group_no: str) -> Response:
        found = groupbuy_lookup(group_no=group_no)
        return _place(request, sku_id=found.sku_id, choice=GroupChoice(item_id=found.item_id, group_id=found.group_id))


urlpatterns: list[URLPattern] = [
    path("group-buys/items/<int:item_id>/open", GroupOpenView.as_view(), name="group-buy-open"),
    path("group-buys/groups/<number:group_no>/join", GroupJoinView.as_view(), name="group-buy-join"),
]
