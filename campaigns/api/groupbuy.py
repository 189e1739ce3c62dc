"""Group-buy (拼团) reads: activities, a group's page, my groups.

    GET /api/v1/group-buys/activities                  -> {"server_time", "activities": [...]}
    GET /api/v1/group-buys/activities/{id}             -> {"server_time", "activity": {...}}
    GET /api/v1/group-buys/groups/{group_no}           -> {"server_time", "group": {...}}  (the share card's page)
    GET /api/v1/group-buys/mine                        -> {"groups": [...]}
    GET /api/v1/group-buys/mine/{group_no}             -> {"group": {...}}  (404 unless I hold a seat in it)

Activities and a group's page are public (a friend may open the share card before logging in);
`server_time` lets the mini-program correct its clock for the countdown. Opening and joining place
orders, so they are shop's (shop.api.groupbuy).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import GroupBuyActivityNotFound, GroupBuyNotFound
from campaigns.models import GroupBuyStatus, SeatRole, SeatStatus
from campaigns.selectors.groupbuy import (
    GroupBuyItemView,
    groupbuy_activities_running,
    groupbuy_page,
    groupbuy_seats_for_member,
)
from core.api.schema import errors
from members.api.views import current_member


class GroupBuyItemOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="拼团商品 ID：开团接口的 item_id")
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    image_url = serializers.SerializerMethodField()
    spec_text = serializers.CharField()
    list_price_fen = serializers.IntegerField(help_text="原价（单独购买价，分）")
    group_price_fen = serializers.IntegerField(help_text="拼团价（分）")
    leader_price_fen = serializers.IntegerField(allow_null=True, help_text="团长价（分），null 表示同拼团价")
    stock_left = serializers.IntegerField(help_text="剩余活动库存")

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image_url(self, obj: GroupBuyItemView) -> str | None:
        request = self.context.get("request")
        if not obj.image_url:
            return None
        return request.build_absolute_uri(obj.image_url) if request else obj.image_url


class GroupBuyFaceOutput(serializers.Serializer):
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()
    role = serializers.CharField(help_text="leader 团长 / member 团员 / simulated 模拟成团补齐的座位")


class GroupBuyCardOutput(serializers.Serializer):
    group_no = serializers.CharField(help_text="团号：参团接口与分享卡片使用")
    item_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=GroupBuyStatus.choices)
    status_label = serializers.CharField()
    size = serializers.IntegerField(help_text="成团人数")
    seats_taken = serializers.IntegerField(help_text="已付款人数")
    seats_left = serializers.IntegerField(help_text="还差几人")
    expires_at = serializers.DateTimeField(help_text="截止时间（倒计时）")
    leader = GroupBuyFaceOutput()


class GroupBuyActivityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    group_size = serializers.IntegerField(help_text="成团人数（含团长）")
    open_hours = serializers.IntegerField(help_text="成团时限（小时）")
    per_member_limit = serializers.IntegerField(help_text="每人限购（件）")
    new_members_only = serializers.BooleanField(help_text="仅新用户可参团（老带新）")
    single_purchase = serializers.BooleanField(help_text="商品页同时提供原价单独购买")
    items = GroupBuyItemOutput(many=True)
    nearly_full = GroupBuyCardOutput(many=True, help_text="还差 1–2 人即可成团的团，可直接参团")


class GroupBuyActivityListOutput(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    activities = GroupBuyActivityOutput(many=True)


class GroupBuyActivityDetailOutput(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    activity = GroupBuyActivityOutput()


class GroupBuyPageOutput(serializers.Serializer):
    group_no = serializers.CharField(source="card.group_no")
    status = serializers.ChoiceField(source="card.status", choices=GroupBuyStatus.choices)
    status_label = serializers.CharField(source="card.status_label")
    size = serializers.IntegerField(source="card.size")
    seats_taken = serializers.IntegerField(source="card.seats_taken")
    seats_left = serializers.IntegerField(source="card.seats_left")
    expires_at = serializers.DateTimeField(source="card.expires_at")
    activity_id = serializers.IntegerField()
    activity_name = serializers.CharField()
    item = GroupBuyItemOutput()
    members = GroupBuyFaceOutput(many=True, help_text="团员头像：团长在前，模拟成团补齐的座位在后")
    my_role = serializers.ChoiceField(choices=SeatRole.choices, allow_null=True,
                                      help_text="我在团中的身份；未登录或不在团中为 null")
    joinable = serializers.BooleanField(help_text="拼团中、未过期且还有空位")


class GroupBuyPageBody(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    group = GroupBuyPageOutput()


class MyGroupBuyOutput(serializers.Serializer):
    order_no = serializers.CharField(help_text="我的拼团订单号")
    role = serializers.ChoiceField(choices=SeatRole.choices)
    seat_status = serializers.ChoiceField(
        choices=SeatStatus.choices,
        help_text="seated 已入团 / refund 自动退款（团失败，或付款时已满员且活动设置为退款）")
    seat_status_label = serializers.CharField()
    quantity = serializers.IntegerField()
    paid_fen = serializers.IntegerField()
    group = GroupBuyCardOutput()
    item = GroupBuyItemOutput()


class MyGroupBuyListOutput(serializers.Serializer):
    groups = MyGroupBuyOutput(many=True, help_text="最近 100 个，最新的在前")


class MyGroupBuyDetailOutput(serializers.Serializer):
    group = MyGroupBuyOutput()


def _member_id(request: Request) -> int | None:
    user: Any = request.user
    return user.member.pk if user is not None and getattr(user, "is_authenticated", False) else None


class ActivityListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="group_buy_activities_list",
                   description=("进行中的拼团活动：每个商品的拼团价、团长价、成团人数，以及此刻还差一两人"
                                "成团的团。"),
                   responses={200: GroupBuyActivityListOutput})
    def get(self, request: Request) -> Response:
        now = timezone.now()
        body = {"server_time": now, "activities": groupbuy_activities_running(now=now)}
        return Response(GroupBuyActivityListOutput(body, context={"request": request}).data)


class ActivityDetailView(APIView):
    permission_classes = [AllowAny]

    @errors(GroupBuyActivityNotFound)
    @extend_schema(operation_id="group_buy_activities_retrieve",
                   description=("拼团活动详情：各商品的价格、成团人数、剩余库存与可直接参加的团（差一两人"
                                "成团的在前）。不存在或未进行返回 404。"),
                   responses={200: GroupBuyActivityDetailOutput})
    def get(self, request: Request, activity_id: int) -> Response:
        now = timezone.now()
        body = {"server_time": now, "activity": groupbuy_activities_running(now=now, activity_id=activity_id)[0]}
        return Response(GroupBuyActivityDetailOutput(body, context={"request": request}).data)


class GroupPageView(APIView):
    permission_classes = [AllowAny]

    @errors(GroupBuyNotFound)
    @extend_schema(operation_id="group_buys_retrieve",
                   description=("一个团的页面（分享卡片打开）：团员头像、剩余名额与倒计时、状态。"),
                   responses={200: GroupBuyPageBody})
    def get(self, request: Request, group_no: str) -> Response:
        now = timezone.now()
        body = {"server_time": now, "group": groupbuy_page(group_no=group_no, now=now, member_id=_member_id(request))}
        return Response(GroupBuyPageBody(body, context={"request": request}).data)


class MyGroupListView(APIView):
    @extend_schema(operation_id="group_buys_mine",
                   description=("我参加的团（开团与参团），最新在前，含每个团的状态与我的订单号。"),
                   responses={200: MyGroupBuyListOutput})
    def get(self, request: Request) -> Response:
        seats = groupbuy_seats_for_member(member_id=current_member(request).pk)
        return Response(MyGroupBuyListOutput({"groups": seats}, context={"request": request}).data)


class MyGroupDetailView(APIView):
    @errors(GroupBuyNotFound)
    @extend_schema(operation_id="group_buys_mine_retrieve",
                   description=("我参加的一个团的详情；不是我参加的团返回 404 group_buy_n"
                                "ot_found。"),
                   responses={200: MyGroupBuyDetailOutput})
    def get(self, request: Request, group_no: str) -> Response:
        seat = groupbuy_seats_for_member(member_id=current_member(request).pk, group_no=group_no)[0]
        return Response(MyGroupBuyDetailOutput({"group": seat}, context={"request": request}).data)


urlpatterns: list[URLPattern] = [
    path("group-buys/activities", ActivityListView.as_view(), name="group-buy-activity-list"),
    path("group-buys/activities/<int:activity_id>", ActivityDetailView.as_view(), name="group-buy-activity-detail"),
    path("group-buys/groups/<number:group_no>", GroupPageView.as_view(), name="group-buy-page"),
    path("group-buys/mine", MyGroupListView.as_view(), name="group-buy-mine"),
    path("group-buys/mine/<number:group_no>", MyGroupDetailView.as_view(), name="group-buy-mine-detail"),
]
