"""The distribution console (分销): settings, grades and rates, bindings (改绑), commission records,
clawbacks and the ledger. Distributors and their applications are in campaigns.admin.distributors,
withdrawals in campaigns.admin.withdrawals.

Every button calls a campaigns service (the same locks, checks and audit rows as the API); money,
statuses and ledgers are read-only here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse
from django.urls import path
from import_export.admin import ExportMixin

from campaigns.admin.base import BLUE, GREEN, GREY, ORANGE, badge, member_link
from campaigns.models import (
    Binding,
    Clawback,
    Commission,
    CommissionEntry,
    CommissionRate,
    DistributionSettings,
    Distributor,
    DistributorGrade,
)
from campaigns.models.commissions import ClawbackEvent, CommissionEvent, CommissionStatus
from campaigns.models.distribution import BindingEvent, BindingStatus
from campaigns.resources import CommissionExportResource
from campaigns.services import bindings
from core.admin import (
    AuditTrailInline,
    ExportFieldsForm,
    ReadOnlyAdminMixin,
    ServiceViewMixin,
    YuanFormField,
    money_display,
    request_operator,
    short_time,
)
from core.resources import FILE_FORMATS
from members.admin.tiers import SingletonAdmin

COMMISSION_COLOURS: dict[str, str] = {CommissionStatus.PENDING: BLUE, CommissionStatus.FROZEN: ORANGE,
                                      CommissionStatus.AVAILABLE: GREEN, CommissionStatus.WITHDRAWN: GREY,
                                      CommissionStatus.CANCELLED: GREY}


# --- settings, grades, rates -----------------------------------------------------------------------------


class DistributionSettingsForm(forms.ModelForm):
    levels = forms.TypedChoiceField(label="分销层级", coerce=int, choices=[(1, "一级分销"), (2, "二级分销")],
                                    help_text="最多二级：三级分销违法，不可设置",
                                    error_messages={"invalid_choice": "最多只能设置二级分销（三级分销违法）"})
    threshold_fen = YuanFormField(label="满额分销门槛（元）", empty_fen=0,
                                  help_text="满额分销模式下，累计实付达到此金额自动成为分销员")
    withdraw_min_fen = YuanFormField(label="最低提现金额（元）")
    withdraw_daily_max_fen = YuanFormField(label="每日提现上限（元）", required=False, empty_fen=None,
                                           help_text="留空表示不限")
    second_approval_above_fen = YuanFormField(label="需复核的提现金额（元）",
                                              help_text="超过此金额的提现须另一位运营复核")

    class Meta:
        model = DistributionSettings
        fields = ["enabled", "mode", "threshold_fen", "levels", "level1_percent", "level2_percent", "self_purchase",
                  "binding_scope", "binding_days", "later_scan_overrides", "settle_days", "withdraw_min_fen",
                  "withdraw_daily_max_fen", "withdraw_fee_percent", "second_approval_above_fen",
                  "application_fields"]
        widgets = {"application_fields": forms.Textarea(attrs={"rows": 4, "cols": 70})}
        help_texts = {"application_fields": '例如 [{"key": "wechat", "label": "微信号", "required": true}]'}

    def clean_withdraw_min_fen(self) -> int:
        value = self.cleaned_data["withdraw_min_fen"]
        if value < 1:
            raise forms.ValidationError("最低提现金额至少 ¥0.01")
        return int(value)

    def clean_application_fields(self) -> list[dict[str, Any]]:
        value = self.cleaned_data.get("application_fields") or []
        if not isinstance(value, list) or not all(isinstance(q, dict) and str(q.get("key", "")).strip()
                                                  for q in value):
            raise forms.ValidationError("请填写字段列表，每项包含 key、label，可选 required")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("level1_percent", "level2_percent", "withdraw_fee_percent"):
            value = data.get(name)
            if value is not None and not Decimal(0) <= value < Decimal(100):
                self.add_error(name, "比例须在 0 到 100 之间")
        daily, minimum = data.get("withdraw_daily_max_fen"), data.get("withdraw_min_fen")
        if daily is not None and minimum is not None and daily < minimum:
            self.add_error("withdraw_daily_max_fen", "每日上限不能低于最低提现金额")
        return data


@admin.register(DistributionSettings)
class DistributionSettingsAdmin(SingletonAdmin):
    form = DistributionSettingsForm
    fieldsets = [
        ("分销模式与佣金", {"fields": ["enabled", "mode", "threshold_fen", "levels", "level1_percent",
                                 "level2_percent", "self_purchase"]}),
        ("绑定关系", {"fields": ["binding_scope", "binding_days", "later_scan_overrides"]}),
        ("结算与提现", {"fields": ["settle_days", "withdraw_min_fen", "withdraw_daily_max_fen",
                               "withdraw_fee_percent", "second_approval_above_fen"]}),
        ("申请表", {"fields": ["application_fields"]}),
        (None, {"fields": ["updated_at", "updated_by"]}),
    ]
    readonly_fields = ["updated_at", "updated_by"]
    radio_fields = {"mode": admin.VERTICAL, "binding_scope": admin.VERTICAL}

    def save_model(self, request: HttpRequest, obj: DistributionSettings, form: Any, change: bool) -> None:
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class DistributorGradeForm(forms.ModelForm):
    upgrade_sales_fen = YuanFormField(label="升级条件：推广金额（元）", empty_fen=0,
                                      help_text="一级推广订单的实付金额（扣除退款）累计达到")

    class Meta:
        model = DistributorGrade
        fields = ["name", "level", "level1_percent", "level2_percent", "upgrade_sales_fen", "upgrade_team_size"]


@admin.register(DistributorGrade)
class DistributorGradeAdmin(admin.ModelAdmin):
    form = DistributorGradeForm
    list_display = ["name", "level", "level1_percent", "level2_percent", "upgrade_sales", "upgrade_team_size"]
    ordering = ["level"]
    upgrade_sales = money_display("upgrade_sales_fen", "升级推广金额")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and Distributor.objects.filter(grade=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(CommissionRate)
class CommissionRateAdmin(admin.ModelAdmin):
    list_display = ["target", "level1_percent", "level2_percent"]
    list_select_related = ["product", "category"]
    autocomplete_fields = ["product", "category"]
    search_fields = ["product__name", "category__name"]

    @admin.display(description="商品 / 分类")
    def target(self, rate: CommissionRate) -> str:
        return f"商品：{rate.product}" if rate.product_id else f"分类：{rate.category}"


# --- bindings ---------------------------------------------------------------------------------------------


class BindingEventInline(AuditTrailInline):
    model = BindingEvent
    verbose_name_plural = "分销关系日志"


class RebindForm(forms.Form):
    distributor_id = forms.IntegerField(label="新上级分销员ID", min_value=1, required=False,
                                        help_text="留空表示只解除绑定")
    reason = forms.CharField(label="原因", max_length=200, widget=forms.Textarea(attrs={"rows": 3, "cols": 50}))


@admin.register(Binding)
class BindingAdmin(ServiceViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/binding/change_form.html"
    list_display = ["id", "member_col", "distributor", "source", "status", "bound", "expires", "end_reason"]
    list_filter = ["status", "source", "end_reason"]
    list_select_related = ["member", "distributor"]
    search_fields = ["=member__phone", "member__nickname", "distributor__real_name", "=distributor__phone"]
    search_help_text = "按会员手机号、昵称或分销员姓名、手机号搜索"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("member_col", "distributor", "status", "source", "share_ref", "bound_at",
                                "expires_at", "ended_at", "end_reason")
    inlines = [BindingEventInline]

    @admin.display(description="会员")
    def member_col(self, binding: Binding) -> str:
        return member_link(binding.member_id, str(binding.member))

    @admin.display(description="绑定时间", ordering="bound_at")
    def bound(self, binding: Binding) -> str:
        return short_time(binding.bound_at)

    @admin.display(description="到期时间", ordering="expires_at")
    def expires(self, binding: Binding) -> str:
        return short_time(binding.expires_at) if binding.expires_at else "永久"

    def get_urls(self) -> list:
        custom = [path("<path:object_id>/rebind/", self.admin_site.admin_view(self.rebind_view),
                       name="campaigns_binding_rebind")]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        binding = self.get_object(request, unquote(object_id))
        extra = {"can_rebind": binding is not None and binding.status == BindingStatus.ACTIVE
                 and self.has_operate_permission(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def rebind_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def rebind(binding: Binding, data: dict[str, Any]) -> str:
            new = bindings.binding_rebind(member_id=binding.member_id, distributor_id=data["distributor_id"],
                                          operator=request_operator(request), reason=data["reason"])
            return f"已改绑到{new.distributor}" if new is not None else "已解除绑定"

        def facts(binding: Binding) -> list[tuple[str, Any]]:
            return [("会员", str(binding.member)),
                    ("当前上级", f"{binding.distributor}（ID {binding.distributor_id}）"),
                    ("绑定来源", binding.get_source_display()), ("绑定时间", short_time(binding.bound_at))]

        return self.service_view(request, object_id, title="改绑", button="确认改绑", perform=rebind, facts=facts,
                                 form_class=RebindForm)


# --- commissions, clawbacks, the ledger --------------------------------------------------------------------


class CommissionEventInline(AuditTrailInline):
    model = CommissionEvent
    verbose_name_plural = "佣金日志"


@admin.register(Commission)
class CommissionAdmin(ExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    resource_classes = [CommissionExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    list_display = ["id", "created", "distributor", "level", "order_ref", "product_name", "amount", "refunded",
                    "status_col", "settle"]
    list_filter = ["status", "level", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["distributor"]
    search_fields = ["=order_ref", "distributor__real_name", "=distributor__phone", "product_name"]
    search_help_text = "按订单号、分销员姓名或手机号、商品名称搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("distributor", "level", "buyer", "order_ref", "line_ref", "product_name", "base",
                                "percent", "amount", "refunded", "status_col", "created_at", "frozen_at",
                                "settle_at", "available_at", "withdrawn_at", "cancelled_at")
    inlines = [CommissionEventInline]

    base = money_display("base_fen", "计佣金额")
    amount = money_display("amount_fen", "佣金")
    refunded = money_display("refunded_fen", "已退回")

    @admin.display(description="产生时间", ordering="created_at")
    def created(self, c: Commission) -> str:
        return short_time(c.created_at)

    @admin.display(description="可提现时间", ordering="settle_at")
    def settle(self, c: Commission) -> str:
        return short_time(c.settle_at)

    @admin.display(description="状态", ordering="status")
    def status_col(self, c: Commission) -> str:
        return badge(c.get_status_display(), COMMISSION_COLOURS.get(c.status, GREY))


class ClawbackEventInline(AuditTrailInline):
    model = ClawbackEvent
    verbose_name_plural = "追回日志"


@admin.register(Clawback)
class ClawbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "distributor", "refund_ref", "amount", "from_available", "owed", "status"]
    list_filter = ["status"]
    list_select_related = ["distributor"]
    search_fields = ["=refund_ref", "distributor__real_name"]
    show_full_result_count = False
    ordering = ["-id"]
    inlines = [ClawbackEventInline]

    amount = money_display("amount_fen", "追回金额")
    from_available = money_display("from_available_fen", "从可提现扣除")
    owed = money_display("owed_fen", "待后续佣金抵扣")


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "distributor", "reason", "reference", "pending", "frozen", "available",
                    "withdrawing", "withdrawn", "owed"]
    list_filter = ["reason"]
    list_select_related = ["distributor"]
    search_fields = ["=reference", "distributor__real_name"]
    show_full_result_count = False
    list_per_page = 100
    ordering = ["-id"]

    pending = money_display("pending_fen", "待收货")
    frozen = money_display("frozen_fen", "冻结")
    available = money_display("available_fen", "可提现")
    withdrawing = money_display("withdrawing_fen", "提现中")
    withdrawn = money_display("withdrawn_fen", "已提现")
    owed = money_display("owed_fen", "待扣回")


