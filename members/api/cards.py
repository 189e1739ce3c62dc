"""Paid membership cards (付费会员卡).

    GET  /api/v1/card-plans                               -> [{"id", "name", "price_fen", "days", …}]
    GET  /api/v1/me/card                                  -> {"active", "card": {…} | null, "history": […]}
    POST /api/v1/me/card-purchases {"plan_id"}            -> 201 the purchase (pending, payable 30 minutes)
    GET  /api/v1/me/card-purchases/{purchase_no}          -> the purchase (poll it after paying)
    POST /api/v1/me/card-purchases/{purchase_no}/pay      -> the wx.requestPayment parameters

The money goes through WeChat Pay like an order's; the card is extended when WeChat's payment
notification for the purchase arrives.
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import errors
from core.api.serializers import InputSerializer
from core.errors import UpstreamError
from members.api.views import current_member
from members.errors import CardPlanNotFound, CardPurchaseExpired, CardPurchaseNotFound, CardPurchaseNotPayable
from members.services import cards
from payments.errors import TradeMismatch
from wechat.errors import TradeAlreadyPaid, TradeClosed
from wechat.serializers import RequestPaymentParams

MAX_ID = 2**63 - 1


class PlanOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price_fen = serializers.IntegerField()
    days = serializers.IntegerField()
    discount_percent = serializers.IntegerField(help_text="额外折扣：95 表示 9.5 折")
    points_multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
    monthly_gift_pack = serializers.BooleanField()


class ActiveCardOutput(serializers.Serializer):
    plan_id = serializers.IntegerField()
    plan_name = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    discount_percent = serializers.IntegerField()
    points_multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
    monthly_gift_pack = serializers.BooleanField()


class PeriodOutput(serializers.Serializer):
    plan_name = serializers.CharField(source="plan.name")
    purchase_no = serializers.CharField(source="purchase.purchase_no")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    renewal = serializers.BooleanField()


class MyCardOutput(serializers.Serializer):
    active = serializers.BooleanField()
    card = ActiveCardOutput(allow_null=True)
    history = PeriodOutput(many=True)


class PurchaseOutput(serializers.Serializer):
    purchase_no = serializers.CharField()
    plan_id = serializers.IntegerField()
    plan_name = serializers.CharField()
    days = serializers.IntegerField()
    amount_fen = serializers.IntegerField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class PlanListView(APIView):
    @extend_schema(operation_id="card_plans_list",
                   description="可购买的付费会员卡（年卡、季卡等）及其权益。", responses={200: PlanOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(PlanOutput(cards.card_plans_on_sale(), many=True).data)


class MyCardView(APIView):
    @extend_schema(operation_id="me_card",
                   description="我的付费会员卡：是否生效、到期时间、权益。", responses={200: MyCardOutput})
    def get(self, request: Request) -> Response:
        member = current_member(request)
        active = cards.member_card_active(member_id=member.pk, at=timezone.now())
        body = {"active": active is not None, "card": active,
                "history": cards.member_card_history(member=member)}
        return Response(MyCardOutput(body).data)


class PurchaseCreateView(APIView):
    class PurchaseInput(InputSerializer):
        plan_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    @errors(CardPlanNotFound)
    @extend_schema(operation_id="me_card_purchases_create",
                   description="购买付费会员卡：生成待支付的购卡单。",
                   request=PurchaseInput, responses={201: PurchaseOutput})
    def post(self, request: Request) -> Response:
        data = self.PurchaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = cards.card_purchase_create(member=current_member(request), plan_id=data.validated_data["plan_id"])
        return Response(PurchaseOutput(purchase).data, status=status.HTTP_201_CREATED)


class PurchaseDetailView(APIView):
    @errors(CardPurchaseNotFound)
    @extend_schema(operation_id="me_card_purchases_get",
                   description="我的一张购卡单及其支付状态。", responses={200: PurchaseOutput})
    def get(self, request: Request, purchase_no: str) -> Response:
        purchase = cards.card_purchase_get_for_member(member=current_member(request), purchase_no=purchase_no)
        return Response(PurchaseOutput(purchase).data)


class PurchasePayView(APIView):
    @errors(CardPurchaseNotFound, CardPurchaseNotPayable, CardPurchaseExpired, TradeMismatch, TradeAlreadyPaid,
            TradeClosed, UpstreamError)
    @extend_schema(operation_id="me_card_purchases_pay",
                   description="支付购卡单：返回 wx.requestPayment 的参数。",
                   request=None, responses={200: RequestPaymentParams})
    def post(self, request: Request, purchase_no: str) -> Response:
        result = cards.card_purchase_prepay(member=current_member(request), purchase_no=purchase_no,
                                            client_ip=request.META.get("REMOTE_ADDR") or "127.0.0.1")
        return Response(RequestPaymentParams(result.request_payment).data)


urlpatterns = [
    path("card-plans", PlanListView.as_view(), name="card-plans"),
    path("me/card", MyCardView.as_view(), name="me-card"),
    path("me/card-purchases", PurchaseCreateView.as_view(), name="me-card-purchases"),
    path("me/card-purchases/<number:purchase_no>", PurchaseDetailView.as_view(), name="me-card-purchase"),
    path("me/card-purchases/<number:purchase_no>/pay", PurchasePayView.as_view(), name="me-card-purchase-pay"),
]
