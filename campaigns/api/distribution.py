"""分销 in the mini-program: apply, the distribution centre, team, commissions, poster, 分享赚, withdrawals.

    POST /api/v1/distribution/apply                      {real_name, phone, reason, extra} → 201 Me
    GET  /api/v1/distribution/me                         分销中心 (status "none" when not a distributor)
    POST /api/v1/distribution/bind                       {scene, share_type, share_ref} → 201 the binding
    GET  /api/v1/distribution/team?level=1|2             我的团队 (names and phones masked; paginated)
    GET  /api/v1/distribution/commissions?status=        佣金明细 (paginated)
    GET  /api/v1/distribution/commissions/{id}           one of mine (anyone else's: 404)
    GET  /api/v1/distribution/poster.png                 我的海报
    GET  /api/v1/distribution/products/{id}/share        分享赚 ¥x and the path that carries me
    POST /api/v1/distribution/withdrawals                {amount_fen} (Idempotency-Key) → 201
    GET  /api/v1/distribution/withdrawals                提现记录 (paginated)
    GET  /api/v1/distribution/withdrawals/{no}           one of mine
    GET  /api/v1/distribution/withdrawals/{no}/confirm   the wx.requestMerchantTransfer parameters (paying)

The mini-program posts `bind` once the shopper is logged in, when a page opened with a share's
scene (a poster's code: decodeURIComponent(query.scene) = "d=17") or query (?d=17).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import (
    BindingRefused,
    CommissionNotFound,
    DistributionDisabled,
    DistributionThresholdNotMet,
    DistributorAlreadyActive,
    DistributorApplicationInvalid,
    DistributorApplicationPending,
    DistributorFrozen,
    DistributorNotFound,
    NotADistributor,
    ShareSceneInvalid,
    WithdrawalAmountInvalid,
    WithdrawalDailyLimitReached,
    WithdrawalExceedsAvailable,
    WithdrawalNotFound,
)
from campaigns.models import Binding, Commission, CommissionStatus, Distributor, DistributorStatus, Withdrawal
from campaigns.models.distribution import BindingSource
from campaigns.selectors import distribution as selectors
from campaigns.services import bindings, distribution, withdrawals
from core.api.headers import idempotency_header, idempotency_key
from core.api.pagination import PageNumberPagination
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from core.errors import ValidationFailed
from core.idempotency import IdempotencyKeyReused
from core.privacy import mask_name, mask_phone
from members.api.views import current_member
from payments.errors import TransferNotConfirmable

MAX_FEN = 10**10
BINDING_REFUSED = tuple(ApiError(409, code, note) for code, note in (
    ("binding_self", "不能绑定自己"), ("binding_cycle", "对方是你的下级"),
    ("binding_distributor_inactive", "该分销员暂不可绑定"), ("binding_has_upline", "已有推荐人"),
    ("binding_not_new", "仅新会员可绑定推荐人")))
INVALID_LEVEL = ApiError(400, "invalid_level", "level 须为 1 或 2")
INVALID_STATUS = ApiError(400, "invalid_status", "status 不是佣金状态")


# --- me ---------------------------------------------------------------------------------------------------


class MoneyOutput(serializers.Serializer):
    pending_fen = serializers.IntegerField(help_text="待收货：订单已付款，尚未确认收货")
    frozen_fen = serializers.IntegerField(help_text="冻结中：已收货，售后期未结束")
    available_fen = serializers.IntegerField(help_text="可提现")
    withdrawing_fen = serializers.IntegerField(help_text="提现中")
    withdrawn_fen = serializers.IntegerField(help_text="已提现")
    owed_fen = serializers.IntegerField(help_text="待扣回：结算后退款的佣金，将从后续佣金中抵扣")


class MeOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("none", "未申请"), *DistributorStatus.choices],
                                     help_text="none 未申请 / applying 待审核 / active 已通过 / rejected 已驳回 / "
                                               "frozen 已冻结")
    status_label = serializers.CharField()
    mode = serializers.CharField(help_text="分销模式：appointed 指定分销 / everyone 人人分销 / threshold 满额分销")
    reject_reason = serializers.CharField(help_text="驳回原因（已驳回时）")
    grade = serializers.CharField(allow_null=True, help_text="分销等级名称")
    scene = serializers.CharField(allow_null=True, help_text="分享参数 d=<分销员ID>，分享页面时带上")
    money = MoneyOutput(allow_null=True)
    earned_today_fen = serializers.IntegerField()
    earned_month_fen = serializers.IntegerField()
    earned_total_fen = serializers.IntegerField(help_text="累计佣金（扣除退款）")
    team_level1 = serializers.IntegerField()
    team_level2 = serializers.IntegerField()
    withdraw_min_fen = serializers.IntegerField()
    withdraw_fee_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    application_fields = serializers.ListField(child=serializers.DictField(), help_text="申请表附加字段")


def _me(distributor: Distributor | None) -> dict[str, Any]:
    rules = selectors.distribution_settings_current()
    body: dict[str, Any] = {
        "status": "none", "status_label": "未申请", "mode": rules.mode, "reject_reason": "", "grade": None,
        "scene": None, "money": None, "earned_today_fen": 0, "earned_month_fen": 0, "earned_total_fen": 0,
        "team_level1": 0, "team_level2": 0, "withdraw_min_fen": rules.withdraw_min_fen,
        "withdraw_fee_percent": rules.withdraw_fee_percent, "application_fields": rules.application_fields or []}
    if distributor is None:
        return body
    centre = selectors.distribution_centre(distributor=distributor, now=timezone.now())
    body.update(status=distributor.status, status_label=distributor.get_status_display(),
                reject_reason=distributor.reject_reason, grade=str(distributor.grade) if distributor.grade else None,
                scene=selectors.share_scene(distributor.pk) if distributor.status == "active" else None,
                money=distributor, earned_today_fen=centre.earned_today_fen, earned_month_fen=centre.earned_month_fen,
                earned_total_fen=centre.earned_total_fen, team_level1=centre.team_level1,
                team_level2=centre.team_level2)
    return body


class ApplyInput(InputSerializer):
    real_name = serializers.CharField(max_length=32)
    phone = serializers.CharField(max_length=20)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    extra = serializers.DictField(child=serializers.CharField(max_length=200, allow_blank=True), required=False,
                                  default=dict, help_text="附加字段的回答：{key: 值}")


class ApplyView(APIView):
    throttle_classes = [per_member("distribution_apply")]

    @extend_schema(operation_id="distribution_apply", request=ApplyInput, responses={201: MeOutput},
                   description="申请成为分销员（指定分销需运营审核；人人分销、满额分销达标时立即通过）。错误码："
                               "distributor_application_invalid (400，detail.field 指出哪一项)、"
                               "distributor_application_pending / distributor_already_active / distributor_frozen / "
                               "distribution_threshold_not_met / distribution_disabled (409)。")
    @errors(DistributorApplicationInvalid, DistributorApplicationPending, DistributorAlreadyActive,
            DistributorFrozen, DistributionThresholdNotMet, DistributionDisabled)
    def post(self, request: Request) -> Response:
        data = ApplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        distribution.distributor_apply(member=member, data=distribution.ApplicationInput(**data.validated_data))
        body = _me(selectors.distributor_for_member(member_id=member.pk))
        return Response(MeOutput(body).data, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(operation_id="distribution_me", responses={200: MeOutput},
                   description="分销中心：状态、今日/本月/累计佣金、待收货/冻结/可提现/已提现、团队人数。")
    def get(self, request: Request) -> Response:
        member = current_member(request)
        found = distribution.distributor_ensure(member=member)
        return Response(MeOutput(_me(found)).data)


# --- binding ----------------------------------------------------------------------------------------------


class BindInput(InputSerializer):
    scene = serializers.CharField(max_length=64, help_text="分享参数：小程序码 scene 或页面 query 中的 d=<分销员ID>")
    share_type = serializers.ChoiceField(choices=[BindingSource.POSTER, BindingSource.PRODUCT, BindingSource.PAGE],
                                         default=BindingSource.PAGE, help_text="poster 海报 / product 商品 / page 页面")
    share_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="分享的内容，例如 product:17")


class BindingOutput(serializers.ModelSerializer):
    class Meta:
        model = Binding
        fields = ["id", "distributor_id", "source", "bound_at", "expires_at"]


class BindView(APIView):
    throttle_classes = [per_member("distribution_bind")]

    @extend_schema(operation_id="distribution_bind", request=BindInput, responses={201: BindingOutput},
                   description="通过分销员的分享进入后绑定上级。已绑定同一分销员时返回原绑定。错误码："
                               "share_scene_invalid (400)、distributor_not_found (404)、binding_refused 类 (409)："
                               "binding_self / binding_cycle / binding_distributor_inactive / binding_has_upline / "
                               "binding_not_new。")
    @errors(ShareSceneInvalid, DistributorNotFound, BindingRefused, *BINDING_REFUSED)
    def post(self, request: Request) -> Response:
        data = BindInput(data=request.data)
        data.is_valid(raise_exception=True)
        distributor_id = selectors.share_scene_parse(data.validated_data["scene"])
        if distributor_id is None:
            raise ShareSceneInvalid(detail={"scene": data.validated_data["scene"]})
        binding = bindings.binding_bind_on_arrival(member=current_member(request), distributor_id=distributor_id,
                                                   source=data.validated_data["share_type"],
                                                   share_ref=data.validated_data["share_ref"])
        return Response(BindingOutput(binding).data, status=status.HTTP_201_CREATED)


# --- team, commissions --------------------------------------------------------------------------------------


def _mine(request: Request) -> Distributor:
    return distribution.distributor_for_sharing(member=current_member(request))


class TeamMemberOutput(serializers.Serializer):
    nickname = serializers.SerializerMethodField(help_text="昵称（打码）")
    phone = serializers.SerializerMethodField(help_text="手机号（打码）")
    joined_at = serializers.DateTimeField(source="bound_at", help_text="加入时间")
    orders = serializers.IntegerField(help_text="给我带来佣金的订单数")

    def get_nickname(self, binding: Binding) -> str:
        return mask_name(binding.member.nickname) or "会**"

    def get_phone(self, binding: Binding) -> str:
        return mask_phone(binding.member.phone)


class TeamView(generics.ListAPIView):
    serializer_class = TeamMemberOutput
    pagination_class = PageNumberPagination
    queryset = Binding.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Binding.objects.none()
        level = {"": 1, "1": 1, "2": 2}.get(self.request.query_params.get("level", ""))
        if level is None:
            raise ValidationFailed(INVALID_LEVEL.note, code=INVALID_LEVEL.code,
                                   detail={"level": self.request.query_params["level"]})
        return selectors.team_members(distributor=_mine(self.request), level=level, now=timezone.now())

    @extend_schema(operation_id="distribution_team",
                   parameters=[OpenApiParameter("level", int, enum=[1, 2], description="1 直属下级 / 2 二级下级")],
                   description="我的团队，按层级；最新加入的在前。非分销员 403 not_a_distributor。")
    @errors(NotADistributor, INVALID_LEVEL)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class CommissionOutput(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    net_fen = serializers.IntegerField(help_text="扣除退款后的佣金")
    product_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Commission
        fields = ["id", "level", "order_ref", "line_ref", "product_id", "product_name", "base_fen", "percent",
                  "amount_fen", "refunded_fen", "net_fen", "status", "status_label", "settle_at", "created_at"]


class CommissionListView(generics.ListAPIView):
    serializer_class = CommissionOutput
    pagination_class = PageNumberPagination
    queryset = Commission.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Commission.objects.none()
        wanted = self.request.query_params.get("status", "")
        if wanted and wanted not in CommissionStatus.values:
            raise ValidationFailed(INVALID_STATUS.note, code=INVALID_STATUS.code, detail={"status": wanted})
        return selectors.commissions_for_distributor(distributor=_mine(self.request), status=wanted or None)

    @extend_schema(operation_id="distribution_commissions",
                   parameters=[OpenApiParameter("status", str, enum=list(CommissionStatus.values))],
                   description="佣金明细，最新的在前，可按状态筛选。")
    @errors(NotADistributor, INVALID_STATUS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class CommissionDetailView(APIView):
    @extend_schema(operation_id="distribution_commission", responses={200: CommissionOutput},
                   description="一条佣金记录；不是自己的返回 404 commission_not_found。")
    @errors(NotADistributor, CommissionNotFound)
    def get(self, request: Request, commission_id: int) -> Response:
        commission = selectors.commission_for_distributor(distributor=_mine(request), commission_id=commission_id)
        return Response(CommissionOutput(commission).data)


# --- poster, 分享赚 --------------------------------------------------------------------------------------------


class PosterView(APIView):
    @extend_schema(operation_id="distribution_poster", responses={(200, "image/png"): OpenApiTypes.BINARY},
                   description="我的分销海报 PNG（小程序码 scene 为 d=<分销员ID>）。非分销员 403 not_a_distributor。")
    @errors(NotADistributor)
    def get(self, request: Request) -> HttpResponse:
        png = distribution.distributor_poster(member=current_member(request))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class ProductShareOutput(serializers.Serializer):
    earn_fen = serializers.IntegerField(help_text="分享赚：好友按最低价购买时我的一级佣金")
    percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    scene = serializers.CharField(help_text="d=<分销员ID>")
    path = serializers.CharField(help_text="分享卡片的页面路径（带分销员参数）")


class ProductShareView(APIView):
    @extend_schema(operation_id="distribution_product_share", responses={200: ProductShareOutput},
                   description="商品详情页的「分享赚 ¥x」，仅分销员可取（否则 403 not_a_distributor）。")
    @errors(NotADistributor, ApiError(404, "product_not_found", "商品不存在或已下架"))
    def get(self, request: Request, product_id: int) -> Response:
        share = distribution.distributor_product_share(member=current_member(request), product_id=product_id)
        return Response(ProductShareOutput(share).data)


# --- withdrawals -----------------------------------------------------------------------------------------------


class WithdrawInput(InputSerializer):
    amount_fen = serializers.IntegerField(min_value=1, max_value=MAX_FEN, help_text="提现金额（分，含手续费）")


class WithdrawalOutput(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    reason = serializers.SerializerMethodField(help_text="驳回或打款失败的原因")

    class Meta:
        model = Withdrawal
        fields = ["withdrawal_no", "amount_fen", "fee_fen", "net_fen", "status", "status_label", "reason",
                  "created_at", "paid_at"]

    def get_reason(self, withdrawal: Withdrawal) -> str:
        return withdrawal.reject_reason or withdrawal.fail_reason


class WithdrawalListView(generics.ListCreateAPIView):
    serializer_class = WithdrawalOutput
    pagination_class = PageNumberPagination
    queryset = Withdrawal.objects.none()
    throttle_classes = [per_member("withdrawal")]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Withdrawal.objects.none()
        return selectors.withdrawals_for_member(member_id=current_member(self.request).pk)

    @extend_schema(operation_id="distribution_withdrawals", description="提现记录，最新的在前。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="distribution_withdraw", request=WithdrawInput, responses={201: WithdrawalOutput},
                   parameters=[idempotency_header("同一 key 与相同金额重放时返回首次的提现；不同金额返回 409")],
                   description="申请提现，金额立即从可提现转入提现中。错误码：withdrawal_amount_invalid (400，"
                               "低于最低提现金额)、not_a_distributor (403)、withdrawal_exceeds_available / "
                               "withdrawal_daily_limit_reached / distributor_frozen / idempotency_key_reused (409)。")
    @errors(WithdrawalAmountInvalid, NotADistributor, WithdrawalExceedsAvailable, WithdrawalDailyLimitReached,
            DistributorFrozen, IdempotencyKeyReused)
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal, created = withdrawals.withdrawal_request(member=current_member(request),
                                                             amount_fen=data.validated_data["amount_fen"],
                                                             idempotency_key=idempotency_key(request))
        return Response(WithdrawalOutput(withdrawal).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ConfirmParamsOutput(serializers.Serializer):
    # wx.requestMerchantTransfer's own parameter names
    mchId = serializers.CharField()
    appId = serializers.CharField()
    package = serializers.CharField()


class WithdrawalConfirmView(APIView):
    @extend_schema(operation_id="distribution_withdrawal_confirm", responses={200: ConfirmParamsOutput},
                   description="打款中的提现：传给 wx.requestMerchantTransfer 的参数，会员确认后到账。"
                               "错误码：withdrawal_not_found (404)、transfer_not_confirmable (409，当前无需确认)。")
    @errors(WithdrawalNotFound, TransferNotConfirmable)
    def get(self, request: Request, withdrawal_no: str) -> Response:
        params = withdrawals.withdrawal_confirm_params(member_id=current_member(request).pk,
                                                       withdrawal_no=withdrawal_no)
        return Response(ConfirmParamsOutput(params).data)


class WithdrawalDetailView(APIView):
    @extend_schema(operation_id="distribution_withdrawal", responses={200: WithdrawalOutput},
                   description="一笔提现；不是自己的返回 404 withdrawal_not_found。")
    @errors(WithdrawalNotFound)
    def get(self, request: Request, withdrawal_no: str) -> Response:
        withdrawal = selectors.withdrawal_for_member(member_id=current_member(request).pk,
                                                     withdrawal_no=withdrawal_no)
        return Response(WithdrawalOutput(withdrawal).data)


urlpatterns: list[URLPattern] = [
    path("distribution/apply", ApplyView.as_view(), name="distribution-apply"),
    path("distribution/me", MeView.as_view(), name="distribution-me"),
    path("distribution/bind", BindView.as_view(), name="distribution-bind"),
    path("distribution/team", TeamView.as_view(), name="distribution-team"),
    path("distribution/commissions", CommissionListView.as_view(), name="distribution-commissions"),
    path("distribution/commissions/<int:commission_id>", CommissionDetailView.as_view(),
         name="distribution-commission"),
    path("distribution/poster.png", PosterView.as_view(), name="distribution-poster"),
    path("distribution/products/<int:product_id>/share", ProductShareView.as_view(),
         name="distribution-product-share"),
    path("distribution/withdrawals", WithdrawalListView.as_view(), name="distribution-withdrawals"),
    path("distribution/withdrawals/<number:withdrawal_no>", WithdrawalDetailView.as_view(),
         name="distribution-withdrawal"),
    path("distribution/withdrawals/<number:withdrawal_no>/confirm", WithdrawalConfirmView.as_view(),
         name="distribution-withdrawal-confirm"),
]
