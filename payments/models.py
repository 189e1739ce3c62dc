"""Trades with the payment gateway for every kind of payable, WeChat's notifications (raw, for the
books), and the trades' audit trail.

A trade is identified by `out_trade_no` (ours, unique across kinds) and names what it pays for by
`kind` (a payable kind registered in payments.registry, e.g. "order", "card"): payments knows no
other app's models.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.audit import AuditEvent
from core.state import StateMachine


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "待支付"  # prepaid at WeChat (or about to be); the payer may still pay
    PAID = "paid", "已支付"  # WeChat said it was paid (a notify or a query); final
    CLOSED = "closed", "已关闭"  # closed at WeChat (not paid in time); a late payment still counts


class Payment(models.Model):
    """One WeChat Pay trade (`out_trade_no` = our side of it) for one payable of one `kind`."""

    kind = models.CharField("类型", max_length=16)
    out_trade_no = models.CharField("商户订单号", max_length=32, unique=True)
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    prepay_id = models.CharField("预支付ID", max_length=64, blank=True, default="")
    prepay_expires_at = models.DateTimeField("预支付截止", null=True, blank=True)
    transaction_id = models.CharField("微信支付单号", max_length=64, null=True, blank=True, unique=True)
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "支付记录"
        verbose_name_plural = "支付记录"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class PaymentNotification(models.Model):
    """A verified word from WeChat that a trade was paid (a notify, or an orderquery answer),
    stored once per WeChat transaction id: a repeat finds it and changes nothing."""

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


class PaymentEvent(AuditEvent):
    """The audit trail of a trade: one row per status change."""

    class Action(models.TextChoices):
        PAID = "paid", "支付成功"  # WeChat said paid (notify or query)
        CLOSED = "closed", "交易关闭"  # closed at WeChat, or WeChat never knew the trade

    payment = models.ForeignKey(Payment, verbose_name="支付记录", on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=Action.choices)
    from_status = models.CharField("原状态", max_length=20, choices=PaymentStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=PaymentStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "支付日志"
        verbose_name_plural = "支付日志"


# CLOSED → PAID: WeChat's word that a trade was paid always wins (a payment that raced the close).
PAYMENT_MACHINE: StateMachine[Payment] = StateMachine(
    model=Payment,
    table={
        PaymentStatus.PENDING: {PaymentStatus.PAID, PaymentStatus.CLOSED},
        PaymentStatus.CLOSED: {PaymentStatus.PAID},
        PaymentStatus.PAID: set(),
    },
    event_model=PaymentEvent,
    event_subject="payment",
    noun="支付记录",
)
