"""Import/export of the shop: the order export (the catalog's products and SKUs are in catalog.resources)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from import_export import resources
from import_export.fields import Field

from core.resources import YuanWidget
from shop.models import Order


def _local_time(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class OrderExportResource(resources.ModelResource):
    order_no = Field(attribute="order_no", column_name="订单号")
    status = Field(column_name="状态")
    member = Field(column_name="会员")
    member_phone = Field(column_name="会员手机号")
    receiver = Field(attribute="receiver_name", column_name="收货人")
    phone = Field(attribute="receiver_phone", column_name="收货电话")
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
        return order.member.phone

    def dehydrate_address(self, order: Order) -> str:
        return f"{order.province}{order.city}{order.district}{order.address_detail}"

    def dehydrate_created(self, order: Order) -> str:
        return _local_time(order.created_at)

    def dehydrate_paid(self, order: Order) -> str:
        return _local_time(order.paid_at)
