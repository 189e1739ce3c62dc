"""Orders, their lines (prices copied at placement), per-line discount allocations and audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.models import Sku
from core.audit import AuditEvent
from core.state import StateMachine
from shop.errors import InvalidTransition, OrderNotFound


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "待付款"
    PAID = "paid", "待发货"
    SHIPPED = "shipped", "已发货"
    RECEIVED = "received", "已完成"
    CANCELLED = "cancelled", "已取消"
    CLOSED = "closed", "已关闭"  # paid, then refunded in full before anything shipped


# The order lifecycle. Only ORDER_MACHINE.transition() changes Order.status.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PENDING_PAYMENT: {OrderStatus.PAID, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.SHIPPED, OrderStatus.CLOSED},
    OrderStatus.SHIPPED: {OrderStatus.RECEIVED},
    OrderStatus.RECEIVED: set(),
    # A payment that arrives after the auto-cancel revives the order when stock allows.
    OrderStatus.CANCELLED: {OrderStatus.PAID},
    OrderStatus.CLOSED: set(),
}


class RefundState(models.TextChoices):
    """The order's refund axis, derived from its lines' refunded amounts."""

    NONE = "none", "无退款"
    PARTIAL = "partial", "部分退款"
    FULL = "full", "已全额退款"


# An order's trade in the payments core (payments.Payment.kind); its out_trade_no is the order number.
ORDER_PAYABLE_KIND = "order"


class Order(models.Model):
    order_no = models.CharField("订单号", max_length=32, unique=True)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="orders")
    status = models.CharField("状态", max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING_PAYMENT, db_index=True)
    # Idempotency of placement: the same key and body returns this order.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    receiver_name = models.CharField("收货人", max_length=32)
    receiver_phone = models.CharField("收货电话", max_length=20, db_index=True)
    province = models.CharField("省份", max_length=32)
    city = models.CharField("城市", max_length=32)
    district = models.CharField("区县", max_length=32, blank=True, default="")
    address_detail = models.CharField("详细地址", max_length=200)

    goods_total_fen = models.BigIntegerField("商品金额（分）")
    discount_fen = models.BigIntegerField("优惠金额（分）", default=0)
    freight_fen = models.BigIntegerField("运费（分）", default=0)
    freight_discount_fen = models.BigIntegerField("运费券抵扣（分）", default=0)
    # Points spent at placement and the fen they paid. points_fen is part of discount_fen
    # (the points stage allocates it to the lines); a cancel returns points_used exactly once.
    points_used = models.PositiveIntegerField("使用积分", default=0)
    points_fen = models.BigIntegerField("积分抵扣（分）", default=0)
    payable_fen = models.BigIntegerField("应付金额（分）")
    paid_fen = models.BigIntegerField("实付金额（分）", default=0)

    buyer_remark = models.CharField("买家留言", max_length=200, blank=True, default="")
    operator_remark = models.TextField("商家备注", blank=True, default="")
    refund_state = models.CharField("退款状态", max_length=16, choices=RefundState.choices,
                                    default=RefundState.NONE, db_index=True)
    refunded_fen = models.BigIntegerField("已退金额（分）", default=0)
    # The coupons priced into the order, as placed: [{"id", "name", "kind", "discount_fen"}]. The
    # coupons' own state (locked, used, released) lives in campaigns; this is what the order shows.
    applied_coupons = models.JSONField("使用的优惠券", default=list, blank=True, editable=False)
    needs_refund = models.BooleanField(
        "待退款", default=False, help_text="订单取消后才到账且无法恢复的付款，需要退款"
    )

    created_at = models.DateTimeField("下单时间", auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField("支付截止")
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    shipped_at = models.DateTimeField("发货时间", null=True, blank=True)
    received_at = models.DateTimeField("收货时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    cancel_reason = models.CharField("取消原因", max_length=100, blank=True, default="")

    class Meta:
        verbose_name = "订单"
        verbose_name_plural = "订单"
        ordering = ["-id"]
        # Seeing an order is not taking its money and addresses out of the console in a file.
        permissions = [("export_order", "可导出订单")]
        indexes = [
            models.Index(fields=["member", "-id"]),
            models.Index(fields=["status", "expires_at"], condition=Q(status="pending_payment"),
                         name="order_unpaid_expiry_idx"),
            models.Index(fields=["status", "shipped_at"], condition=Q(status="shipped"),
                         name="order_shipped_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"],
                                    condition=Q(idempotency_key__isnull=False),
                                    name="order_idempotency_key_per_member"),
            models.CheckConstraint(condition=Q(payable_fen__gte=0), name="order_payable_non_negative"),
            # The sum of refunds never exceeds what was paid.
            models.CheckConstraint(condition=Q(refunded_fen__gte=0) & Q(refunded_fen__lte=models.F("paid_fen")),
                                   name="order_refunds_within_paid"),
            models.CheckConstraint(
                condition=Q(payable_fen=models.F("goods_total_fen") - models.F("discount_fen")
                            + models.F("freight_fen") - models.F("freight_discount_fen")),
                name="order_payable_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(freight_discount_fen__gte=0) & Q(freight_discount_fen__lte=models.F("freight_fen")),
                name="order_freight_discount_within_freight",
            ),
            models.CheckConstraint(
                condition=Q(points_fen__gte=0) & Q(points_fen__lte=models.F("discount_fen")),
                name="order_points_fen_within_discount",
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.all())


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, verbose_name="SKU", on_delete=models.PROTECT, related_name="+")
    product_id_snapshot = models.BigIntegerField("商品ID")
    product_name = models.CharField("商品名称", max_length=100)
    sku_code = models.CharField("SKU 编码", max_length=64)
    spec_text = models.CharField("规格", max_length=200, blank=True, default="")
    image_url = models.CharField("图片", max_length=300, blank=True, default="")
    unit_price_fen = models.BigIntegerField("单价（分）")
    quantity = models.PositiveIntegerField("数量")
    goods_total_fen = models.BigIntegerField("小计（分）")
    discount_fen = models.BigIntegerField("优惠分摊（分）", default=0)
    payable_fen = models.BigIntegerField("实付分摊（分）")
    # Counters kept by the after-sales and shipping services under the order's lock.
    refunded_quantity = models.PositiveIntegerField("已退数量", default=0)
    refunded_fen = models.BigIntegerField("已退金额（分）", default=0)
    shipped_quantity = models.PositiveIntegerField("已发数量", default=0)

    class Meta:
        verbose_name = "订单商品"
        verbose_name_plural = "订单商品"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity"))
                & Q(shipped_quantity__lte=models.F("quantity"))
                & Q(refunded_fen__gte=0) & Q(refunded_fen__lte=models.F("payable_fen")),
                name="order_line_refunds_and_shipments_within_line",
            ),
            models.CheckConstraint(
                condition=Q(payable_fen=models.F("goods_total_fen") - models.F("discount_fen")),
                name="order_line_payable_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} {self.spec_text} × {self.quantity}".replace("  ", " ")


class OrderLineAdjustment(models.Model):
    """One pricing stage's effect on one line (negative = discount), stored to the fen."""

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="adjustments")
    stage = models.CharField("环节", max_length=32)
    label = models.CharField("说明", max_length=100)
    amount_fen = models.BigIntegerField("金额（分）")
    reference = models.CharField("关联", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "优惠分摊"
        verbose_name_plural = "优惠分摊"
        ordering = ["id"]


class OrderAction(models.TextChoices):
    """What an order's audit row records, in operators' words."""

    PLACED = "placed", "下单"
    PAID = "paid", "支付成功"
    REVIVED = "revived", "付款恢复订单"
    LATE_PAYMENT = "late_payment", "取消后到账"
    PAYMENT_DUPLICATE = "payment_duplicate", "重复付款"
    POINTS_NOT_RETAKEN = "points_not_retaken", "恢复时积分未能再次抵扣"
    COUPON_NOT_RETAKEN = "coupon_not_retaken", "恢复时优惠券未能再次核销"
    SHIPPED = "shipped", "发货"
    PARTIALLY_SHIPPED = "partially_shipped", "部分发货"
    SHIPPING_INFO_UPLOADED = "shipping_info_uploaded", "微信发货信息已上传"
    SHIPPING_INFO_UPLOAD_FAILED = "shipping_info_upload_failed", "微信发货信息上传失败"
    SHIPPING_INFO_REQUEUED = "shipping_info_requeued", "重新上传微信发货信息"
    CANCELLED = "cancelled", "取消"
    RECEIVED = "received", "确认收货"
    REMARK = "remark", "商家备注"
    AFTER_SALE_REQUESTED = "after_sale_requested", "申请售后"
    REFUND_STARTED = "refund_started", "发起退款"
    REFUNDED = "refunded", "退款到账"
    CLOSED = "closed", "订单关闭"


class OrderEvent(AuditEvent):
    """Audit trail: one row per transition or operator action, written in the same transaction."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=OrderAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=OrderStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=20, choices=OrderStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "订单日志"
        verbose_name_plural = "订单日志"

    def __str__(self) -> str:
        return f"{self.order_id}:{self.action}"


ORDER_MACHINE = StateMachine(
    model=Order, table=ORDER_TRANSITIONS, event_model=OrderEvent, event_subject="order", noun="订单",
    error=InvalidTransition, not_found=OrderNotFound,
    timestamps={OrderStatus.PAID: "paid_at", OrderStatus.SHIPPED: "shipped_at",
                OrderStatus.RECEIVED: "received_at", OrderStatus.CANCELLED: "cancelled_at"},
    verbs={OrderStatus.PAID: "支付", OrderStatus.SHIPPED: "发货", OrderStatus.RECEIVED: "确认收货",
           OrderStatus.CANCELLED: "取消", OrderStatus.CLOSED: "关闭"},
)


class Shipment(models.Model):
    """One package. Its lines are in ShipmentLine; tracking is cached here by a job."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField("快递公司", max_length=32)
    carrier_code = models.CharField("快递编码", max_length=16, blank=True, default="")
    tracking_no = models.CharField("快递单号", max_length=64)
    logistics_state = models.CharField("物流状态", max_length=16, default="unknown")
    checkpoints = models.JSONField("物流轨迹", default=list, blank=True)
    tracked_at = models.DateTimeField("轨迹更新时间", null=True, blank=True)
    delivered_at = models.DateTimeField("签收时间", null=True, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作员", null=True, blank=True,
                                 on_delete=models.PROTECT)
    shipped_at = models.DateTimeField("发货时间", auto_now_add=True)

    class Meta:
        verbose_name = "发货记录"
        verbose_name_plural = "发货记录"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_no}"


# Reference of the points a revived order spends again (its first spend was returned at the cancel).
REVIVED_POINTS_SUFFIX = ":revived"


def revived_points_reference(order_no: str) -> str:
    """The reference of the points spend a revived order takes again (refunds return against it)."""
    return f"{order_no}{REVIVED_POINTS_SUFFIX}"
