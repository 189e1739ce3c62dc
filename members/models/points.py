"""Points (积分): the append-only ledger, the earning lots that expire, operator adjustments.

    PointsEntry       one row per change of a member's points (+ earned, − spent/expired/taken back),
                      with a kind, a reference and the operator where one acted. Never updated.
    PointsLot         what one earning row added, and how much of it is left; spending takes the
                      lots that expire first, expiry takes only what a lot has left.
    PointsAllocation  which lots a ledger row took points from or gave points to (signed), so a
                      refund can give spent points back to the lots they came from.
    PointsAdjustment  an operator's request to add or deduct points; above a threshold a second,
                      different operator approves it.

Member.points_balance is the checked snapshot: sum(PointsEntry.delta) = sum(PointsLot.remaining)
= points_balance for every member, kept by members.services.points and checked nightly.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class PointsKind(models.TextChoices):
    """Why points changed. Earning kinds create a lot; the others take from lots or give back."""

    SIGN_IN = "sign_in", "签到"
    PURCHASE = "purchase", "购物"
    REVIEW = "review", "评价"
    INVITE = "invite", "邀请"
    CAMPAIGN = "campaign", "活动奖励"
    ADJUSTMENT = "adjustment", "后台调整"  # + or −, by an operator (maker-checker above a threshold)
    SPEND = "spend", "下单抵扣"  # points paid part of an order
    EXCHANGE = "exchange", "积分兑换"  # points bought a points-mall item
    REFUND_RETURN = "refund_return", "退款退回"  # spent points back, the order was refunded
    CANCEL_RETURN = "cancel_return", "取消退回"  # spent points back, the order was cancelled
    REVERSAL = "reversal", "订单退款扣回"  # points earned by a refunded order taken back
    EXPIRY = "expiry", "过期"  # what an earning lot had left when it expired


# Kinds a service may award (each creates a lot); the other kinds are written by their own services.
EARNING_KINDS = frozenset({PointsKind.SIGN_IN, PointsKind.PURCHASE, PointsKind.REVIEW, PointsKind.INVITE,
                           PointsKind.CAMPAIGN, PointsKind.ADJUSTMENT})
SPENDING_KINDS = frozenset({PointsKind.SPEND, PointsKind.EXCHANGE})
RETURN_KINDS = frozenset({PointsKind.REFUND_RETURN, PointsKind.CANCEL_RETURN})


class PointsEntry(models.Model):
    """One change of a member's points. Append-only: a correction is a new row."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="points_entries")
    kind = models.CharField("类型", max_length=16, choices=PointsKind.choices)
    delta = models.BigIntegerField("积分变动")
    balance_after = models.BigIntegerField("变动后余额")
    # The order number, refund number, sign-in day… "" when there is none. (member, kind,
    # reference) is unique when given: what makes award / spend / return / reverse happen once.
    reference = models.CharField("关联单号", max_length=64, blank=True, default="")
    # A return or a reversal points at the spend or award row it undoes (part of).
    origin = models.ForeignKey("self", verbose_name="原流水", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="reversals")
    # A reversal that found the points already spent takes what the balance has and records the
    # rest here (not owed later).
    shortfall = models.BigIntegerField("未能扣回", default=0)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    note = models.CharField("备注", max_length=200, blank=True, default="")
    created_at = models.DateTimeField("时间", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "积分流水"
        verbose_name_plural = "积分流水"
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "-id"], name="points_entry_member_recent")]
        constraints = [
            models.UniqueConstraint(fields=["member", "kind", "reference"], condition=~Q(reference=""),
                                    name="points_entry_once_per_reference"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="points_entry_balance_non_negative"),
            models.CheckConstraint(condition=Q(shortfall__gte=0), name="points_entry_shortfall_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.delta:+d}"


class PointsLot(models.Model):
    """Points earned together, expiring together. `remaining` changes only in members.services.points,
    each change with a PointsAllocation row."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="points_lots")
    entry = models.OneToOneField(PointsEntry, verbose_name="来源流水", on_delete=models.PROTECT,
                                 related_name="lot")
    earned = models.BigIntegerField("获得积分")
    remaining = models.BigIntegerField("剩余积分")
    earned_at = models.DateTimeField("获得时间")
    expires_at = models.DateTimeField("过期时间")
    reminded_at = models.DateTimeField("过期提醒时间", null=True, blank=True)
    expired_at = models.DateTimeField("过期处理时间", null=True, blank=True)

    class Meta:
        verbose_name = "积分批次"
        verbose_name_plural = "积分批次"
        ordering = ["expires_at", "id"]
        indexes = [
            # Spending (FIFO by expiry) and "what expires next" for one member.
            models.Index(fields=["member", "expires_at", "id"], condition=Q(remaining__gt=0),
                         name="points_lot_open"),
            # The expiry and reminder jobs: open lots by expiry.
            models.Index(fields=["expires_at", "member"], condition=Q(remaining__gt=0), name="points_lot_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(earned__gt=0), name="points_lot_earned_positive"),
            models.CheckConstraint(condition=Q(remaining__gte=0) & Q(remaining__lte=F("earned")),
                                   name="points_lot_remaining_within_earned"),
        ]

    def __str__(self) -> str:
        return f"{self.earned} 积分（剩余 {self.remaining}）"


class PointsAllocation(models.Model):
    """How a ledger row moved a lot: negative took points from it, positive put points in."""

    entry = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="allocations")
    points = models.BigIntegerField("积分")

    class Meta:
        verbose_name = "积分批次变动"
        verbose_name_plural = "积分批次变动"
        constraints = [
            models.UniqueConstraint(fields=["entry", "lot"], name="points_allocation_once"),
            models.CheckConstraint(condition=~Q(points=0), name="points_allocation_non_zero"),
        ]


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", "待审批"  # above the threshold: waits for a second operator
    APPLIED = "applied", "已生效"  # the ledger row is written
    REJECTED = "rejected", "已驳回"


class PointsAdjustment(models.Model):
    """An operator's adjustment. At or below settings.POINTS_ADJUST_APPROVAL_ABOVE (either way) it
    applies when created; above it, another operator must approve it (maker-checker)."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="points_adjustments")
    delta = models.BigIntegerField("调整积分", help_text="正数为增加，负数为扣减")
    reason = models.CharField("调整原因", max_length=200)
    status = models.CharField("状态", max_length=16, choices=AdjustmentStatus.choices,
                              default=AdjustmentStatus.PENDING, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="发起人", null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审批人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    reject_reason = models.CharField("驳回原因", max_length=200, blank=True, default="")
    entry = models.OneToOneField(PointsEntry, verbose_name="积分流水", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="adjustment")

    class Meta:
        verbose_name = "积分调整"
        verbose_name_plural = "积分调整"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(delta=0), name="points_adjustment_non_zero"),
            models.CheckConstraint(condition=~Q(status=AdjustmentStatus.APPLIED) | Q(entry__isnull=False),
                                   name="points_adjustment_applied_has_entry"),
        ]

    def __str__(self) -> str:
        return f"积分调整 #{self.pk}（{self.delta:+d}）"
