"""提现 in the console: 审核 (maker-checker above the threshold), 打款, 重试 after a failure, 驳回 with
the reason the member sees; bulk 审核 and 打款; the export. Every button calls
campaigns.services.withdrawals; money and statuses are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path
from import_export.admin import ExportMixin

from campaigns.admin.base import BLUE, GREEN, GREY, ORANGE, RED, ReasonForm, badge, no_delete_selected, run_each
from campaigns.models import Withdrawal
from campaigns.models.withdrawals import WITHDRAWAL_MACHINE, WithdrawalEvent, WithdrawalStatus
from campaigns.resources import WithdrawalExportResource
from campaigns.services import withdrawals
from core.admin import (
    AuditTrailInline,
    ExportFieldsForm,
    ReadOnlyAdminMixin,
    ServiceViewMixin,
    money_display,
    request_operator,
    short_time,
    yuan_text,
)
from core.privacy import console_phone
from core.resources import FILE_FORMATS

WS = WithdrawalStatus
WITHDRAWAL_COLOURS: dict[str, str] = {WS.REQUESTED: ORANGE, WS.AWAITING_SECOND_APPROVAL: ORANGE, WS.APPROVED: BLUE,
                                      WS.PAYING: BLUE, WS.PAID: GREEN, WS.FAILED: RED, WS.REJECTED: GREY}


class WithdrawalEventInline(AuditTrailInline):
    model = WithdrawalEvent
    verbose_name_plural = "提现日志"


@admin.register(Withdrawal)
class WithdrawalAdmin(ServiceViewMixin, ExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/withdrawal/change_form.html"
    resource_classes = [WithdrawalExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    list_display = ["withdrawal_no", "created", "distributor", "amount", "fee", "net", "status_col", "reason"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter), ("paid_at", admin.DateFieldListFilter)]
    list_select_related = ["distributor"]
    search_fields = ["=withdrawal_no", "distributor__real_name", "=distributor__phone"]
    search_help_text = "按提现单号、分销员姓名或手机号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    actions = ["approve_selected", "pay_selected"]
    fields = readonly_fields = ("withdrawal_no", "distributor", "amount", "fee", "net", "status_col",
                                "approval_rule", "approved_by", "second_approved_by", "reject_reason", "fail_reason",
                                "attempts", "transfer_reference", "created_at", "approved_at", "paying_at",
                                "paid_at")
    inlines = [WithdrawalEventInline]

    amount = money_display("amount_fen", "提现金额")
    fee = money_display("fee_fen", "手续费")
    net = money_display("net_fen", "到账金额")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    @admin.display(description="申请时间", ordering="created_at")
    def created(self, w: Withdrawal) -> str:
        return short_time(w.created_at)

    @admin.display(description="状态", ordering="status")
    def status_col(self, w: Withdrawal) -> str:
        return badge(w.get_status_display(), WITHDRAWAL_COLOURS.get(w.status, GREY))

    @admin.display(description="原因")
    def reason(self, w: Withdrawal) -> str:
        return w.reject_reason or w.fail_reason

    @admin.display(description="审核规则")
    def approval_rule(self, w: Withdrawal) -> str:
        if withdrawals.withdrawal_needs_second_approval(w):
            return "提现金额超过复核线，需两位不同运营先后审核通过"
        return "一位运营审核即可"

    @admin.action(description="审核通过所选的提现")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        run_each(request, queryset.filter(status__in=[WS.REQUESTED, WS.AWAITING_SECOND_APPROVAL]),
                 lambda w: withdrawals.withdrawal_approve(withdrawal_id=w.pk, operator=request_operator(request)),
                 "已审核")

    @admin.action(description="打款所选的提现（已审核通过的）")
    def pay_selected(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        run_each(request, queryset.filter(status=WS.APPROVED),
                 lambda w: withdrawals.withdrawal_pay(withdrawal_id=w.pk, operator=request_operator(request)),
                 "已发起打款")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        custom = [
            path("<path:object_id>/approve/", view(self.approve_view), name="campaigns_withdrawal_approve"),
            path("<path:object_id>/reject/", view(self.reject_view), name="campaigns_withdrawal_reject"),
            path("<path:object_id>/pay/", view(self.pay_view), name="campaigns_withdrawal_pay"),
        ]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        w = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if w is not None and self.has_operate_permission(request):
            own_first = w.status == WS.AWAITING_SECOND_APPROVAL and w.approved_by_id == request.user.pk
            extra = {"can_approve": w.status in (WS.REQUESTED, WS.AWAITING_SECOND_APPROVAL) and not own_first,
                     "approve_label": "复核通过" if w.status == WS.AWAITING_SECOND_APPROVAL else "审核通过",
                     "awaiting_other": own_first,
                     "can_reject": WITHDRAWAL_MACHINE.can(w, WS.REJECTED),
                     "can_pay": w.status in (WS.APPROVED, WS.FAILED),
                     "pay_label": "重试打款" if w.status == WS.FAILED else "打款"}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _facts(self, w: Withdrawal) -> list[tuple[str, Any]]:
        d = w.distributor
        return [("分销员", f"{d}（{console_phone(d.phone)}）"), ("提现金额", yuan_text(w.amount_fen)),
                ("手续费", yuan_text(w.fee_fen)), ("到账金额", yuan_text(w.net_fen)), ("状态", w.get_status_display()),
                ("审核规则", self.approval_rule(w)), ("失败原因", w.fail_reason)]

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def approve(w: Withdrawal, data: dict[str, Any]) -> str:
            done = withdrawals.withdrawal_approve(withdrawal_id=w.pk, operator=request_operator(request))
            if done.status == WS.AWAITING_SECOND_APPROVAL:
                return f"提现 {done.withdrawal_no} 初审通过，需另一位运营复核"
            return f"提现 {done.withdrawal_no} 已审核通过，可以打款"

        return self.service_view(request, object_id, title="审核提现", button="确认通过", perform=approve,
                                 facts=self._facts)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def reject(w: Withdrawal, data: dict[str, Any]) -> str:
            withdrawals.withdrawal_reject(withdrawal_id=w.pk, operator=request_operator(request),
                                          reason=data["reason"])
            return f"提现 {w.withdrawal_no} 已驳回，金额已退回可提现余额"

        return self.service_view(request, object_id, title="驳回提现", button="确认驳回", perform=reject,
                                 facts=self._facts, form_class=ReasonForm, danger=True)

    def pay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def pay(w: Withdrawal, data: dict[str, Any]) -> str:
            done = withdrawals.withdrawal_pay(withdrawal_id=w.pk, operator=request_operator(request))
            return f"提现 {done.withdrawal_no} 已发起打款（转账单 {done.transfer_reference}），等待会员确认收款"

        return self.service_view(request, object_id, title="打款", button="确认打款", perform=pay, facts=self._facts)
