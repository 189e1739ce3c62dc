"""Distribution's money (分销佣金): what order lines earned, the ledger of every change of a
distributor's balance, and refunds that came after settlement.

    Commission            what one order line earned one distributor at one level
    CommissionEntry       the append-only ledger: one row per change of a distributor's money,
                          with the delta of every bucket it moved
    Clawback              a refund that came after its commission was settled: taken from the
                          available balance, the rest owed and offset against later settlements

Each change of Distributor's balance snapshot is one CommissionEntry with the same deltas, in the
same transaction (campaigns.models.distribution says why).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from campaigns.errors import (
    ClawbackInvalidTransition,
    CommissionInvalidTransition,
    CommissionNotFound,
)
from campaigns.models.distribution import Distributor
from core.audit import AuditEvent
from core.state import StateMachine

# --- commissions -----------------------------------------------------------------------------------------


class CommissionStatus(models.TextChoices):
    PENDING = "pending", "待收货"  # the order is paid; commission counted, not yet received
    FROZEN = "frozen", "冻结中"  # received; the after-sales window is open
    AVAILABLE = "available", "可提现"
    WITHDRAWN = "withdrawn", "已提现"
    CANCELLED = "cancelled", "已取消"  # refunded in full before it became available


CS = CommissionStatus
# Only COMMISSION_MACHINE (and the settlement job's set-based equivalent, which writes the same
# audit rows) changes Commission.status.
COMMISSION_TRANSITIONS: dict[str, set[str]] = {
    CS.PENDING: {CS.FROZEN, CS.CANCELLED},
    CS.FROZEN: {CS.AVAILABLE, CS.CANCELLED},
    CS.AVAILABLE: {CS.WITHDRAWN},
    CS.WITHDRAWN: set(),
    CS.CANCELLED: set(),
}


class Commission(models.Model):
    """What one order line earned one distributor at one level (一级 / 二级), to the fen.

    `base_fen` is what the shopper paid for the line after every discount (member price, 满减,
    coupon, points), freight excluded; `amount_fen` = base × percent, rounded once. A refund takes
    back its share (`refunded_fen`, never more than the amount): before settlement straight from
    the commission, after it as a Clawback."""

    distributor = models.ForeignKey(Distributor, verbose_name="分销员", on_delete=models.PROTECT,
                                    related_name="commissions")
    level = models.PositiveSmallIntegerField("层级", choices=[(1, "一级"), (2, "二级")])
    buyer = models.ForeignKey("members.Member", verbose_name="下单会员", on_delete=models.PROTECT, related_name="+")
    order_ref = models.CharField("订单号", max_length=32)
    line_ref = models.BigIntegerField("订单商品ID")
    product = models.ForeignKey("catalog.Product", verbose_name="商品", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    product_name = models.CharField("商品名称", max_length=100, blank=True, default="")
    sku_id = models.BigIntegerField("SKU ID", null=True, blank=True)
    base_fen = models.BigIntegerField("计佣金额（分）")
    percent = models.DecimalField("佣金比例（%）", max_digits=5, decimal_places=2)
    amount_fen = models.BigIntegerField("佣金（分）")
    refunded_fen = models.BigIntegerField("已退回佣金（分）", default=0)
    status = models.CharField("状态", max_length=16, choices=CommissionStatus.choices, default=CS.PENDING)
    settle_at = models.DateTimeField("可提现时间", null=True, blank=True)
    created_at = models.DateTimeField("产生时间", auto_now_add=True)
    frozen_at = models.DateTimeField("收货时间", null=True, blank=True)
    available_at = models.DateTimeField("结算时间", null=True, blank=True)
    withdrawn_at = models.DateTimeField("提现时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)

    class Meta:
        verbose_name = "佣金记录"
        verbose_name_plural = "佣金记录"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["order_ref", "line_ref", "level"], name="commission_once_per_line_level"),
            models.CheckConstraint(condition=Q(level__in=[1, 2]), name="commission_at_most_two_levels"),
            models.CheckConstraint(condition=Q(base_fen__gte=0, amount_fen__gte=0, refunded_fen__gte=0)
                                   & Q(refunded_fen__lte=F("amount_fen")) & Q(amount_fen__lte=F("base_fen")),
                                   name="commission_amounts_within_base"),
        ]
        indexes = [
            models.Index(fields=["distributor", "-id"], name="commission_mine"),
            models.Index(fields=["order_ref"], name="commission_by_order"),
            # The settlement job: frozen commissions by when they may settle.
            models.Index(fields=["settle_at", "distributor"], condition=Q(status="frozen"), name="commission_due"),
        ]

    def __str__(self) -> str:
        return f"{self.order_ref} {self.get_level_display()}"

    @property
    def net_fen(self) -> int:
        """What the commission is worth after its refunds."""
        return self.amount_fen - self.refunded_fen


class CommissionAction(models.TextChoices):
    EARNED = "earned", "产生佣金"
    FROZEN = "frozen", "确认收货，冻结"
    SETTLED = "settled", "结算为可提现"
    REVERSED = "reversed", "退款扣减"
    CANCELLED = "cancelled", "全额退款，取消"
    CLAWED_BACK = "clawed_back", "结算后退款，追回"
    WITHDRAWN = "withdrawn", "已提现"


class CommissionEvent(AuditEvent):
    commission = models.ForeignKey(Commission, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=CommissionAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=CommissionStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=CommissionStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "佣金日志"
        verbose_name_plural = "佣金日志"


COMMISSION_MACHINE = StateMachine(
    model=Commission, table=COMMISSION_TRANSITIONS, event_model=CommissionEvent, event_subject="commission",
    noun="佣金", error=CommissionInvalidTransition, not_found=CommissionNotFound,
    timestamps={CS.FROZEN: "frozen_at", CS.AVAILABLE: "available_at", CS.WITHDRAWN: "withdrawn_at",
                CS.CANCELLED: "cancelled_at"},
    verbs={CS.FROZEN: "冻结", CS.AVAILABLE: "结算", CS.WITHDRAWN: "提现", CS.CANCELLED: "取消"},
)


# The buckets of a distributor's money: the snapshot fields on Distributor, the delta columns of
# CommissionEntry (same names).
BALANCE_BUCKETS = ("pending_fen", "frozen_fen", "available_fen", "withdrawing_fen", "withdrawn_fen", "owed_fen")


class EntryReason(models.TextChoices):
    EARNED = "earned", "订单付款，产生佣金"
    FROZEN = "frozen", "确认收货，佣金冻结"
    SETTLED = "settled", "售后期结束，佣金可提现"
    REVERSED = "reversed", "结算前退款，扣减佣金"
    CLAWBACK = "clawback", "结算后退款，追回佣金"
    WITHDRAW_REQUESTED = "withdraw_requested", "申请提现"
    WITHDRAW_PAID = "withdraw_paid", "提现到账"
    WITHDRAW_RETURNED = "withdraw_returned", "提现失败或驳回，退回余额"


class CommissionEntry(models.Model):
    """One change of a distributor's money. Append-only: a correction is a new row.

    Each column is the change of the snapshot field of the same name on Distributor, so
    Σ column = snapshot field for every distributor (checked nightly)."""

    distributor = models.ForeignKey(Distributor, verbose_name="分销员", on_delete=models.PROTECT,
                                    related_name="entries")
    reason = models.CharField("类型", max_length=24, choices=EntryReason.choices)
    # "commission:<id>", "refund:<no>:<commission id>", "withdrawal:<no>", "withdrawal:<no>:<attempt>"…
    # (distributor, reason, reference) is unique: what makes each change happen once.
    reference = models.CharField("关联", max_length=64)
    commission = models.ForeignKey(Commission, verbose_name="佣金", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="entries")
    withdrawal = models.ForeignKey("campaigns.Withdrawal", verbose_name="提现", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="entries")
    pending_fen = models.BigIntegerField("待结算变动", default=0)
    frozen_fen = models.BigIntegerField("冻结变动", default=0)
    available_fen = models.BigIntegerField("可提现变动", default=0)
    withdrawing_fen = models.BigIntegerField("提现中变动", default=0)
    withdrawn_fen = models.BigIntegerField("已提现变动", default=0)
    owed_fen = models.BigIntegerField("待扣回变动", default=0)
    note = models.CharField("说明", max_length=200, blank=True, default="")
    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "佣金流水"
        verbose_name_plural = "佣金流水"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "reason", "reference"], name="commission_entry_once"),
        ]
        indexes = [models.Index(fields=["distributor", "-id"], name="commission_entry_mine")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.reference}"


# --- clawbacks -----------------------------------------------------------------------------------------


class ClawbackStatus(models.TextChoices):
    OWED = "owed", "待扣回"  # part of it waits for later settlements
    RECOVERED = "recovered", "已扣回"


class Clawback(models.Model):
    """A refund that came after its commission was settled (可提现 or 已提现): `amount_fen` is taken
    back, `from_available_fen` of it at once from the available balance, the rest (`owed_fen`) from
    the distributor's next settlements, oldest clawback first. The withdrawable amount is never
    negative."""

    distributor = models.ForeignKey(Distributor, verbose_name="分销员", on_delete=models.PROTECT,
                                    related_name="clawbacks")
    commission = models.ForeignKey(Commission, verbose_name="佣金", on_delete=models.PROTECT,
                                   related_name="clawbacks")
    refund_ref = models.CharField("退款单号", max_length=64)
    amount_fen = models.BigIntegerField("追回金额（分）")
    from_available_fen = models.BigIntegerField("从可提现扣除（分）")
    owed_fen = models.BigIntegerField("待后续佣金抵扣（分）")
    status = models.CharField("状态", max_length=16, choices=ClawbackStatus.choices, default=ClawbackStatus.OWED)
    created_at = models.DateTimeField("时间", auto_now_add=True)
    recovered_at = models.DateTimeField("扣回完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "佣金追回"
        verbose_name_plural = "佣金追回"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["commission", "refund_ref"], name="clawback_once_per_refund"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0, from_available_fen__gte=0, owed_fen__gte=0)
                                   & Q(amount_fen=F("from_available_fen") + F("owed_fen")),
                                   name="clawback_parts_add_up"),
        ]
        indexes = [models.Index(fields=["distributor", "id"], condition=Q(status="owed"), name="clawback_owed")]

    def __str__(self) -> str:
        return f"追回 {self.refund_ref}"


class ClawbackAction(models.TextChoices):
    CREATED = "created", "结算后退款，追回佣金"
    RECOVERED = "recovered", "已从后续佣金扣回"


class ClawbackEvent(AuditEvent):
    clawback = models.ForeignKey(Clawback, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=ClawbackAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=ClawbackStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=ClawbackStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "佣金追回日志"
        verbose_name_plural = "佣金追回日志"


CLAWBACK_MACHINE = StateMachine(
    model=Clawback, table={ClawbackStatus.OWED: {ClawbackStatus.RECOVERED}, ClawbackStatus.RECOVERED: set()},
    event_model=ClawbackEvent, event_subject="clawback", noun="佣金追回", error=ClawbackInvalidTransition,
    timestamps={ClawbackStatus.RECOVERED: "recovered_at"}, verbs={ClawbackStatus.RECOVERED: "完成扣回"},
)
