"""Points: balance, what expires next, the ledger.

    GET /api/v1/me/points          -> {"balance", "next_expiring_points", "next_expires_at", "points_per_yuan",
                                       "max_percent_of_goods"}
    GET /api/v1/me/points/entries  -> paginated ledger, newest first (?kind=purchase to narrow)

Only the signed-in member's own points: every read is scoped by the member.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiError, errors
from core.errors import ValidationFailed
from members import selectors
from members.api.views import current_member
from members.models import PointsEntry, PointsKind


class PointsSummaryOutput(serializers.Serializer):
    balance = serializers.IntegerField(help_text="当前积分余额")
    next_expiring_points = serializers.IntegerField(help_text="最近一个过期日将过期的积分，无则为 0")
    next_expires_at = serializers.DateTimeField(allow_null=True, help_text="最近的过期时间，无则为 null")
    points_per_yuan = serializers.IntegerField(help_text="多少积分抵扣 1 元")
    max_percent_of_goods = serializers.IntegerField(help_text="每单最多抵扣商品金额的百分比")


class PointsSummaryView(APIView):
    @extend_schema(operation_id="me_points",
                   description="我的积分：余额、即将过期的积分。", responses={200: PointsSummaryOutput})
    def get(self, request: Request) -> Response:
        summary = selectors.points_summary_for_member(member=current_member(request))
        body = {"balance": summary.balance, "next_expiring_points": summary.next_expiring_points,
                "next_expires_at": summary.next_expires_at, "points_per_yuan": settings.POINTS_PER_YUAN,
                "max_percent_of_goods": settings.POINTS_MAX_PERCENT_OF_GOODS}
        return Response(PointsSummaryOutput(body).data)


class PointsEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PointsKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    delta = serializers.IntegerField(help_text="正数为获得，负数为使用、过期或扣回")
    balance_after = serializers.IntegerField()
    reference = serializers.CharField(help_text="关联单号，例如订单号")
    created_at = serializers.DateTimeField()


class PointsEntryListView(generics.ListAPIView):
    serializer_class = PointsEntryOutput
    queryset = PointsEntry.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return PointsEntry.objects.none()
        kind = self.request.query_params.get("kind") or None
        if kind is not None and kind not in PointsKind.values:
            raise ValidationFailed("未知的积分类型", code="invalid_points_kind", detail={"kind": kind[:32]})
        # Only the columns shown: a ledger row carries notes and operators the shopper never sees.
        return (selectors.points_entries_for_member(member_id=current_member(self.request).pk, kind=kind)
                .only("id", "kind", "delta", "balance_after", "reference", "created_at"))

    @errors(ApiError(400, "invalid_points_kind", "kind 不是已知的积分类型"))
    @extend_schema(operation_id="me_points_entries",
                   description="积分明细，最新的在前；可按类型筛选。", parameters=[
        OpenApiParameter("kind", str, enum=PointsKind.values, required=False,
                         description="只看某一类积分变动；不传或为空：全部")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("me/points", PointsSummaryView.as_view(), name="me-points"),
    path("me/points/entries", PointsEntryListView.as_view(), name="me-points-entries"),
]
