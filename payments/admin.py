"""Payments and WeChat's notifications: the money record, read-only, with each trade's audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, money_display
from payments.models import Payment, PaymentEvent, PaymentNotification
from payments.registry import UnknownPayableKind, payable_kind, payable_kinds


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
