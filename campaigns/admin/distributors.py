"""分销员 in the console: the distributors (team, sales, commission, grade) with 审核通过 / 驳回 / 冻结 /
解冻 / 调整等级, the 待审核 applications with bulk actions, and the rankings (分销排行).

Every button and action calls campaigns.services.distribution; money and statuses are read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ExportMixin

from campaigns.admin.base import (
    GREEN,
    GREY,
    ORANGE,
    RED,
    ReasonActionForm,
    ReasonForm,
    action_reason,
    badge,
    member_link,
    no_delete_selected,
    run_each,
)
from campaigns.models import Binding, Commission, Distributor, DistributorApplication, DistributorGrade
from campaigns.models.commissions import CommissionStatus
from campaigns.models.distribution import (
    DISTRIBUTOR_MACHINE,
    ApplicationOutcome,
    BindingStatus,
    DistributorEvent,
    DistributorStatus,
)
from campaigns.resources import DistributorExportResource
from campaigns.services import distribution
from core.admin import (
    AuditTrailInline,
    ExportFieldsForm,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceViewMixin,
    money_display,
    phone_display,
    request_operator,
    short_time,
    yuan_text,
)
from core.privacy import console_phone
from core.resources import FILE_FORMATS

DS = DistributorStatus
DISTRIBUTOR_COLOURS: dict[str, str] = {DS.APPLYING: ORANGE, DS.ACTIVE: GREEN, DS.REJECTED: GREY, DS.FROZEN: RED}


class DistributorEventInline(AuditTrailInline):
    model = DistributorEvent
    verbose_name_plural = "分销员日志"


class ApplicationInline(ReadOnlyInline):
    model = DistributorApplication
    fields = readonly_fields = ("created_at", "real_name", "phone_shown", "reason", "extra", "outcome",
                                "reject_reason", "decided_by", "decided_at")
    verbose_name_plural = "申请记录"

    phone_shown = phone_display("phone", "手机号")


def distributors_with_stats(rows: QuerySet[Distributor]) -> Any:
    """Distributors with their current team size (直属下级), promoted sales (level-1 paid amounts net
    of refunds) and commission earned (net, cancelled left out): one subquery each, per page."""
    now = timezone.now()
    team = (Binding.objects.filter(distributor=OuterRef("pk"), status=BindingStatus.ACTIVE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).order_by().values("distributor")
            .annotate(n=Count("pk")).values("n"))
    earned = Commission.objects.filter(distributor=OuterRef("pk")).exclude(status=CommissionStatus.CANCELLED)
    sales = (earned.filter(level=1).order_by().values("distributor")
             .annotate(total=Sum(F("base_fen") * (F("amount_fen") - F("refunded_fen")) / F("amount_fen")))
             .values("total"))
    commission = (earned.order_by().values("distributor").annotate(total=Sum(F("amount_fen") - F("refunded_fen")))
                  .values("total"))
    return rows.annotate(team_size=Coalesce(Subquery(team, output_field=IntegerField()), 0),
                         sales_fen=Coalesce(Subquery(sales, output_field=IntegerField()), 0),
                         commission_fen=Coalesce(Subquery(commission, output_field=IntegerField()), 0))


@admin.register(Distributor)
class DistributorAdmin(ServiceViewMixin, ExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/distributor/change_form.html"
    import_export_change_list_template = "admin/campaigns/distributor/change_list.html"  # export + 分销排行
    resource_classes = [DistributorExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    list_display = ["member_col", "real_name", "phone_shown", "status_col", "grade", "team", "sales", "commission",
                    "available"]
    list_filter = ["status", "grade", "source"]
    list_select_related = ["member", "grade"]
    search_fields = ["real_name", "=phone", "=member__phone", "member__nickname"]
    search_help_text = "按真实姓名、手机号或会员昵称搜索"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    action_form = ReasonActionForm
    actions = ["approve_selected", "reject_selected", "freeze_selected", "unfreeze_selected"]
    fields = readonly_fields = ("member_col", "real_name", "phone_shown", "status_col", "source", "grade",
                                "reject_reason", "freeze_reason", "pending", "frozen", "available", "withdrawing",
                                "withdrawn", "owed", "created_at", "approved_at")
    inlines = [ApplicationInline, DistributorEventInline]

    phone_shown = phone_display("phone", "手机号")
    pending = money_display("pending_fen", "待收货佣金")
    frozen = money_display("frozen_fen", "冻结佣金")
    available = money_display("available_fen", "可提现")
    withdrawing = money_display("withdrawing_fen", "提现中")
    withdrawn = money_display("withdrawn_fen", "已提现")
    owed = money_display("owed_fen", "待扣回")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Distributor]:
        return distributors_with_stats(super().get_queryset(request))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    @admin.display(description="会员")
    def member_col(self, d: Distributor) -> str:
        return member_link(d.member_id, str(d.member))

    @admin.display(description="状态", ordering="status")
    def status_col(self, d: Distributor) -> str:
        return badge(d.get_status_display(), DISTRIBUTOR_COLOURS.get(d.status, GREY))

    @admin.display(description="团队人数", ordering="team_size")
    def team(self, d: Any) -> int:
        return int(d.team_size)

    @admin.display(description="推广金额", ordering="sales_fen")
    def sales(self, d: Any) -> str:
        return yuan_text(d.sales_fen)

    @admin.display(description="累计佣金", ordering="commission_fen")
    def commission(self, d: Any) -> str:
        return yuan_text(d.commission_fen)

    @admin.display(description="成为分销员", ordering="approved_at")
    def approved(self, d: Distributor) -> str:
        return short_time(d.approved_at)

    # --- bulk actions ---

    @admin.action(description="审核通过所选的申请")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Distributor]) -> None:
        run_each(request, queryset.filter(status=DS.APPLYING),
                 lambda d: distribution.distributor_approve(distributor_id=d.pk, operator=request_operator(request)),
                 "已审核通过")

    @admin.action(description="驳回所选的申请（填写原因）")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Distributor]) -> None:
        reason = action_reason(request, "驳回")
        if reason is None:
            return
        run_each(request, queryset.filter(status=DS.APPLYING),
                 lambda d: distribution.distributor_reject(distributor_id=d.pk, operator=request_operator(request),
                                                           reason=reason), "已驳回")

    @admin.action(description="冻结所选的分销员（填写原因）")
    def freeze_selected(self, request: HttpRequest, queryset: QuerySet[Distributor]) -> None:
        reason = action_reason(request, "冻结")
        if reason is None:
            return
        run_each(request, queryset.filter(status=DS.ACTIVE),
                 lambda d: distribution.distributor_freeze(distributor_id=d.pk, operator=request_operator(request),
                                                           reason=reason), "已冻结")

    @admin.action(description="解冻所选的分销员")
    def unfreeze_selected(self, request: HttpRequest, queryset: QuerySet[Distributor]) -> None:
        run_each(request, queryset.filter(status=DS.FROZEN),
                 lambda d: distribution.distributor_unfreeze(distributor_id=d.pk, operator=request_operator(request)),
                 "已解冻")

    # --- buttons on the distributor page, and the rankings ---

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        custom = [
            path("ranking/", view(self.ranking_view), name="campaigns_distributor_ranking"),
            path("<path:object_id>/approve/", view(self.approve_view), name="campaigns_distributor_approve"),
            path("<path:object_id>/reject/", view(self.reject_view), name="campaigns_distributor_reject"),
            path("<path:object_id>/freeze/", view(self.freeze_view), name="campaigns_distributor_freeze"),
            path("<path:object_id>/unfreeze/", view(self.unfreeze_view), name="campaigns_distributor_unfreeze"),
            path("<path:object_id>/grade/", view(self.grade_view), name="campaigns_distributor_grade"),
        ]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        d = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if d is not None and self.has_operate_permission(request):
            extra = {"can_approve": DISTRIBUTOR_MACHINE.can(d, DS.ACTIVE, allowed_from=[DS.APPLYING]),
                     "can_reject": DISTRIBUTOR_MACHINE.can(d, DS.REJECTED),
                     "can_freeze": DISTRIBUTOR_MACHINE.can(d, DS.FROZEN),
                     "can_unfreeze": DISTRIBUTOR_MACHINE.can(d, DS.ACTIVE, allowed_from=[DS.FROZEN]),
                     "can_grade": True}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _facts(self, d: Distributor) -> list[tuple[str, Any]]:
        application = d.applications.order_by("-id").first()
        return [("会员", str(d.member)), ("真实姓名", d.real_name), ("手机号", console_phone(d.phone)),
                ("状态", d.get_status_display()), ("等级", d.grade),
                ("申请理由", application.reason if application else ""),
                ("可提现", yuan_text(d.available_fen))]

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def approve(d: Distributor, data: dict[str, Any]) -> str:
            distribution.distributor_approve(distributor_id=d.pk, operator=request_operator(request))
            return f"{d} 已审核通过，已通知申请人"

        return self.service_view(request, object_id, title="审核通过", button="确认通过", perform=approve,
                                 facts=self._facts)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def reject(d: Distributor, data: dict[str, Any]) -> str:
            distribution.distributor_reject(distributor_id=d.pk, operator=request_operator(request),
                                            reason=data["reason"])
            return f"{d} 的申请已驳回"

        return self.service_view(request, object_id, title="驳回申请", button="确认驳回", perform=reject,
                                 facts=self._facts, form_class=ReasonForm, danger=True)

    def freeze_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def freeze(d: Distributor, data: dict[str, Any]) -> str:
            distribution.distributor_freeze(distributor_id=d.pk, operator=request_operator(request),
                                            reason=data["reason"])
            return f"{d} 已冻结：不再产生新佣金，不能提现"

        return self.service_view(request, object_id, title="冻结分销员", button="确认冻结", perform=freeze,
                                 facts=self._facts, form_class=ReasonForm, danger=True)

    def unfreeze_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def unfreeze(d: Distributor, data: dict[str, Any]) -> str:
            distribution.distributor_unfreeze(distributor_id=d.pk, operator=request_operator(request))
            return f"{d} 已解冻"

        return self.service_view(request, object_id, title="解冻分销员", button="确认解冻", perform=unfreeze,
                                 facts=self._facts)

    def grade_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        class GradeForm(forms.Form):
            grade = forms.ModelChoiceField(label="分销等级", queryset=DistributorGrade.objects.order_by("level"),
                                           required=False, empty_label="无等级")

        def set_grade(d: Distributor, data: dict[str, Any]) -> str:
            grade = data["grade"]
            distribution.distributor_set_grade(distributor_id=d.pk, grade_id=grade.pk if grade else None,
                                               operator=request_operator(request))
            return f"{d} 的等级已调整为{grade or '无等级'}"

        return self.service_view(request, object_id, title="调整等级", button="保存", perform=set_grade,
                                 facts=self._facts, form_class=GradeForm)

    def ranking_view(self, request: HttpRequest) -> HttpResponse:
        """分销排行: the top distributors by commission this month, commission in all, and team size."""
        now = timezone.localtime()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        active = distributors_with_stats(Distributor.objects.filter(status__in=[DS.ACTIVE, DS.FROZEN])
                                         .select_related("member", "grade"))
        month_total = (Commission.objects.filter(distributor=OuterRef("pk"), created_at__gte=month)
                       .exclude(status=CommissionStatus.CANCELLED).order_by().values("distributor")
                       .annotate(total=Sum(F("amount_fen") - F("refunded_fen"))).values("total"))
        this_month = active.annotate(month_fen=Coalesce(Subquery(month_total, output_field=IntegerField()), 0))
        boards = [
            ("本月佣金", [(d, yuan_text(d.month_fen)) for d in this_month.filter(month_fen__gt=0)
                      .order_by("-month_fen", "pk")[:20]]),
            ("累计佣金", [(d, yuan_text(d.commission_fen)) for d in active.filter(commission_fen__gt=0)
                      .order_by("-commission_fen", "pk")[:20]]),
            ("团队人数", [(d, f"{d.team_size} 人") for d in active.filter(team_size__gt=0)
                      .order_by("-team_size", "pk")[:20]]),
        ]
        context = {**self.admin_site.each_context(request), "title": "分销排行", "opts": self.opts,
                   "boards": boards}
        return TemplateResponse(request, "admin/campaigns/distributor/ranking.html", context)


@admin.register(DistributorApplication)
class DistributorApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """待审核: the applications, open ones first; the bulk actions call the distributor services."""

    list_display = ["created", "member_col", "real_name", "phone_shown", "reason", "outcome_col", "decided_by",
                    "decided"]
    phone_shown = phone_display("phone", "手机号")
    list_filter = ["outcome"]
    list_select_related = ["member", "decided_by"]
    search_fields = ["real_name", "=phone"]
    show_full_result_count = False
    list_per_page = 50
    action_form = ReasonActionForm
    actions = ["approve_selected", "reject_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DistributorApplication]:
        # Open applications (not decided yet) first, then the newest.
        return super().get_queryset(request).order_by(F("decided_at").desc(nulls_first=True), "-id")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="申请时间", ordering="created_at")
    def created(self, application: DistributorApplication) -> str:
        return short_time(application.created_at)

    @admin.display(description="审核时间", ordering="decided_at")
    def decided(self, application: DistributorApplication) -> str:
        return short_time(application.decided_at)

    @admin.display(description="会员")
    def member_col(self, application: DistributorApplication) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:campaigns_distributor_change",
                                                          args=[application.distributor_id]), str(application.member))

    @admin.display(description="审核结果", ordering="outcome")
    def outcome_col(self, application: DistributorApplication) -> str:
        colours: dict[str, str] = {ApplicationOutcome.APPROVED: GREEN, ApplicationOutcome.REJECTED: GREY}
        colour = colours.get(application.outcome, ORANGE)
        return badge(application.get_outcome_display(), colour)

    @admin.action(description="审核通过所选的申请")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[DistributorApplication]) -> None:
        run_each(request, queryset.filter(outcome=ApplicationOutcome.PENDING),
                 lambda a: distribution.distributor_approve(distributor_id=a.distributor_id,
                                                            operator=request_operator(request)), "已审核通过")

    @admin.action(description="驳回所选的申请（填写原因）")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[DistributorApplication]) -> None:
        reason = action_reason(request, "驳回")
        if reason is None:
            return
        run_each(request, queryset.filter(outcome=ApplicationOutcome.PENDING),
                 lambda a: distribution.distributor_reject(distributor_id=a.distributor_id,
                                                           operator=request_operator(request), reason=reason),
                 "已驳回")
