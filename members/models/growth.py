"""Growth (成长值): an append-only ledger, the tier history it causes, and the operators' rules.

`Member.growth` is a snapshot of the ledger: it changes only together with a `GrowthEntry` row,
in one transaction (members.services.growth). The member's tier follows the snapshot at once,
up and down, and every change of tier leaves a `TierChange` row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class GrowthReason(models.TextChoices):
    PURCHASE = "purchase", "购物"  # a paid order: the shop passes the order number as reference
    REVIEW = "review", "评价"  # a review: the shop passes the review reference
    SIGNIN = "signin", "签到"  # the daily sign-in: reference "signin:<day>"
    REFUND = "refund", "退款扣回"  # takes back (part of) an earlier award: reference = the refund's
    ADJUST = "adjust", "后台调整"  # an operator, with a note; may be negative


class GrowthEntry(models.Model):
    """One change of a member's growth. Never updated or deleted; a reversal is a new row.

    (reason, reference, member) is unique where a reference is given: that is what makes an
    award or a reversal happen exactly once however often the caller retries.
    """

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="growth_entries")
    delta = models.BigIntegerField("变动")
    reason = models.CharField("原因", max_length=16, choices=GrowthReason.choices)
    reference = models.CharField("关联单号", max_length=64, blank=True, default="")
    # For a reversal (退款扣回): the reference of the award it takes back.
    reverses_reference = models.CharField("冲销原单号", max_length=64, blank=True, default="")
    growth_after = models.BigIntegerField("变动后成长值")
    note = models.CharField("备注", max_length=200, blank=True, default="")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "成长值流水"
        verbose_name_plural = "成长值流水"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["reason", "reference", "member"], condition=~Q(reference=""),
                                    name="growth_entry_once_per_reference"),
            models.CheckConstraint(condition=~Q(delta=0), name="growth_entry_delta_non_zero"),
            models.CheckConstraint(condition=Q(growth_after__gte=0), name="growth_entry_after_non_negative"),
        ]
        indexes = [
            models.Index(fields=["member", "reverses_reference"], name="growth_entry_reversals",
                         condition=~Q(reverses_reference="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.delta:+d}"


class TierChange(models.Model):
    """The member moved from one tier to another (upgrade, or downgrade after a reversal)."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="tier_changes")
    from_tier = models.ForeignKey("members.Tier", verbose_name="原等级", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey("members.Tier", verbose_name="新等级", on_delete=models.PROTECT, related_name="+")
    growth = models.BigIntegerField("变动时成长值")
    entry = models.ForeignKey(GrowthEntry, verbose_name="触发流水", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="tier_changes")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "等级变动"
        verbose_name_plural = "等级变动"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier}"


class GrowthRule(models.Model):
    """How much growth each source gives. One row (pk=1), edited by operators."""

    per_yuan = models.PositiveIntegerField("每消费 1 元", default=1, help_text="按实付整元计算，不足 1 元的部分不计")
    per_review = models.PositiveIntegerField("每条评价", default=10)
    per_signin = models.PositiveIntegerField(
        "每次签到", default=5, help_text="签到奖励表中“成长值”留空的天数使用此值")
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "成长值规则"
        verbose_name_plural = "成长值规则"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="growth_rule_singleton")]

    def __str__(self) -> str:
        return "成长值规则"
