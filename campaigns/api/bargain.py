"""砍价 in the mini-program.

    GET  /api/v1/bargains/activities                       running activities (anyone may look)
    POST /api/v1/bargains/activities/{id}/launch           发起砍价 → 201 the launch (200: my live one)
    GET  /api/v1/bargains/launches/mine                    我的砍价 (paginated)
    GET  /api/v1/bargains/launches/{launch_no}             a launch's page: prices, helpers and cuts
    POST /api/v1/bargains/launches/{launch_no}/help        帮砍 {device_id} → 201 the cut and the launch

Buying is an ordinary order: POST /api/v1/orders/ with items [{sku_id, quantity: 1,
bargain_launch_id}] at the price the friends reached.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import (
    BargainActivityNotFound,
    BargainAlreadyHelped,
    BargainFinished,
    BargainHelpLimitReached,
    BargainLaunchNotFound,
    BargainNotActive,
    BargainOwnLaunch,
    BargainSoldOut,
    MemberBlockedFromCampaigns,
)
from campaigns.models import BargainLaunch
from campaigns.selectors.bargain import (
    ActivityView,
    bargain_activities_running,
    bargain_launch_page,
    bargain_launch_views,
    bargain_launches_for_member,
)
from campaigns.services.bargain import bargain_help, bargain_launch
from core.api.pagination import PageNumberPagination
from core.api.schema import errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from members.api.views import current_member

STATUS_HELP = ("ongoing 砍价中 / succeeded 已砍到底价 / ordered 已下单 / purchased 已购买 / expired 已过期 / "
               "closed 已关闭")


class ActivityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    spec_text = serializers.CharField()
    image_url = serializers.SerializerMethodField()
    list_price_fen = serializers.IntegerField(help_text="原价（分）")
    start_price_fen = serializers.IntegerField(help_text="起砍价（分）")
    floor_price_fen = serializers.IntegerField(help_text="底价（分）：砍到底时的价格")
    helpers_needed = serializers.IntegerField(help_text="需要几位好友帮砍")
    hours_to_finish = serializers.IntegerField(help_text="发起后多少小时内砍完")
    buy_before_floor = serializers.BooleanField(help_text="未砍到底价时是否可以直接购买")
    stock_left = serializers.IntegerField(help_text="剩余活动库存")
    ends_at = serializers.DateTimeField()
    my_launch_no = serializers.CharField(allow_null=True, help_text="我正在进行的砍价单号；未发起或未登录为 null")

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image_url(self, obj: ActivityView) -> str | None:
        request = self.context.get("request")
        if not obj.image_url:
            return None
        return request.build_absolute_uri(obj.image_url) if request else obj.image_url


class ActivityListOutput(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    activities = ActivityOutput(many=True)


class HelperOutput(serializers.Serializer):
    seq = serializers.IntegerField(help_text="第几刀")
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()
    cut_fen = serializers.IntegerField(help_text="这一刀砍掉的金额（分）")
    price_after_fen = serializers.IntegerField(help_text="砍后价（分）")
    created_at = serializers.DateTimeField()


class LaunchOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="下单时作为 items[].bargain_launch_id 传入")
    launch_no = serializers.CharField(help_text="砍价单号：分享卡片带上它")
    activity_id = serializers.IntegerField()
    activity_name = serializers.CharField()
    sku_id = serializers.IntegerField()
    product_name = serializers.CharField()
    start_price_fen = serializers.IntegerField()
    floor_price_fen = serializers.IntegerField()
    current_price_fen = serializers.IntegerField(help_text="当前价（分）")
    cut_total_fen = serializers.IntegerField(help_text="已砍掉（分）")
    helpers_needed = serializers.IntegerField()
    helpers_count = serializers.IntegerField()
    status = serializers.CharField(help_text=STATUS_HELP)
    expires_at = serializers.DateTimeField(help_text="砍价截止时间（倒计时）")
    buy_until = serializers.DateTimeField(allow_null=True, help_text="砍到底价后的购买截止时间")
    buyable = serializers.BooleanField(help_text="我现在可以按当前价下单")
    is_mine = serializers.BooleanField()
    i_helped = serializers.BooleanField(help_text="我已帮 TA 砍过")
    order_no = serializers.CharField(help_text="下单后的订单号（仅发起人可见）")
    launcher_nickname = serializers.CharField()
    helpers = HelperOutput(many=True, help_text="帮砍记录，按先后顺序；列表接口中为空")


class LaunchPageOutput(serializers.Serializer):
    server_time = serializers.DateTimeField()
    launch = LaunchOutput()


class HelpInput(InputSerializer):
    device_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="小程序生成并保存在本机的设备标识（用于防刷）")


class HelpOutput(serializers.Serializer):
    cut_fen = serializers.IntegerField(help_text="这一刀砍掉的金额（分）")
    price_after_fen = serializers.IntegerField()
    launch = LaunchOutput()


def _member_id(request: Request) -> int | None:
    user: Any = request.user
    return user.member.pk if user is not None and getattr(user, "is_authenticated", False) else None


def _page(request: Request, launch_no: str) -> dict[str, Any]:
    now = timezone.now()
    view = bargain_launch_page(launch_no=launch_no, viewer_id=current_member(request).pk, now=now)
    return {"server_time": now, "launch": view}


class ActivityListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="bargain_activities", responses={200: ActivityListOutput},
                   description="进行中的砍价活动，最早结束的在前（至多 100 个）。")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        body = {"server_time": now, "activities": bargain_activities_running(now=now, member_id=_member_id(request))}
        return Response(ActivityListOutput(body, context={"request": request}).data)


class LaunchView(APIView):
    throttle_classes = [per_member("bargain_launch")]

    @extend_schema(operation_id="bargain_launch", request=None, responses={201: LaunchPageOutput,
                                                                           200: LaunchPageOutput},
                   description="发起砍价；已有进行中的砍价时返回它 (200)。错误码：member_blocked (403)、"
                               "bargain_activity_not_found (404)、bargain_not_active / bargain_sold_out (409)。")
    @errors(BargainActivityNotFound, BargainNotActive, BargainSoldOut, MemberBlockedFromCampaigns)
    def post(self, request: Request, activity_id: int) -> Response:
        launch, created = bargain_launch(member_id=current_member(request).pk, activity_id=activity_id)
        return Response(LaunchPageOutput(_page(request, launch.launch_no)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MyLaunchesView(generics.ListAPIView):
    serializer_class = LaunchOutput
    pagination_class = PageNumberPagination
    queryset = BargainLaunch.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return BargainLaunch.objects.none()
        return bargain_launches_for_member(member_id=current_member(self.request).pk)

    @extend_schema(operation_id="bargain_launches_mine", description="我发起的砍价，最新的在前。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        page = self.paginate_queryset(self.get_queryset())
        views = bargain_launch_views(list(page or []), viewer_id=current_member(request).pk, now=timezone.now())
        return self.get_paginated_response(LaunchOutput(views, many=True).data)


class LaunchPageView(APIView):
    @errors(BargainLaunchNotFound)
    @extend_schema(operation_id="bargain_launch_page", responses={200: LaunchPageOutput},
                   description="砍价页：价格、进度、倒计时和每位好友砍掉的金额（分享卡片打开此页）。")
    def get(self, request: Request, launch_no: str) -> Response:
        return Response(LaunchPageOutput(_page(request, launch_no)).data)


class HelpView(APIView):
    throttle_classes = [per_member("bargain_help")]

    @extend_schema(operation_id="bargain_help", request=HelpInput, responses={201: HelpOutput},
                   description="帮好友砍一刀。错误码：member_blocked (403)、bargain_launch_not_found (404)、"
                               "bargain_own_launch / bargain_already_helped / bargain_finished / "
                               "bargain_help_limit_reached (409，detail.limit：member_daily 今日次数、device_daily "
                               "本机今日次数、per_activity 本活动次数)。")
    @errors(BargainLaunchNotFound, BargainOwnLaunch, BargainAlreadyHelped, BargainFinished, BargainHelpLimitReached,
            MemberBlockedFromCampaigns)
    def post(self, request: Request, launch_no: str) -> Response:
        data = HelpInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = bargain_help(helper_id=current_member(request).pk, launch_no=launch_no,
                              device_id=data.validated_data["device_id"])
        page = _page(request, launch_no)
        body = {"cut_fen": result.help.cut_fen, "price_after_fen": result.help.price_after_fen,
                "launch": page["launch"]}
        return Response(HelpOutput(body).data, status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path("bargains/activities", ActivityListView.as_view(), name="bargain-activities"),
    path("bargains/activities/<int:activity_id>/launch", LaunchView.as_view(), name="bargain-launch"),
    path("bargains/launches/mine", MyLaunchesView.as_view(), name="bargain-launches-mine"),
    path("bargains/launches/<number:launch_no>", LaunchPageView.as_view(), name="bargain-launch-page"),
    path("bargains/launches/<number:launch_no>/help", HelpView.as_view(), name="bargain-help"),
]
