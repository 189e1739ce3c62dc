"""The audit trail every state machine writes: one abstract event model, one actor vocabulary.

A concrete event model (OrderEvent, PaymentEvent, RefundEvent…) adds the foreign key to its
subject and narrows `action` (and the statuses) to its own choices, so the console shows the
Chinese label from the model itself and needs no label table of its own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Actor(models.TextChoices):
    """Who made a change happen."""

    MEMBER = "member", "会员"
    OPERATOR = "operator", "运营"
    SYSTEM = "system", "系统"
    WECHAT = "wechat", "微信支付"


class AuditEvent(models.Model):
    """One row per transition or recorded decision, written in the same transaction as the change."""

    action = models.CharField("动作", max_length=32)
    from_status = models.CharField("原状态", max_length=20, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, blank=True, default="")
    actor = models.CharField("操作方", max_length=16, choices=Actor.choices, default=Actor.SYSTEM)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作员", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    note = models.CharField("说明", max_length=300, blank=True, default="")
    data = models.JSONField("数据", default=dict, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status} → {self.to_status}"
