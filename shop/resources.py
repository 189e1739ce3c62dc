"""Import/export of the shop: the order and refund exports (the catalog's products and SKUs are in
catalog.resources)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from import_export import resources
from import_export.fields import Field

from core.privacy import console_phone
from core.resources import YuanWidget
from shop.models import Order, Refund


def _local_time(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class OrderExportResource(resources.ModelResource):
    order_no = Field(attribute="order_no", column_name="订单号")
    status = Field(column_name="状态")
    member = Field(column_name="会员")
    member_phone = Field(column_name="会员手机号")
    receiver = Field(attribute="receiver_name", column_name="收货人")
    phone = Field(column_name="收货电话")
    address = Field(column_name="收货地址")
    goods_total = Field(attribute="goods_total_fen", column_name="商品金额（元）", widget=YuanWidget())
    discount = Field(attribute="discount_fen", column_name="优惠金额（元）", widget=YuanWidget())
    freight = Field(attribute="freight_fen", column_name="运费（元）", widget=YuanWidget())
    payable = Field(attribute="payable_fen", column_name="应付金额（元）", widget=YuanWidget())
    created = Field(column_name="下单时间")
    paid = Field(column_name="支付时间")
    buyer_remark = Field(attribute="buyer_remark", column_name="买家留言")

    class Meta:
        model = Order
        name = "订单"
        fields = ["order_no", "status", "member", "member_phone", "receiver", "phone", "address",
                  "goods_total", "discount", "freight", "payable", "created", "paid", "buyer_remark"]
        export_order = fields

    def get_queryset(self) -> Any:
        return Order.objects.select_related("member")

    def dehydrate_status(self, order: Order) -> str:
        return order.get_status_display()

    def dehydrate_member(self, order: Order) -> str:
        return str(order.member)

    def dehydrate_member_phone(self, order: Order) -> str:
        return console_phone(order.member.phone)

    def dehydrate_phone(self, order: Order) -> str:
        return console_phone(order.receiver_phone)

    def dehydrate_address(self, order: Order) -> str:
        return f"{order.province}{order.city}{order.district}{order.address_detail}"

    def dehydrate_created(self, order: Order) -> str:
        return _local_time(order.created_at)

    def dehydrate_paid(self, order: Order) -> str:
        return _local_time(order.paid_at)


class RefundExportResource(resources.ModelResource):
    """Refunds as finance reconciles them against WeChat Pay's bill: both refund numbers, the amount, when
    it reached the buyer."""

    out_refund_no = Field(attribute="out_refund_no", column_name="退款单号")
    refund_id = Field(attribute="refund_id", column_name="微信退款单号")
    order_no = Field(column_name="订单号")
    after_sale_no = Field(column_name="售后单号")
    amount = Field(attribute="amount_fen", column_name="退款金额（元）", widget=YuanWidget())
    status = Field(column_name="状态")
    reason = Field(attribute="reason", column_name="退款原因")
    attempts = Field(attribute="attempts", column_name="发起次数")
    last_error = Field(attribute="last_error", column_name="最近错误")
    created = Field(column_name="创建时间")
    succeeded = Field(column_name="到账时间")

    class Meta:
        model = Refund
        name = "退款"
        fields = ["out_refund_no", "refund_id", "order_no", "after_sale_no", "amount", "status", "reason", "attempts",
                  "last_error", "created", "succeeded"]
        export_order = fields

    def get_queryset(self) -> Any:
        return Refund.objects.select_related("order", "after_sale")

    def dehydrate_order_no(self, refund: Refund) -> str:
        return refund.order.order_no

    def dehydrate_after_sale_no(self, refund: Refund) -> str:
        return refund.after_sale.after_sale_no if refund.after_sale is not None else ""

    def dehydrate_status(self, refund: Refund) -> str:
        return refund.get_status_display()

    def dehydrate_created(self, refund: Refund) -> str:
        return _local_time(refund.created_at)

    def dehydrate_succeeded(self, refund: Refund) -> str:
        return _local_time(refund.succeeded_at)
