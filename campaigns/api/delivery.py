"""Scan a channel code (扫码领券) and redeem a partner code (兑换码).

    POST /api/v1/coupons/scan     {"scene"}  → 201 {"channel": {id, name}, "coupon": Coupon}
    POST /api/v1/coupons/redeem   {"code"}   → 201 the coupon (the same coupon again when this member
                                             had redeemed the code before: a retry is safe)

The mini-program reads `scene` from the page's query (decodeURIComponent(query.scene)) when a
channel code opened it, and posts it here once the shopper is logged in. Coupon is the shape of
GET /api/v1/coupons/mine.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api.coupons import COUPON_GRANT_ERRORS, CouponOutput
from campaigns.errors import ChannelNotFound, CodeAlreadyRedeemed, CodeInvalid, CodeNotFound
from campaigns.services import channels, codes
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_address, per_member
from members.api.views import current_member


class ChannelOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ScanOutput(serializers.Serializer):
    channel = ChannelOutput()
    coupon = CouponOutput()


class ScanInput(InputSerializer):
    scene = serializers.CharField(max_length=128, trim_whitespace=True,
                                  help_text="小程序码 scene（页面参数 query.scene 经 decodeURIComponent）")


class RedeemInput(InputSerializer):
    code = serializers.CharField(max_length=64, trim_whitespace=True,
                                 help_text="兑换码，不区分大小写，可带空格或短横线")


class ScanView(APIView):
    throttle_classes = [per_member("coupon_claim")]

    @errors(ChannelNotFound, *COUPON_GRANT_ERRORS)
    @extend_schema(operation_id="coupon_scan", request=ScanInput, responses={201: ScanOutput},
                   description="扫渠道码领券：领取该渠道对应的优惠券，领取记录归属该渠道。每次扫码都会记录。")
    def post(self, request: Request) -> Response:
        data = ScanInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = channels.channel_scan(member=current_member(request), scene=data.validated_data["scene"])
        body = ScanOutput({"channel": result.channel, "coupon": result.coupon}).data
        return Response(body, status=status.HTTP_201_CREATED)


class RedeemView(APIView):
    # Guessing codes must be hopeless: attempts are limited per member and, against many
    # accounts on one client, per address (README, "Rate limits").
    throttle_classes = [per_member("code_redeem"), per_address("code_redeem_address")]

    @errors(ApiError(400, CodeInvalid.code, "格式不正确：去掉空格和短横线后须为 4 到 32 位字母或数字"), CodeNotFound,
            ApiError(409, CodeAlreadyRedeemed.code, "已被他人兑换"), *COUPON_GRANT_ERRORS)
    @extend_schema(operation_id="coupon_redeem", request=RedeemInput, responses={201: CouponOutput},
                   description="兑换码兑换优惠券，每个码只能兑换一次。同一会员重复提交返回已兑换的同一张券；"
                               "被拒时兑换码不会被占用。")
    def post(self, request: Request) -> Response:
        data = RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = codes.code_redeem(member=current_member(request), code=data.validated_data["code"])
        return Response(CouponOutput(coupon).data, status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path("coupons/scan", ScanView.as_view(), name="coupon-scan"),
    path("coupons/redeem", RedeemView.as_view(), name="coupon-redeem"),
]
