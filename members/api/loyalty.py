"""Loyalty API: tiers and growth, sign-in (members.api.signin), paid cards (members.api.cards).

    GET /api/v1/me/tier   -> {"growth", "tier": {…}, "next_tier": {…} | null, "growth_to_next",
                              "tiers": [{…}], "recent": [{"delta", "reason", "reason_display", …}]}
"""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from members.api.views import current_member
from members.services.growth import member_growth_overview


class TierOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    min_growth = serializers.IntegerField()
    discount_percent = serializers.IntegerField(help_text="95 表示 9.5 折")
    free_shipping_threshold_fen = serializers.IntegerField(allow_null=True, help_text="满此金额包邮；null 表示无")
    birthday_gift = serializers.BooleanField()
    priority_service = serializers.BooleanField()
    early_access = serializers.BooleanField(help_text="新品优先购")


class GrowthEntryOutput(serializers.Serializer):
    delta = serializers.IntegerField()
    reason = serializers.CharField()
    reason_display = serializers.CharField(source="get_reason_display")
    growth_after = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class TierOverviewOutput(serializers.Serializer):
    growth = serializers.IntegerField()
    tier = TierOutput(allow_null=True)
    next_tier = TierOutput(allow_null=True)
    growth_to_next = serializers.IntegerField(allow_null=True, help_text="距下一等级还差的成长值；已是最高等级为 null")
    tiers = TierOutput(many=True)
    recent = GrowthEntryOutput(many=True, help_text="最近 20 条成长值变动")


class MyTierView(APIView):
    @extend_schema(operation_id="me_tier",
                   description="我的会员等级、成长值与各等级权益。", responses={200: TierOverviewOutput})
    def get(self, request: Request) -> Response:
        return Response(TierOverviewOutput(member_growth_overview(member=current_member(request))).data)


urlpatterns = [
    path("me/tier", MyTierView.as_view(), name="me-tier"),
    path("", include("members.api.signin")),
    path("", include("members.api.cards")),
]
