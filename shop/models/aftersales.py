"""After-sales (售后): requests, their lines, refunds through the gateway, and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AfterSaleKind(models.TextChoices):
    REFUND_ONLY = "refund_only", "仅退款"
    RETURN_REFUND = "return_refund", "退货退款"


class AfterSaleStatus(models.TextChoices):
    REQUESTED = "requested", "待审核"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval", "待复核"
    AWAITING_RETURN = "awaiting_return", "待买家退货"
    RETURN_SHIPPED = "return_shipped", "买家已寄回"
    REFUNDING = "refunding", "退款中"
    REFUNDED = "refunded", "已退款"
    REJECTED = "rejected", "已拒绝"
    WITHDRAWN = "withdrawn", "已撤销"


class AfterSale(models.Model):
    after_sale_no = models.CharField("售后单号", max_length=32, unique=True)
    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT,
                              related_name="after_sales")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="after_sales")
    kind = models.CharField("类型", max_length=16, choices=AfterSaleKind.choices)
    status = models.CharField("状态", max_length=32, choices=AfterSaleStatus.choices,
                              default=AfterSaleStatus.REQUESTED, db_index=True)
    reason = models.CharField("原因", max_length=64)
    description = models.TextField("说明", blank=True, default="")
    amount_fen = models.BigIntegerField("退款金额（分）")
    freight_fen = models.BigIntegerField("其中运费（分）", default=0)
    restock = models.BooleanField("退回库存", default=False)
    reject_reason = models.CharField("拒绝原因", max_length=200, blank=True, default="")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    second_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="复核人", null=True,
                                           blank=True, on_delete=models.PROTECT, related_name="+")
    return_carrier = models.CharField("退货快递", max_length=32, blank=True, default="")
    return_tracking_no = models.CharField("退货单号", max_length=64, blank=True, default="")
    created_at = models.DateTimeField("申请时间", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "售后单"
        verbose_name_plural = "售后单"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gte=0) & Q(freight_fen__gte=0),
                                   name="after_sale_amounts_non_negative"),
        ]

    def __str__(self) -> str:
        return self.after_sale_no


class AfterSaleLine(models.Model):
    """Units of one order line in a request, and the exact part of what the line paid."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("shop.OrderLine", on_delete=models.PROTECT, related_name="after_sale_lines")
    quantity = models.PositiveIntegerField("数量")
    amount_fen = models.BigIntegerField("退款金额（分）")

    class Meta:
        verbose_name = "售后商品"
        verbose_name_plural = "售后商品"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1) & Q(amount_fen__gte=0),
                                   name="after_sale_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class AfterSalePhoto(models.Model):
    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField("图片", upload_to="aftersales/%Y/%m/")
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "售后图片"
        verbose_name_plural = "售后图片"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.image.name


class AfterSaleEvent(models.Model):
    """Audit trail of an after-sale: every decision, by whom, in the same transaction."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32)
    from_status = models.CharField("原状态", max_length=32, choices=AfterSaleStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=32, choices=AfterSaleStatus.choices, blank=True,
                                 default="")
    actor = models.CharField("操作方", max_length=16)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作员", null=True, blank=True,
                                 on_delete=models.PROTECT)
    note = models.CharField("说明", max_length=300, blank=True, default="")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "售后日志"
        verbose_name_plural = "售后日志"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.after_sale_id}:{self.action}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "待提交"
    PROCESSING = "processing", "退款中"
    SUCCEEDED = "succeeded", "退款成功"
    FAILED = "failed", "退款失败"


class Refund(models.Model):
    """Money going back through the gateway. `out_refund_no` is ours and unique."""

    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey("shop.Payment", verbose_name="支付记录", on_delete=models.PROTECT,
                                related_name="refunds")
    after_sale = models.ForeignKey(AfterSale, verbose_name="售后单", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField("退款单号", max_length=64, unique=True)
    amount_fen = models.BigIntegerField("退款金额（分）")
    reason = models.CharField("原因", max_length=80, blank=True, default="")
    status = models.CharField("状态", max_length=16, choices=RefundStatus.choices,
                              default=RefundStatus.PENDING, db_index=True)
    refund_id = models.CharField("微信退款单号", max_length=64, null=True, blank=True, unique=True)
    attempts = models.PositiveIntegerField("提交次数", default=0)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    succeeded_at = models.DateTimeField("到账时间", null=True, blank=True)

    class Meta:
        verbose_name = "退款"
        verbose_name_plural = "退款"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class RefundNotification(models.Model):
    """A decrypted, verified refund notification, stored once per WeChat refund id."""

    refund_id = models.CharField("微信退款单号", max_length=64, unique=True)
    out_refund_no = models.CharField("退款单号", max_length=64, db_index=True)
    refund_status = models.CharField("退款状态", max_length=32)
    raw_xml = models.TextField("原始报文")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        verbose_name = "退款通知"
        verbose_name_plural = "退款通知"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.out_refund_no
