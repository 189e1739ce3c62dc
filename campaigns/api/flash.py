"""Flash-sale sessions with server time, stock left and the member's allowance.

    GET /api/v1/flash-sales/sessions          -> {"server_time", "current_session_id", "sessions": [...]}
    GET /api/v1/flash-sales/sessions/{id}     -> {"server_time", "session": {...}}

Anonymous shoppers may look (my_remaining is null); with a bearer token my_remaining is what
the member may still buy of each item. `server_time` lets the mini-program correct its clock
for the countdown. Not cached: stock left and allowances are live.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import FlashSessionNotFound
from campaigns.selectors.flash import flash_board, flash_session_detail
from core.api.media import ImageUrlField
from core.api.schema import errors


class FlashItemOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="秒杀商品 ID，下单时作为 flash_item_id 传入")
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    image_url = ImageUrlField(help_text="商品主图（绝对地址）")
    spec_text = serializers.CharField()
    list_price_fen = serializers.IntegerField(help_text="原价（分）")
    flash_price_fen = serializers.IntegerField(help_text="秒杀价（分）")
    stock_total = serializers.IntegerField(help_text="活动库存")
    stock_left = serializers.IntegerField(help_text="剩余活动库存")
    sold_percent = serializers.IntegerField(help_text="已抢百分比 0–100（进度条），仅抢光时为 100")
    per_member_limit = serializers.IntegerField(help_text="每人限购")
    my_remaining = serializers.IntegerField(allow_null=True, help_text="我还能买几件；未登录为 null")


class FlashSessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=["upcoming", "running", "ended"],
                                    help_text="upcoming 即将开始 / running 抢购中 / ended 已结束")
    state_label = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    items = FlashItemOutput(many=True)


class FlashBoardOutput(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    current_session_id = serializers.IntegerField(allow_null=True, help_text="默认打开的场次：进行中的，否则下一场")
    sessions = FlashSessionOutput(many=True, help_text="今天和明天的场次，按开始时间排序")


class FlashSessionDetailOutput(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="服务器时间，用于校准倒计时")
    session = FlashSessionOutput()


def _member_id(request: Request) -> int | None:
    user: Any = request.user
    return user.member.pk if user is not None and getattr(user, "is_authenticated", False) else None


class FlashSessionListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="flash_sessions_list",
                   description="今天和明天的秒杀场次及商品，附当前场次。", responses={200: FlashBoardOutput})
    def get(self, request: Request) -> Response:
        board = flash_board(now=timezone.now(), member_id=_member_id(request))
        return Response(FlashBoardOutput(board, context={"request": request}).data)


class FlashSessionDetailView(APIView):
    permission_classes = [AllowAny]

    @errors(FlashSessionNotFound)
    @extend_schema(operation_id="flash_sessions_retrieve",
                   description="一个秒杀场次及其商品。", responses={200: FlashSessionDetailOutput})
    def get(self, request: Request, session_id: int) -> Response:
        now = timezone.now()
        session = flash_session_detail(session_id=session_id, now=now, member_id=_member_id(request))
        body = {"server_time": now, "session": session}
        return Response(FlashSessionDetailOutput(body, context={"request": request}).data)


urlpatterns: list[URLPattern] = [
    path("flash-sales/sessions", FlashSessionListView.as_view(), name="flash-session-list"),
    path("flash-sales/sessions/<int:session_id>", FlashSessionDetailView.as_view(), name="flash-session-detail"),
]
