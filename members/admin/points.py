"""Points in the console (积分): the ledger and the lots (read-only), and operator adjustments.

积分调整: 新建 calls points_adjustment_create — at or below POINTS_ADJUST_APPROVAL_ABOVE it applies at
once; above it the request waits for 审批 by a different operator, or 驳回. Every button calls
the service, so the console gets the same checks (maker-checker, balance never below zero) and
the same ledger rows as everything else.

For the member page (owned by the member admin): PointsEntryInline (the latest ledger rows) and
PointsLotInline (the lots with points left) can be added to MemberAdmin.inlines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, ServiceViewMixin, request_operator, short_time
from core.errors import DomainError
from core.privacy import console_phone
from members.models import AdjustmentStatus, Member, PointsAdjustment, PointsEntry, PointsLot
from members.services import points_adjustments as services

STATUS_COLOURS: dict[str, str] = {
    AdjustmentStatus.PENDING: "#b26a00",
    AdjustmentStatus.APPLIED: "#2e7d32",
    AdjustmentStatus.REJECTED: "#777",
}
INLINE_ROWS = 50


def member_link(member: Member) -> str:
    phone = f" {console_phone(member.phone)}" if member.phone else ""
    return format_html('<a href="{}">{}</a>{}', reverse("admin:members_member_change", args=[member.pk]),
                       str(member), phone)


def signed(points: int) -> str:
    colour = "#2e7d32" if points > 0 else "#c0392b" if points < 0 else "inherit"
    return format_html('<span style="color:{}">{}</span>', colour, f"{points:+,d}")


# --- the ledger ------------------------------------------------------------------------------------


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created", "member_col", "kind", "delta_col", "balance_after", "reference", "operator",
                    "note"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["member", "operator"]
    search_fields = ["=reference", "=member__phone", "member__nickname", "=member__openid"]
    search_help_text = "按关联单号、会员手机号、昵称或 OpenID 搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("member_col", "kind", "delta_col", "balance_after", "shortfall", "reference",
                                "origin_link", "operator", "note", "created_at")

    @admin.display(description="时间", ordering="created_at")
    def created(self, entry: PointsEntry) -> str:
        return short_time(entry.created_at)

    @admin.display(description="会员")
    def member_col(self, entry: PointsEntry) -> str:
        return member_link(entry.member)

    @admin.display(description="积分变动", ordering="delta")
    def delta_col(self, entry: PointsEntry) -> str:
        return signed(entry.delta)

    @admin.display(description="原流水")
    def origin_link(self, entry: PointsEntry) -> str:
        if entry.origin_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:members_pointsentry_change",
                                                          args=[entry.origin_id]), entry.origin_id)


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "member_col", "earned", "remaining", "earned_at_col", "expires_at_col", "state",
                    "reminded_at"]
    list_filter = [("expires_at", admin.DateFieldListFilter)]
    list_select_related = ["member"]
    search_fields = ["=member__phone", "member__nickname", "=member__openid"]
    search_help_text = "按会员手机号、昵称或 OpenID 搜索"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["expires_at", "id"]
    fields = readonly_fields = ("member_col", "entry", "earned", "remaining", "earned_at", "expires_at",
                                "reminded_at", "expired_at")

    @admin.display(description="会员")
    def member_col(self, lot: PointsLot) -> str:
        return member_link(lot.member)

    @admin.display(description="获得时间", ordering="earned_at")
    def earned_at_col(self, lot: PointsLot) -> str:
        return short_time(lot.earned_at)

    @admin.display(description="过期时间", ordering="expires_at")
    def expires_at_col(self, lot: PointsLot) -> str:
        return short_time(lot.expires_at)

    @admin.display(description="状态")
    def state(self, lot: PointsLot) -> str:
        if lot.expired_at is not None:
            return "已过期"
        if lot.remaining == 0:
            return "已用完"
        return "已到期待处理" if lot.expires_at <= timezone.now() else "有效"


# --- inlines for the member page -------------------------------------------------------------------


class LatestRowsFormSet(BaseInlineFormSet):
    """Only the newest INLINE_ROWS rows: a loyal member's ledger runs to thousands."""

    def get_queryset(self) -> Any:
        return super().get_queryset()[:INLINE_ROWS]


class PointsEntryInline(ReadOnlyInline):
    model = PointsEntry
    fk_name = "member"
    formset = LatestRowsFormSet
    fields = readonly_fields = ("created_at", "kind", "delta", "balance_after", "reference", "operator", "note")
    verbose_name_plural = f"积分流水（最近 {INLINE_ROWS} 条）"
    ordering = ["-id"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("operator")


class PointsLotInline(ReadOnlyInline):
    model = PointsLot
    fields = readonly_fields = ("earned", "remaining", "earned_at", "expires_at", "reminded_at")
    verbose_name_plural = "有效积分批次"
    ordering = ["expires_at", "id"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(remaining__gt=0, expired_at__isnull=True)


# --- adjustments -----------------------------------------------------------------------------------


class AdjustmentCreateForm(forms.Form):
    member = forms.ModelChoiceField(label="会员", queryset=Member.objects.all(), widget=forms.NumberInput,
                                    help_text="会员 ID（可在会员列表中查到）",
                                    error_messages={"invalid_choice": "会员不存在"})
    delta = forms.IntegerField(label="调整积分", min_value=-services.MAX_POINTS, max_value=services.MAX_POINTS,
                               help_text="正数为增加，负数为扣减；扣减不能超过会员当前余额")
    reason = forms.CharField(label="调整原因", max_length=200,
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 60,
                                                          "placeholder": "如 客诉补偿，工单号 12345"}))

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("调整积分不能为 0")
        return delta


class ApproveForm(forms.Form):
    """Nothing to type: the page shows what is approved and the button confirms."""


class RejectForm(forms.Form):
    reason = forms.CharField(label="驳回原因", max_length=200, required=False,
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


@admin.register(PointsAdjustment)
class PointsAdjustmentAdmin(ServiceViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/members/pointsadjustment/change_form.html"
    list_display = ["id", "member_col", "delta_col", "reason", "status_col", "created_by", "created",
                    "decided_by", "decided"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["member", "created_by", "decided_by"]
    search_fields = ["=member__phone", "member__nickname", "=member__openid"]
    search_help_text = "按会员手机号、昵称或 OpenID 搜索"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("member_col", "delta_col", "reason", "status_col", "rule", "created_by",
                                "created_at", "decided_by", "decided_at", "reject_reason", "entry_link")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("members.add_pointsadjustment")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May 审批 / 驳回: the model's change permission (the page itself stays read-only)."""
        return request.user.has_perm("members.change_pointsadjustment")

    # --- columns ---

    @admin.display(description="会员")
    def member_col(self, adjustment: PointsAdjustment) -> str:
        return member_link(adjustment.member)

    @admin.display(description="调整积分", ordering="delta")
    def delta_col(self, adjustment: PointsAdjustment) -> str:
        return signed(adjustment.delta)

    @admin.display(description="状态", ordering="status")
    def status_col(self, adjustment: PointsAdjustment) -> str:
        return format_html('<span class="mall-status" style="--mall-status:{}">{}</span>',
                           STATUS_COLOURS.get(adjustment.status, "#777"), adjustment.get_status_display())

    @admin.display(description="发起时间", ordering="created_at")
    def created(self, adjustment: PointsAdjustment) -> str:
        return short_time(adjustment.created_at)

    @admin.display(description="审批时间", ordering="decided_at")
    def decided(self, adjustment: PointsAdjustment) -> str:
        return short_time(adjustment.decided_at)

    @admin.display(description="审批规则")
    def rule(self, adjustment: PointsAdjustment) -> str:
        limit = settings.POINTS_ADJUST_APPROVAL_ABOVE
        if services.points_adjustment_needs_approval(delta=adjustment.delta):
            return f"超过 {limit} 积分，需另一位运营审批后生效"
        return f"不超过 {limit} 积分，提交即生效"

    @admin.display(description="积分流水")
    def entry_link(self, adjustment: PointsAdjustment) -> str:
        if adjustment.entry_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:members_pointsentry_change",
                                                          args=[adjustment.entry_id]), adjustment.entry_id)

    # --- pages ---

    def get_urls(self) -> list:
        def view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(func)

        custom = [
            path("<path:object_id>/approve/", view(self.approve_view), name="members_pointsadjustment_approve"),
            path("<path:object_id>/reject/", view(self.reject_view), name="members_pointsadjustment_reject"),
        ]
        return custom + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        """新建积分调整: a form that calls points_adjustment_create (not a model save)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"member": request.GET.get("member")} if request.GET.get("member", "").isdigit() else {}
        form = AdjustmentCreateForm(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                adjustment = services.points_adjustment_create(
                    member_id=data["member"].pk, delta=data["delta"], reason=data["reason"],
                    operator=request_operator(request))
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                if adjustment.status == AdjustmentStatus.APPLIED:
                    messages.success(request, f"已为 {adjustment.member} 调整 {adjustment.delta:+d} 积分，已生效")
                else:
                    messages.warning(request, f"调整 {adjustment.delta:+d} 积分超过审批线，已提交，"
                                              "需另一位运营审批后生效")
                return HttpResponseRedirect(reverse("admin:members_pointsadjustment_change", args=[adjustment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "新建积分调整",
            "opts": self.opts,
            "form": form,
            "threshold": settings.POINTS_ADJUST_APPROVAL_ABOVE,
        }
        return TemplateResponse(request, "admin/members/pointsadjustment/create_form.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        adjustment = self.get_object(request, unquote(object_id))
        pending = adjustment is not None and adjustment.status == AdjustmentStatus.PENDING
        operate = self.has_operate_permission(request) and pending
        own = adjustment is not None and adjustment.created_by_id == request.user.pk
        extra = {
            "can_approve": operate and not own,
            "can_reject": operate,
            "awaiting_other": pending and own,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def _facts(self, adjustment: PointsAdjustment) -> list[tuple[str, Any]]:
        member = adjustment.member
        # The balance now, not as loaded with the adjustment: that is what the decision changes.
        balance = Member.objects.filter(pk=adjustment.member_id).values_list("points_balance", flat=True).first()
        created = f"{adjustment.created_by or '—'}（{short_time(adjustment.created_at)}）"
        return [("会员", f"{member} {console_phone(member.phone)}" if member.phone else str(member)),
                ("当前余额", f"{balance} 积分"),
                ("调整积分", signed(adjustment.delta)), ("调整原因", adjustment.reason), ("发起人", created),
                ("状态", self.status_col(adjustment)), ("审批规则", self.rule(adjustment))]

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def approve(adjustment: PointsAdjustment, data: dict[str, Any]) -> str:
            done = services.points_adjustment_approve(adjustment_id=adjustment.pk, operator=request_operator(request))
            return f"积分调整 #{done.pk} 已审批通过，{done.delta:+d} 积分已生效"

        return self.service_view(request, object_id, title="审批积分调整", button="确认审批通过", perform=approve,
                                 facts=self._facts, form_class=ApproveForm)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def reject(adjustment: PointsAdjustment, data: dict[str, Any]) -> str:
            services.points_adjustment_reject(adjustment_id=adjustment.pk, operator=request_operator(request),
                                              reason=data["reason"])
            return f"积分调整 #{adjustment.pk} 已驳回"

        return self.service_view(request, object_id, title="驳回积分调整", button="确认驳回", perform=reject,
                                 facts=self._facts, form_class=RejectForm, danger=True)
