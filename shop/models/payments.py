"""Payments through the gateway, and every notification WeChat sent us (raw, for the books)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "待支付"
    PAID = "paid", "已支付"
    CLOSED = "closed", "已关闭"


class Payment(models.Model):
    """One WeChat Pay transaction for an order (`out_trade_no` = our side of it)."""

    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT,
                              related_name="payments")
    out_trade_no = models.CharField("商户订单号", max_length=32, unique=True)
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=16, choices=PaymentStatus.choices,
                              default=PaymentStatus.PENDING)
    prepay_id = models.CharField("预支付ID", max_length=64, blank=True, default="")
    prepay_expires_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField("微信支付单号", max_length=64, null=True, blank=True, unique=True)
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "支付记录"
        verbose_name_plural = "支付记录"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="paid"),
                                    name="one_paid_payment_per_order"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class PaymentNotification(models.Model):
    """A verified payment notification, stored once per WeChat transaction id."""

    transaction_id = models.CharField("微信支付单号", max_length=64, unique=True)
    out_trade_no = models.CharField("商户订单号", max_length=32, db_index=True)
    total_fee_fen = models.BigIntegerField("金额（分）")
    raw_xml = models.TextField("原始报文")
    outcome = models.CharField("处理结果", max_length=32, blank=True, default="")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        verbose_name = "支付通知"
        verbose_name_plural = "支付通知"
        ordering = ["-id"]
