"""Order console: a read-only record plus buttons that call the order services.

Status, money and stock are never form fields here. 发货 / 取消订单 / 添加备注 go through
shop.services.orders, so the console gets the same locks, transition table and audit rows
(OrderEvent) as the mini-program API and the scheduled jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from import_export.admin import ExportMixin

from core.admin import (
    AuditTrailInline,
    ExportFieldsForm,
    ExportPermissionMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceViewMixin,
    log_operator_write,
    money_display,
    operator_history,
    phone_display,
    request_operator,
    short_time,
    yuan_text,
)
from core.audit import Actor
from core.errors import DomainError
from core.privacy import console_phone
from core.resources import FILE_FORMATS
from payments.models import Payment
from shop.admin.forms import CancelForm, RemarkForm
from shop.admin.order_status import status_badge
from shop.admin.shipping import OrderShippingAdminMixin, ShipmentInlineMixin, ShippingUploadFilter
from shop.models import ORDER_PAYABLE_KIND, Order, OrderEvent, OrderLine, OrderStatus, Shipment
from shop.models.orders import ORDER_MACHINE
from shop.resources import OrderExportResource
from shop.services.orders import CANCELLABLE, order_add_remark
from shop.services.payments import order_cancel_unpaid


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = readonly_fields = ("product_name", "sku_code", "spec_text", "unit_price", "quantity",
                                "goods_total", "discount", "payable")

    unit_price = money_display("unit_price_fen", "单价")
    goods_total = money_display("goods_total_fen", "小计")
    discount = money_display("discount_fen", "优惠分摊")
    payable = money_display("payable_fen", "实付分摊")


class ShipmentInline(ShipmentInlineMixin, ReadOnlyInline):
    model = Shipment
    verbose_name_plural = "发货包裹"


class OrderEventInline(AuditTrailInline):
    model = OrderEvent
    verbose_name_plural = "操作日志"


@admin.register(Order)
class OrderAdmin(ServiceViewMixin, OrderShippingAdminMixin, ReadOnlyAdminMixin, ExportPermissionMixin, ExportMixin,
                 admin.ModelAdmin):
    resource_classes = [OrderExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    to_encoding = "utf-8-sig"  # so Excel shows the Chinese in a CSV correctly
    change_form_template = "admin/shop/order/change_form.html"
    import_export_change_list_template = "admin/shop/order/change_list.html"  # export + 批量导入发货

    # Narrow columns: the list shares the page with the nav and filter sidebars. The receiver
    # and phones are on the order page (and searchable here).
    list_display = ["order_no", "member_name", "status_label", "payable", "created", "paid_time",
                    "upload_state", "refund_flag"]
    list_filter = ["status", ShippingUploadFilter, "needs_refund", ("paid_at", admin.DateFieldListFilter)]
    list_select_related = ["member", "shipping_upload"]
    date_hierarchy = "created_at"
    search_fields = ["=order_no", "=receiver_phone", "=member__phone"]
    search_help_text = "按订单号、收货电话或会员手机号搜索（完整号码）"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    actions = ["cancel_selected", "requeue_shipping_upload"]

    fieldsets = [
        ("订单", {"fields": ["order_no", "member_link", "status_label", "refund_detail", "cancel_reason"]}),
        ("金额", {"fields": ["goods_total", "discount", "freight", "freight_discount", "payable", "paid",
                           "coupons_used", "points_used_text"]}),
        ("支付记录", {"fields": ["payment_record"]}),
        ("收货信息", {"fields": ["receiver_name", "receiver_phone_shown", "full_address"]}),
        ("发货", {"fields": ["shipping_progress", "upload_detail"]}),
        ("备注", {"fields": ["buyer_remark", "operator_remark"]}),
        ("时间", {"fields": ["created_at", "expires_at", "paid_at", "shipped_at", "received_at",
                           "cancelled_at"]}),
        # Who did what: the operators' console writes here; every transition is in 操作日志 below.
        ("后台操作记录", {"fields": ["admin_history"]}),
    ]
    readonly_fields = [str(f) for _, opts in fieldsets for f in opts["fields"]]
    inlines = [OrderLineInline, ShipmentInline, OrderEventInline]

    receiver_phone_shown = phone_display("receiver_phone", "收货电话")
    goods_total = money_display("goods_total_fen", "商品金额")
    discount = money_display("discount_fen", "优惠金额")
    freight = money_display("freight_fen", "运费")
    freight_discount = money_display("freight_discount_fen", "运费券抵扣")
    payable = money_display("payable_fen", "应付金额")
    paid = money_display("paid_fen", "实付金额")

    @admin.display(description="后台操作")
    def admin_history(self, order: Order) -> str:
        return operator_history(order)

    @admin.display(description="使用的优惠券")
    def coupons_used(self, order: Order) -> str:
        return "；".join(f"{c['name']}（抵扣 {yuan_text(c['discount_fen'])}）" for c in order.applied_coupons) or "—"

    @admin.display(description="微信支付")
    def payment_record(self, order: Order) -> str:
        """The order's trade in the payments core (kind "order", out_trade_no = the order number)."""
        payment = Payment.objects.filter(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no).first()
        if payment is None:
            return "—"
        url = reverse("admin:payments_payment_change", args=[payment.pk])
        return format_html('<a href="{}">{}</a> {} {} 微信支付单号 {} 支付时间 {}', url, payment.out_trade_no,
                           payment.get_status_display(), yuan_text(payment.amount_fen),
                           payment.transaction_id or "—", short_time(payment.paid_at))

    @admin.display(description="积分抵扣")
    def points_used_text(self, order: Order) -> str:
        if not order.points_used:
            return "—"
        return f"{order.points_used} 积分（抵扣 {yuan_text(order.points_fen)}）"

    def get_queryset(self, request: HttpRequest) -> Any:
        shipments = Shipment.objects.filter(order=OuterRef("pk"))
        return super().get_queryset(request).annotate(has_shipments=Exists(shipments))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May use 发货 / 取消 / 备注: the model's change permission, though the form is read-only."""
        return request.user.has_perm("shop.change_order")

    @admin.display(description="会员", ordering="member__nickname")
    def member_link(self, order: Order) -> str:
        url = reverse("admin:members_member_change", args=[order.member_id])
        phone = f" {console_phone(order.member.phone)}" if order.member.phone else ""
        return format_html('<a href="{}">{}</a>{}', url, str(order.member), phone)

    @admin.display(description="状态", ordering="status")
    def status_label(self, order: Order) -> str:
        return status_badge(order)

    @admin.display(description="待退款", ordering="needs_refund")
    def refund_flag(self, order: Order) -> str:
        # Only the exception is marked: a column of red crosses on every row would read as alarms.
        if not order.needs_refund:
            return ""
        return mark_safe('<span class="mall-status" style="--mall-status:#c0392b">需退款</span>')

    @admin.display(description="待退款")
    def refund_detail(self, order: Order) -> str:
        return self.refund_flag(order) or "否"

    @admin.display(description="会员", ordering="member__nickname")
    def member_name(self, order: Order) -> str:
        return str(order.member)

    @admin.display(description="下单时间", ordering="created_at")
    def created(self, order: Order) -> str:
        return short_time(order.created_at)

    @admin.display(description="支付时间", ordering="paid_at")
    def paid_time(self, order: Order) -> str:
        return short_time(order.paid_at)

    @admin.display(description="收货地址")
    def full_address(self, order: Order) -> str:
        return f"{order.province}{order.city}{order.district}{order.address_detail}"

    # --- buttons on the order page ----------------------------------------------------------

    def get_urls(self) -> list:
        def view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(func)

        custom = [
            path("import-shipping/", view(self.shipping_import_view), name="shop_order_shipping_import"),
            path("<path:object_id>/ship/", view(self.ship_view), name="shop_order_ship"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="shop_order_cancel"),
            path("<path:object_id>/remark/", view(self.remark_view), name="shop_order_remark"),
        ]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        order = self.get_object(request, unquote(object_id))
        operate = self.has_operate_permission(request)
        extra = {
            "can_ship": operate and order is not None and ORDER_MACHINE.can(order, OrderStatus.SHIPPED),
            "can_cancel": operate and order is not None and ORDER_MACHINE.can(order, OrderStatus.CANCELLED,
                                                                              allowed_from=CANCELLABLE),
            "can_remark": operate,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def _facts(self, order: Order) -> list[tuple[str, Any]]:
        lines = "；".join(f"{line.product_name}{f'（{line.spec_text}）' if line.spec_text else ''} × {line.quantity}"
                          for line in order.lines.all())
        return [("订单号", order.order_no), ("状态", status_badge(order)), ("应付金额", yuan_text(order.payable_fen)),
                ("收货人", f"{order.receiver_name} {console_phone(order.receiver_phone)}"),
                ("收货地址", self.full_address(order)),
                ("商品", lines)]

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def cancel(order: Order, data: dict[str, Any]) -> str:
            order_cancel_unpaid(order=order, reason=data["reason"], actor=Actor.OPERATOR,
                                operator=request_operator(request))
            return f"订单 {order.order_no} 已取消"

        return self.service_view(request, object_id, title="取消订单", button="确认取消订单", perform=cancel,
                                 facts=self._facts, form_class=CancelForm, danger=True)

    def remark_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def remark(order: Order, data: dict[str, Any]) -> str:
            order_add_remark(order=order, text=data["text"], operator=request_operator(request))
            return f"已为订单 {order.order_no} 添加备注"

        return self.service_view(request, object_id, title="添加备注", button="保存备注", perform=remark,
                                 facts=self._facts, form_class=RemarkForm)

    # --- bulk action on the list -----------------------------------------------------------

    @admin.action(description="取消所选的待付款订单", permissions=["operate"])
    def cancel_selected(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        """Asks for one reason, then cancels each unpaid order through the service."""
        unpaid = queryset.filter(status__in=CANCELLABLE)
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._cancel_each(request, unpaid, form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "批量取消订单",
            "opts": self.opts,
            "form": form,
            "orders": unpaid,
            "skipped": queryset.exclude(status__in=CANCELLABLE).count(),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/shop/order/cancel_selected.html", context)

    def _cancel_each(self, request: HttpRequest, orders: Any, reason: str) -> None:
        cancelled, failed = 0, []
        for order in orders:
            try:
                order_cancel_unpaid(order=order, reason=reason, actor=Actor.OPERATOR,
                                    operator=request_operator(request))
            except DomainError as exc:
                failed.append(f"{order.order_no}：{exc.message}")
            else:
                cancelled += 1
                log_operator_write(request, order, f"取消订单：{reason}")
        self.message_user(request, f"已取消 {cancelled} 个订单", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return f"orders-{stamp}.{file_format.get_extension()}"
