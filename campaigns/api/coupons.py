"""The coupon centre (领券中心), claiming, and the shopper's own coupons (我的优惠券).

    GET  /api/v1/coupons/center                        templates with their state for the caller
                                                         (a token is optional: anonymous callers see
                                                         states without member information)
    POST /api/v1/coupons/center/{template_id}/claim    → 201 the coupon (Idempotency-Key: a retry
                                                         returns the first coupon, header
                                                         Idempotent-Replayed: true)
    GET  /api/v1/coupons/mine?status=available|used|expired
    GET  /api/v1/coupons/mine/{coupon_id}

Money is in fen; every kind, status and state comes with its Chinese label, and each coupon with
the texts the mini-program shows (threshold_text "满100可用" / "无门槛", benefit_text "减10元" /
"8.5折，最高减20元" / "免运费", validity_text).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import (
    CouponBudgetExhausted,
    CouponDailyLimitReached,
    CouponLimitReached,
    CouponNotFound,
    CouponSoldOut,
    CouponTemplateNotFound,
)
from campaigns.models import Coupon, CouponSource, CouponStatus, CouponTemplate, Scope
from campaigns.selectors import coupons as selectors
from campaigns.selectors.coupons import CENTRE_STATE_LABELS, MINE_STATUS_LABELS, CentreEntry, MineStatus
from campaigns.services import claims
from campaigns.services.coupons import INELIGIBLE
from core.api.headers import idempotency_header, idempotency_key
from core.api.schema import ApiError, errors
from core.api.throttles import per_member
from core.errors import DomainError, ValidationFailed
from core.idempotency import IdempotencyKeyReused
from members.api.views import current_member, optional_member

IDEMPOTENCY_HEADER = idempotency_header(
    "同一会员、同一 key 重试时返回首次领取的券（即使每人可领多张也不会多领）；"
    "同一 key 用于另一张券返回 409 idempotency_key_reused")


# Why a coupon is not given (coupon_grant): the claim rules (403) and the limits (409).
COUPON_GRANT_ERRORS: tuple[ApiError | type[DomainError], ...] = (
    *(ApiError(403, code, note) for code, note in INELIGIBLE.items()),
    CouponLimitReached, CouponDailyLimitReached, CouponSoldOut, CouponBudgetExhausted,
)


class TemplateTextsOutput(serializers.Serializer):
    """What every coupon shows, from its template."""

    template_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    threshold_fen = serializers.IntegerField(help_text="使用门槛（分），0 表示无门槛")
    amount_fen = serializers.IntegerField(help_text="优惠金额（分）；运费券为 0 表示免运费")
    pay_percent = serializers.IntegerField(allow_null=True, help_text="折扣券：85 表示 8.5 折")
    max_discount_fen = serializers.IntegerField(allow_null=True, help_text="折扣券最高优惠（分）")
    threshold_text = serializers.SerializerMethodField(help_text="满100可用 / 无门槛")
    benefit_text = serializers.SerializerMethodField(help_text="减10元 / 8.5折，最高减20元 / 免运费")
    scope = serializers.ChoiceField(choices=Scope.choices)
    scope_label = serializers.CharField(source="get_scope_display")
    stacks_with_activities = serializers.BooleanField()

    def get_threshold_text(self, template: CouponTemplate) -> str:
        return selectors.threshold_text(template)

    def get_benefit_text(self, template: CouponTemplate) -> str:
        return selectors.benefit_text(template)


# --- the coupon centre ---------------------------------------------------------------------------


class CentreEntryOutput(serializers.Serializer):
    template_id = serializers.IntegerField(source="template.pk")
    name = serializers.CharField(source="template.name")
    kind = serializers.CharField(source="template.kind")
    kind_label = serializers.CharField(source="template.get_kind_display")
    threshold_fen = serializers.IntegerField(source="template.threshold_fen", help_text="使用门槛（分），0 表示无门槛")
    amount_fen = serializers.IntegerField(source="template.amount_fen", help_text="优惠金额（分）")
    pay_percent = serializers.IntegerField(source="template.pay_percent", allow_null=True,
                                           help_text="折扣券：85 表示 8.5 折")
    max_discount_fen = serializers.IntegerField(source="template.max_discount_fen", allow_null=True)
    threshold_text = serializers.SerializerMethodField(help_text="满100可用 / 无门槛")
    benefit_text = serializers.SerializerMethodField(help_text="减10元 / 8.5折，最高减20元 / 免运费")
    scope = serializers.CharField(source="template.scope")
    scope_label = serializers.CharField(source="template.get_scope_display")
    validity = serializers.CharField(source="template.validity")
    validity_text = serializers.SerializerMethodField(help_text="领取后7天内有效 / 2026.11.01-2026.11.11")
    valid_from = serializers.DateTimeField(source="template.valid_from", allow_null=True,
                                           help_text="固定日期券的生效时间；领取后 N 天的券为 null")
    valid_until = serializers.DateTimeField(source="template.valid_until", allow_null=True,
                                            help_text="固定日期券的失效时间（不含）")
    valid_days = serializers.IntegerField(source="template.valid_days", allow_null=True)
    claim_starts_at = serializers.DateTimeField(source="template.claim_starts_at", allow_null=True)
    claim_ends_at = serializers.DateTimeField(source="template.claim_ends_at", allow_null=True)
    per_member_limit = serializers.IntegerField(source="template.per_member_limit")
    total_quantity = serializers.IntegerField(source="template.total_quantity", allow_null=True,
                                              help_text="null 表示不限量")
    remaining_quantity = serializers.IntegerField(allow_null=True)
    remaining_percent = serializers.IntegerField(allow_null=True, help_text="进度条：剩余百分比 0–100；不限量为 null")
    state = serializers.ChoiceField(choices=[(s.value, label) for s, label in CENTRE_STATE_LABELS.items()])
    state_label = serializers.CharField(help_text="立即领取 / 已领取 / 已抢光 / 已发完 / 不可领取")
    reason_code = serializers.CharField(help_text="state 为 not_eligible 时的原因代码，否则为空")
    reason_message = serializers.CharField()
    claimed_count = serializers.IntegerField(allow_null=True, help_text="已领张数；未登录为 null")

    def get_threshold_text(self, entry: CentreEntry) -> str:
        return selectors.threshold_text(entry.template)

    def get_benefit_text(self, entry: CentreEntry) -> str:
        return selectors.benefit_text(entry.template)

    def get_validity_text(self, entry: CentreEntry) -> str:
        return selectors.validity_text(entry.template)


class CouponCentreView(generics.GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = CentreEntryOutput
    queryset = CouponTemplate.objects.none()  # for the schema; get() asks the selector

    @extend_schema(operation_id="coupon_centre_list", responses={200: CentreEntryOutput(many=True)},
                   description="领券中心：可领的券及其对当前用户的状态。无需登录；带登录凭证时返回已领、"
                               "会员等级/人群/新客等资格。state：claimable 立即领取、claimed 已领取（已达每人限领）、"
                               "sold_out 已抢光、budget_exhausted 补贴已发完、not_eligible 不可领取（见 reason_code："
                               "coupon_claim_not_started、coupon_new_customer_only、coupon_tier_restricted、"
                               "coupon_segment_restricted、coupon_daily_limit_reached）。")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        page = self.paginate_queryset(selectors.coupon_centre_templates(now=now))
        assert page is not None
        entries = selectors.coupon_centre_entries(templates=page, member=optional_member(request), now=now)
        return self.get_paginated_response(CentreEntryOutput(entries, many=True).data)


class CouponOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.SerializerMethodField(help_text="available 未使用 / locked 已锁定 / used 已使用 / "
                                                         "expired 已过期（过了有效期即为 expired）")
    status_label = serializers.SerializerMethodField()
    usable_now = serializers.SerializerMethodField(help_text="现在可用于下单（未使用且在有效期内）")
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(help_text="失效时间（不含）")
    source = serializers.ChoiceField(choices=CouponSource.choices)  # type: ignore[assignment]
    source_label = serializers.CharField(source="get_source_display")
    claimed_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)
    discount_fen = serializers.IntegerField(help_text="使用时抵扣的金额（分）")
    template = TemplateTextsOutput()

    def _now(self) -> dt.datetime:
        return self.context.get("now") or timezone.now()

    @extend_schema_field(serializers.ChoiceField(choices=CouponStatus.choices))
    def get_status(self, coupon: Coupon) -> str:
        return selectors.coupon_status_now(coupon, now=self._now())

    def get_status_label(self, coupon: Coupon) -> str:
        return str(CouponStatus(self.get_status(coupon)).label)

    def get_usable_now(self, coupon: Coupon) -> bool:
        now = self._now()
        return coupon.status == CouponStatus.AVAILABLE and coupon.valid_from <= now < coupon.valid_until


class CouponClaimView(APIView):
    throttle_classes = [per_member("coupon_claim")]

    @errors(ApiError(404, CouponTemplateNotFound.code, "不存在、未上架或已停用"), *COUPON_GRANT_ERRORS,
            IdempotencyKeyReused)
    @extend_schema(operation_id="coupon_centre_claim", request=None, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: CouponOutput}, description="在领券中心领取一张券。")
    def post(self, request: Request, template_id: int) -> Response:
        key = idempotency_key(request)
        grant = claims.coupon_claim_keyed(member=current_member(request), template_id=template_id,
                                          idempotency_key=key)
        headers = {} if grant.created else {"Idempotent-Replayed": "true"}
        return Response(CouponOutput(grant.coupon).data, status=status.HTTP_201_CREATED, headers=headers)


# --- my coupons ----------------------------------------------------------------------------------


class MyCouponListView(generics.ListAPIView):
    serializer_class = CouponOutput
    queryset = Coupon.objects.none()  # for the schema; get_queryset() scopes by member

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[(s.value, label) for s, label in MINE_STATUS_LABELS.items()],
                                         required=False, default=MineStatus.AVAILABLE.value)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Coupon.objects.none()
        params = self.InputSerializer(data={"status": self.request.query_params.get("status") or "available"})
        if not params.is_valid():
            raise ValidationFailed("status 须为 available、used 或 expired", code="invalid_status",
                                   detail={"status": self.request.query_params.get("status")})
        return selectors.coupon_list_for_member(member=current_member(self.request),
                                                status=params.validated_data["status"], now=self._now())

    def _now(self) -> dt.datetime:
        if not hasattr(self, "_now_value"):
            self._now_value = timezone.now()
        return self._now_value

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": self._now()}

    @errors(ApiError(400, "invalid_status", "status 不是 available、used 或 expired"))
    @extend_schema(operation_id="coupons_mine", parameters=[
        OpenApiParameter("status", str, enum=[s.value for s in MineStatus], required=False,
                         description="available 未使用（默认，不传或为空时；含已锁定；不含已过有效期的）/ "
                                     "used 已使用 / expired 已过期")],
        description="我的优惠券。未使用按到期先后排序。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class MyCouponDetailView(APIView):
    @errors(ApiError(404, CouponNotFound.code, "不存在或是他人的券"))
    @extend_schema(operation_id="coupons_mine_retrieve", responses={200: CouponOutput}, description="我的一张优惠券。")
    def get(self, request: Request, coupon_id: int) -> Response:
        coupon = selectors.coupon_detail_for_member(member=current_member(request), coupon_id=coupon_id)
        return Response(CouponOutput(coupon).data)


urlpatterns: list[URLPattern] = [
    path("coupons/center", CouponCentreView.as_view(), name="coupon-centre"),
    path("coupons/center/<int:template_id>/claim", CouponClaimView.as_view(), name="coupon-claim"),
    path("coupons/mine", MyCouponListView.as_view(), name="coupons-mine"),
    path("coupons/mine/<int:coupon_id>", MyCouponDetailView.as_view(), name="coupon-mine-detail"),
]
