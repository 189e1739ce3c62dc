"""Payments, transfers (payouts) and WeChat's notifications: the money record, read-only, with each
trade's and transfer's audit trail. The one operation here, 查询, asks WeChat about transfers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import AuditTrailInline, ReadOnlyAdminMixin, ReadOnlyInline, money_display, short_time
from core.errors import DomainError
from payments.models import Payment, PaymentEvent, PaymentNotification, Transfer, TransferEvent, TransferNotification
from payments.registry import UnknownPayableKind, payable_kind, payable_kinds, transfer_kinds
from payments.services import transfer_settle_by_query


class KindFilter(admin.SimpleListFilter):
    title = "类型"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind.slug, kind.label) for kind in payable_kinds()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = readonly_fields = ("created_at", "action", "actor", "from_status", "to_status", "note", "data")
    ordering = ["created_at", "id"]
    verbose_name_plural = "操作日志"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["out_trade_no", "payable_link", "amount", "status", "transaction_id", "paid_at", "created_at"]
    list_filter = ["status", KindFilter, ("paid_at", admin.DateFieldListFilter)]
    search_fields = ["=out_trade_no", "=transaction_id"]
    search_help_text = "按商户订单号、微信支付单号或订单号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = ("payable_link", "out_trade_no", "amount", "status", "transaction_id",
                                "prepay_id", "paid_at", "created_at")
    inlines = [PaymentEventInline]

    amount = money_display("amount_fen", "金额")

    @admin.display(description="支付对象", ordering="kind")
    def payable_link(self, payment: Payment) -> str:
        """The payable's kind and number, linked to its page when its app gives one."""
        try:
            kind = payable_kind(payment.kind)
        except UnknownPayableKind:
            return f"{payment.kind} {payment.out_trade_no}"
        if kind.console_url is None:
            return f"{kind.label} {payment.out_trade_no}"
        return format_html('{} <a href="{}">{}</a>', kind.label, kind.console_url(payment.out_trade_no),
                           payment.out_trade_no)


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["transaction_id", "out_trade_no", "total_fee", "outcome", "received_at"]
    list_filter = ["outcome"]
    search_fields = ["=transaction_id", "=out_trade_no"]
    search_help_text = "按微信支付单号或商户订单号搜索"
    date_hierarchy = "received_at"
    show_full_result_count = False
    fields = readonly_fields = ("transaction_id", "out_trade_no", "total_fee", "outcome", "received_at",
                                "raw")

    total_fee = money_display("total_fee_fen", "金额")

    @admin.display(description="原始报文")
    def raw(self, notification: PaymentNotification) -> str:
        return format_html('<pre class="mall-raw">{}</pre>', notification.raw_xml)


class TransferKindFilter(admin.SimpleListFilter):
    title = "类型"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind.slug, kind.label) for kind in transfer_kinds()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class TransferEventInline(AuditTrailInline):
    model = TransferEvent
    verbose_name_plural = "操作日志"
    fields = readonly_fields = (*AuditTrailInline.fields, "data")


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """转账单: every payout, read-only; 查询 asks WeChat and records its answer (as its notify would)."""

    list_display = ["out_bill_no", "kind_label", "reference", "amount", "state", "reason", "attempts", "created",
                    "finished"]
    list_filter = ["state", TransferKindFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=out_bill_no", "=wechat_bill_no", "=reference", "=openid"]
    search_help_text = "按商户单号、微信转账单号、业务单号或收款用户OpenID搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["settle_by_query_selected"]
    fields = readonly_fields = ("out_bill_no", "wechat_bill_no", "kind_label", "reference", "openid", "amount",
                                "remark", "state", "reason", "scene_id", "attempts", "last_error", "created_at",
                                "checked_at", "finished_at")
    inlines = [TransferEventInline]

    amount = money_display("amount_fen", "金额")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.change_transfer")

    @admin.display(description="类型", ordering="kind")
    def kind_label(self, transfer: Transfer) -> str:
        return next((kind.label for kind in transfer_kinds() if kind.slug == transfer.kind), transfer.kind)

    @admin.display(description="失败原因")
    def reason(self, transfer: Transfer) -> str:
        return transfer.fail_reason_text or "—"

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, transfer: Transfer) -> str:
        return short_time(transfer.created_at)

    @admin.display(description="完成时间", ordering="finished_at")
    def finished(self, transfer: Transfer) -> str:
        return short_time(transfer.finished_at)

    @admin.action(description="查询所选转账单的微信支付结果", permissions=["operate"])
    def settle_by_query_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        changed, failed = 0, []
        for transfer in queryset.order_by("pk"):
            before = transfer.state
            try:
                after = transfer_settle_by_query(transfer)
            except DomainError as exc:
                failed.append(f"{transfer.out_bill_no}：{exc.message}")
                continue
            changed += after.state != before
        self.message_user(request, f"已查询 {queryset.count() - len(failed)} 笔，{changed} 笔状态已更新",
                          messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


@admin.register(TransferNotification)
class TransferNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["notify_id", "out_bill_no", "state", "outcome", "received_at"]
    list_filter = ["state", "outcome"]
    search_fields = ["=notify_id", "=out_bill_no"]
    search_help_text = "按通知ID或商户单号搜索"
    date_hierarchy = "received_at"
    show_full_result_count = False
    fields = readonly_fields = ("notify_id", "out_bill_no", "state", "outcome", "received_at", "content")

    @admin.display(description="通知内容（已解密）")
    def content(self, notification: TransferNotification) -> str:
        return format_html('<pre class="mall-raw">{}</pre>',
                           json.dumps(notification.resource, ensure_ascii=False, indent=2))
