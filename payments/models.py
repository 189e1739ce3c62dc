"""Trades with the payment gateway for every kind of payable, WeChat's notifications (raw, for the
books), and the trades' audit trail; payouts (transfers) likewise.

A trade is identified by `out_trade_no` (ours, unique across kinds) and names what it pays for by
`kind` (a payable kind registered in payments.registry, e.g. "order", "card"): payments knows no
other app's models.

Money going out is a `Transfer` (WeChat Pay 商家转账), named the same way: `out_bill_no` is ours,
`kind` a transfer kind registered in payments.registry, `reference` the payable's own number.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.audit import AuditEvent
from core.state import StateMachine
from wechat.gateway import transfer_fail_reason_text


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


# --- Payouts: WeChat Pay 商家转账 (Pay v3 transfer bills) ------------------------------------------


class TransferState(models.TextChoices):
    CREATED = "created", "待提交"  # stored with its payee's change; not (known to be) at WeChat yet
    ACCEPTED = "accepted", "已受理"  # WeChat accepted the bill and is locking the funds
    WAIT_USER_CONFIRM = "wait_user_confirm", "待用户确认"  # the member confirms receipt in the mini-program
    SUCCEEDED = "succeeded", "已到账"  # final: the money reached the member's 零钱
    FAILED = "failed", "转账失败"  # final: WeChat says FAIL, with its fail_reason
    CANCELLED = "cancelled", "已撤销"  # final: cancelled by us, or never confirmed until it expired


TRANSFER_FINAL_STATES = frozenset({TransferState.SUCCEEDED, TransferState.FAILED, TransferState.CANCELLED})

# Why a transfer ended unpaid, in our own words where WeChat gives none (its CANCELLED carries no
# reason; a submission it refused has an error code instead); WeChat's FAIL codes otherwise.
MERCHANT_CANCELLED = "MERCHANT_CANCELLED"
USER_NOT_CONFIRMED = "USER_NOT_CONFIRMED"
_OWN_REASONS = {
    MERCHANT_CANCELLED: "商户已撤销转账",
    USER_NOT_CONFIRMED: "用户未在规定时间内确认收款，转账已关闭",
}


def transfer_reason_text(code: str) -> str:
    """A transfer's fail_reason in Chinese, for the console and the payee's records."""
    return _OWN_REASONS.get(code) or transfer_fail_reason_text(code)


class Transfer(models.Model):
    """One payout through WeChat Pay's 商家转账: a transfer bill (`out_bill_no` is our side of it)
    paying `amount_fen` to the member `openid` for the payable `reference` of one `kind` (a transfer
    kind registered in payments.registry, e.g. a distributor's withdrawal).

    At most one live transfer (not failed or cancelled) per (kind, reference): a payable is paid
    out once, and a new transfer for it can start only after the last one failed.
    """

    kind = models.CharField("类型", max_length=16)
    reference = models.CharField("业务单号", max_length=64)
    out_bill_no = models.CharField("商户单号", max_length=32, unique=True)
    openid = models.CharField("收款用户OpenID", max_length=64)
    # The payee's real name, sent (encrypted with WeChat Pay's public key) only from ¥2,000, when
    # WeChat requires it; cleared once the transfer is final, since nothing needs it after.
    user_name = models.CharField("收款用户姓名", max_length=64, blank=True, default="")
    amount_fen = models.BigIntegerField("金额（分）")
    remark = models.CharField("转账备注", max_length=32)
    # The scene and its report as first sent: a repeat of the same bill must send the same values.
    scene_id = models.CharField("转账场景ID", max_length=16)
    report_infos = models.JSONField("场景报备信息", default=list, blank=True)
    state = models.CharField("状态", max_length=20, choices=TransferState.choices, default=TransferState.CREATED)
    package_info = models.TextField("确认收款package", blank=True, default="")
    fail_reason = models.CharField("失败原因", max_length=64, blank=True, default="")
    wechat_bill_no = models.CharField("微信转账单号", max_length=64, null=True, blank=True, unique=True)
    attempts = models.PositiveIntegerField("提交次数", default=0)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    checked_at = models.DateTimeField("最近核对", null=True, blank=True)  # last submit or query: the sweep's clock
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "转账单"
        verbose_name_plural = "转账单"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="transfer_amount_positive"),
            models.UniqueConstraint(
                fields=["kind", "reference"],
                condition=~Q(state__in=["failed", "cancelled"]),
                name="transfer_one_live_per_reference",
            ),
        ]
        indexes = [models.Index(fields=["state", "checked_at"], name="transfer_state_checked")]

    def __str__(self) -> str:
        return self.out_bill_no

    @property
    def is_final(self) -> bool:
        return self.state in TRANSFER_FINAL_STATES

    @property
    def fail_reason_text(self) -> str:
        return transfer_reason_text(self.fail_reason) if self.fail_reason else ""


class TransferNotification(models.Model):
    """A verified, decrypted transfer notify from WeChat (MCHTRANSFER.BILL.FINISHED), stored once per
    notification id: a redelivery finds it and changes nothing."""

    notify_id = models.CharField("通知ID", max_length=64, unique=True)
    out_bill_no = models.CharField("商户单号", max_length=32, db_index=True)
    state = models.CharField("单据状态", max_length=32)
    resource = models.JSONField("通知内容", default=dict)
    outcome = models.CharField("处理结果", max_length=32, blank=True, default="")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        verbose_name = "转账通知"
        verbose_name_plural = "转账通知"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.notify_id


class TransferEvent(AuditEvent):
    """The audit trail of a transfer: one row per state change, submit error and cancel request."""

    class Action(models.TextChoices):
        CREATED = "created", "创建转账单"
        SUBMIT_ERROR = "submit_error", "提交失败"  # the outcome is unknown or WeChat refused: submit again
        ACCEPTED = "accepted", "微信已受理"
        WAIT_USER_CONFIRM = "wait_user_confirm", "待用户确认收款"
        SUCCEEDED = "succeeded", "转账成功"
        FAILED = "failed", "转账失败"
        CANCEL_REQUESTED = "cancel_requested", "申请撤销"
        CANCELLED = "cancelled", "转账已撤销"

    transfer = models.ForeignKey(Transfer, verbose_name="转账单", on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=Action.choices)
    from_status = models.CharField("原状态", max_length=20, choices=TransferState.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=TransferState.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "转账日志"
        verbose_name_plural = "转账日志"


# WeChat's word arrives out of order (a create answer after the notify, a query racing it): a step
# back (accepted after wait_user_confirm) is ignored, never a regression. One final state never
# becomes another (the services refuse and log that; WeChat's final states are final).
TRANSFER_MACHINE: StateMachine[Transfer] = StateMachine(
    model=Transfer,
    table={
        TransferState.CREATED: {TransferState.ACCEPTED, TransferState.WAIT_USER_CONFIRM, *TRANSFER_FINAL_STATES},
        TransferState.ACCEPTED: {TransferState.WAIT_USER_CONFIRM, *TRANSFER_FINAL_STATES},
        TransferState.WAIT_USER_CONFIRM: set(TRANSFER_FINAL_STATES),
        TransferState.SUCCEEDED: set(),
        TransferState.FAILED: set(),
        TransferState.CANCELLED: set(),
    },
    event_model=TransferEvent,
    event_subject="transfer",
    noun="转账单",
    timestamps={state: "finished_at" for state in TRANSFER_FINAL_STATES},
    progress={TransferState.CREATED: 0, TransferState.ACCEPTED: 1, TransferState.WAIT_USER_CONFIRM: 2,
              TransferState.SUCCEEDED: 3, TransferState.FAILED: 3, TransferState.CANCELLED: 3},
    status_field="state",
)
