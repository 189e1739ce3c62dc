"""How an order's status looks in the console: one coloured badge on the list, the order page and
the shipping pages."""

from __future__ import annotations

from django.utils.html import format_html

from shop.models import Order, OrderStatus

STATUS_COLOURS: dict[str, str] = {
    OrderStatus.PENDING_PAYMENT: "#b26a00",
    OrderStatus.PAID: "#c0392b",
    OrderStatus.SHIPPED: "#1f6fb2",
    OrderStatus.RECEIVED: "#2e7d32",
    OrderStatus.CANCELLED: "#777",
}


def status_badge(order: Order) -> str:
    label = order.get_status_display()
    # A paid order with some packages out (the list annotates it; the page asks).
    partly = getattr(order, "has_shipments", None)
    if partly is None and order.status == OrderStatus.PAID and order.pk:
        partly = order.shipments.exists()
    if order.status == OrderStatus.PAID and partly:
        label = f"{label}（部分发货）"
    return format_html('<span class="mall-status" style="--mall-status:{}">{}</span>',
                       STATUS_COLOURS.get(order.status, "#777"), label)
