"""Subscribe-message consents: what the shopper accepted in wx.requestSubscribeMessage.

    GET  /api/v1/subscriptions   -> {"templates": [{"key", "template_id", "title", "credits", "last_result"}]}
    POST /api/v1/subscriptions   {"results": {"<template_id>": "accept" | "reject" | "ban" | "filter", …}}
                                 -> the same as GET, after recording

The mini-program asks for the ids listed by GET, then posts what wx.requestSubscribeMessage
returned (its `errMsg` entry may be left in; it is ignored). Each accept is one message the
shop may send with that template.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from members.api.views import current_member
from wechat.messages import subscribe_consent_record, subscribe_credits_for_member
from wechat.messages.templates import UnknownTemplate

MAX_RESULTS = 20


class TemplateCreditsOutput(serializers.Serializer):
    key = serializers.CharField(help_text="模板用途，例如 order_shipped")
    template_id = serializers.CharField(help_text="传给 wx.requestSubscribeMessage 的模板 ID")
    title = serializers.CharField()
    credits = serializers.IntegerField(help_text="还可以发送的次数（每次“允许”加一次）")
    last_result = serializers.CharField(help_text="最近一次的选择：accept / reject / ban / filter，未选择为空")


class SubscriptionsOutput(serializers.Serializer):
    templates = TemplateCreditsOutput(many=True)


class SubscriptionsView(APIView):
    class SubscribeInput(InputSerializer):
        results = serializers.DictField(
            child=serializers.CharField(max_length=64), allow_empty=False,
            help_text="wx.requestSubscribeMessage 的返回结果：模板 ID → accept / reject / ban / filter")

        def validate_results(self, value: dict[str, str]) -> dict[str, str]:
            value = {k: v for k, v in value.items() if k != "errMsg"}
            if not value:
                raise serializers.ValidationError("没有订阅结果")
            if len(value) > MAX_RESULTS:
                raise serializers.ValidationError(f"一次最多提交 {MAX_RESULTS} 个模板")
            return value

    @extend_schema(operation_id="subscriptions_get",
                   description="我对各订阅消息模板剩余的授权次数。", responses={200: SubscriptionsOutput})
    def get(self, request: Request) -> Response:
        credits = subscribe_credits_for_member(member_id=current_member(request).pk)
        return Response(SubscriptionsOutput({"templates": credits}).data)

    @errors(ApiError(400, UnknownTemplate.code, "results 中有未知的模板 ID"),
            ApiError(400, "invalid_subscribe_result", "订阅结果只能是 accept、reject、ban 或 filter"))
    @extend_schema(operation_id="subscriptions_record",
                   description="记录 wx.requestSubscribeMessage 的授权结果。", request=SubscribeInput,
                   responses={200: SubscriptionsOutput})
    def post(self, request: Request) -> Response:
        data = self.SubscribeInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        credits = subscribe_consent_record(member_id=member.pk, openid=member.openid,
                                           results=data.validated_data["results"])
        return Response(SubscriptionsOutput({"templates": credits}).data)


urlpatterns: list[URLPattern] = [
    path("subscriptions", SubscriptionsView.as_view(), name="subscriptions"),
]
