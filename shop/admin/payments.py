"""Payments and WeChat's notifications: the money record, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin, money_display
from shop.models import Payment, PaymentNotification


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["out_trade_no", "order_link", "amount", "status", "transaction_id", "paid_at",
                    "created_at"]
    list_filter = ["status", ("paid_at", admin.DateFieldListFilter)]
    list_select_related = ["order"]
    search_fields = ["=out_trade_no", "=transaction_id", "=order__order_no"]
    search_help_text = "按商户订单号、微信支付单号或订单号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = ("order_link", "out_trade_no", "amount", "status", "transaction_id",
                                "prepay_id", "paid_at", "created_at")

    amount = money_display("amount_fen", "金额")

    @admin.display(description="订单", ordering="order__order_no")
    def order_link(self, payment: Payment) -> str:
        url = reverse("admin:shop_order_change", args=[payment.order_id])
        return format_html('<a href="{}">{}</a>', url, payment.order.order_no)


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
