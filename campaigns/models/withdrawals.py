"""Withdrawals (提现): a distributor's request to be paid out (WeChat 商家转账), maker-checker
above a threshold; the money moves through the commission ledger (campaigns.models.commissions)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from campaigns.errors import (
    WithdrawalInvalidTransition,
    WithdrawalNotFound,
)
from campaigns.models.distribution import Distributor
from core.audit import AuditEvent
from core.state import StateMachine

# The WeChat transfer kind withdrawals are paid through (payments' transfer registry).
WITHDRAWAL_TRANSFER_KIND = "withdrawal"


# --- withdrawals ---------------------------------------------------------------------------------------


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "待审核"
    AWAITING_SECOND_APPROVAL = "awaiting_second", "待复核"
    APPROVED = "approved", "待打款"
    PAYING = "paying", "打款中"  # the transfer is with WeChat, or waits for the member to confirm
    PAID = "paid", "已到账"
    FAILED = "failed", "打款失败"  # the money went back to available; 重试 takes it again
    REJECTED = "rejected", "已驳回"  # the money went back to available


WS = WithdrawalStatus
# Only WITHDRAWAL_MACHINE.transition() changes Withdrawal.status.
WITHDRAWAL_TRANSITIONS: dict[str, set[str]] = {
    WS.REQUESTED: {WS.AWAITING_SECOND_APPROVAL, WS.APPROVED, WS.REJECTED},
    WS.AWAITING_SECOND_APPROVAL: {WS.APPROVED, WS.REJECTED},
    WS.APPROVED: {WS.PAYING, WS.REJECTED},
    WS.PAYING: {WS.PAID, WS.FAILED},
    WS.FAILED: {WS.PAYING, WS.REJECTED},
    WS.PAID: set(),
    WS.REJECTED: set(),
}
# Statuses whose amount counts against the daily maximum (taken from the balance, or paid).
WITHDRAWAL_COUNTING = frozenset({WS.REQUESTED, WS.AWAITING_SECOND_APPROVAL, WS.APPROVED, WS.PAYING, WS.PAID})


class Withdrawal(models.Model):
    """A distributor's request to be paid `amount_fen` (提现). The amount leaves the available
    balance when requested (提现中) and comes back if the request is rejected or the transfer fails;
    `fee_fen` is kept, `net_fen` is transferred (WeChat 商家转账, scene 佣金报酬)."""

    withdrawal_no = models.CharField("提现单号", max_length=32, unique=True)
    distributor = models.ForeignKey(Distributor, verbose_name="分销员", on_delete=models.PROTECT,
                                    related_name="withdrawals")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField("提现金额（分）")
    fee_fen = models.BigIntegerField("手续费（分）", default=0)
    net_fen = models.BigIntegerField("到账金额（分）")
    status = models.CharField("状态", max_length=16, choices=WithdrawalStatus.choices, default=WS.REQUESTED,
                              db_index=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    second_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="复核人", null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    reject_reason = models.CharField("驳回原因", max_length=200, blank=True, default="")
    fail_reason = models.CharField("失败原因", max_length=200, blank=True, default="")
    # The payments core's transfer of the current attempt (its out_bill_no); the transfer's own
    # reference is the withdrawal number, so a retry after a failure is a new transfer of the same payable.
    attempts = models.PositiveSmallIntegerField("打款次数", default=0)
    transfer_reference = models.CharField("转账单号", max_length=40, blank=True, default="")
    created_at = models.DateTimeField("申请时间", auto_now_add=True, db_index=True)
    approved_at = models.DateTimeField("审核通过时间", null=True, blank=True)
    paying_at = models.DateTimeField("打款时间", null=True, blank=True)
    paid_at = models.DateTimeField("到账时间", null=True, blank=True)
    failed_at = models.DateTimeField("失败时间", null=True, blank=True)
    rejected_at = models.DateTimeField("驳回时间", null=True, blank=True)

    class Meta:
        verbose_name = "提现"
        verbose_name_plural = "提现"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="withdrawal_idempotency_key_per_member"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0, fee_fen__gte=0, net_fen__gt=0)
                                   & Q(net_fen=F("amount_fen") - F("fee_fen")),
                                   name="withdrawal_amounts_add_up"),
        ]
        indexes = [models.Index(fields=["distributor", "-id"], name="withdrawal_mine")]

    def __str__(self) -> str:
        return self.withdrawal_no


class WithdrawalAction(models.TextChoices):
    REQUESTED = "requested", "申请提现"
    APPROVED_FIRST = "approved_first", "初审通过，待复核"
    APPROVED = "approved", "审核通过"
    REJECTED = "rejected", "驳回"
    PAYING = "paying", "发起打款"
    RETRIED = "retried", "重新打款"
    PAID = "paid", "到账"
    FAILED = "failed", "打款失败"


class WithdrawalEvent(AuditEvent):
    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=WithdrawalAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=WithdrawalStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=WithdrawalStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "提现日志"
        verbose_name_plural = "提现日志"


WITHDRAWAL_MACHINE = StateMachine(
    model=Withdrawal, table=WITHDRAWAL_TRANSITIONS, event_model=WithdrawalEvent, event_subject="withdrawal",
    noun="提现", error=WithdrawalInvalidTransition, not_found=WithdrawalNotFound,
    timestamps={WS.APPROVED: "approved_at", WS.PAYING: "paying_at", WS.PAID: "paid_at", WS.FAILED: "failed_at",
                WS.REJECTED: "rejected_at"},
    verbs={WS.APPROVED: "审核通过", WS.AWAITING_SECOND_APPROVAL: "初审", WS.PAYING: "打款", WS.PAID: "到账",
           WS.FAILED: "标记失败", WS.REJECTED: "驳回"},
)
