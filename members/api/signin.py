"""Sign-in (签到).

    POST /api/v1/me/signin                         -> 201 {"day", "streak", "points", "growth", "tier_changed"}
                                                      409 already_signed_in (nothing changed)
    GET  /api/v1/me/signin/calendar?month=YYYY-MM  -> {"month", "days", "today", "signed_today", "streak",
                                                      "next_reward": {"streak_day", "points", "growth"}}
"""

from __future__ import annotations

import datetime as dt
import re

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiError, errors
from core.api.throttles import per_member
from core.errors import ValidationFailed
from members.api.views import current_member
from members.errors import AlreadySignedIn
from members.services.signin import signin_calendar, signin_today

MONTH = re.compile(r"(20[0-9]{2}|2100)-(0[1-9]|1[0-2])")


class RewardOutput(serializers.Serializer):
    streak_day = serializers.IntegerField(help_text="连续签到第几天")
    points = serializers.IntegerField()
    growth = serializers.IntegerField()


class SignInOutput(serializers.Serializer):
    day = serializers.DateField()
    streak = serializers.IntegerField(help_text="连续签到天数（含今天）")
    points = serializers.IntegerField(help_text="本次获得积分")
    growth = serializers.IntegerField(help_text="本次获得成长值")
    tier_changed = serializers.BooleanField(help_text="本次签到是否使会员等级变化")


class CalendarOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    days = serializers.ListField(child=serializers.DateField(), help_text="本月已签到的日期")
    today = serializers.DateField(help_text="服务器的今天（北京时间）")
    signed_today = serializers.BooleanField()
    streak = serializers.IntegerField(help_text="当前连续签到天数（今天未签且昨天未签为 0）")
    next_reward = RewardOutput(help_text="下一次签到可得的奖励")


class SignInView(APIView):
    throttle_classes = [per_member("signin")]

    @errors(AlreadySignedIn)
    @extend_schema(operation_id="me_signin",
                   description="今日签到，领取连续签到奖励（每天一次）。", request=None, responses={201: SignInOutput})
    def post(self, request: Request) -> Response:
        result = signin_today(member=current_member(request))
        body = {"day": result.signin.day, "streak": result.signin.streak, "points": result.signin.points,
                "growth": result.signin.growth, "tier_changed": result.tier_changed}
        return Response(SignInOutput(body).data, status=status.HTTP_201_CREATED)


class SignInCalendarView(APIView):
    @errors(ApiError(400, "invalid_month", "month 须为 YYYY-MM"))
    @extend_schema(operation_id="me_signin_calendar",
                   description="签到日历：本月已签到的日子与连续天数。", responses={200: CalendarOutput}, parameters=[
        OpenApiParameter("month", str, required=False, pattern=f"^{MONTH.pattern}$",
                         description="YYYY-MM（2000-01 到 2100-12）；不传或为空：本月（北京时间）")])
    def get(self, request: Request) -> Response:
        calendar = signin_calendar(member=current_member(request), month=_month(request.query_params.get("month")))
        body = {"month": f"{calendar.month:%Y-%m}", "days": calendar.days, "today": calendar.today,
                "signed_today": calendar.signed_today, "streak": calendar.streak,
                "next_reward": calendar.next_reward}
        return Response(CalendarOutput(body).data)


def _month(value: str | None) -> dt.date | None:
    if not value:
        return None
    match = MONTH.fullmatch(value)
    if match is None:
        raise ValidationFailed("月份格式应为 YYYY-MM", code="invalid_month", detail={"month": value[:32]})
    return dt.date(int(match[1]), int(match[2]), 1)


urlpatterns = [
    path("me/signin", SignInView.as_view(), name="me-signin"),
    path("me/signin/calendar", SignInCalendarView.as_view(), name="me-signin-calendar"),
]
