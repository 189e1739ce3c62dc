"""砍价 (bargain): an activity, a member's launch of it, and the friends' helps (cuts).

A launch's price only goes down, one help at a time, never below the floor: the cut is written by
a conditional UPDATE on the launch's current price and help count (campaigns.services.bargain),
and the table's CheckConstraints hold the floor and the helper count whatever the code does.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q

from catalog.models import Sku
from core.audit import AuditEvent
from core.state import StateMachine

from ..errors import BargainInvalidTransition, BargainLaunchNotFound


class BargainActivity(models.Model):
    """What can be bargained: a SKU from a start price down to a floor price, with N helpers."""

    name = models.CharField("活动名称", max_length=64)
    sku = models.ForeignKey(Sku, verbose_name="SKU", on_delete=models.PROTECT, related_name="+")
    start_price_fen = models.BigIntegerField("起砍价（分）")
    floor_price_fen = models.BigIntegerField("底价（分）")
    helpers_needed = models.PositiveSmallIntegerField("需要帮砍人数", default=5)
    hours_to_finish = models.PositiveSmallIntegerField("砍价时限（小时）", default=24)
    helps_per_helper = models.PositiveSmallIntegerField(
        "每人可帮砍次数", default=3, help_text="同一会员在本活动中最多帮几位好友砍价")
    buy_before_floor = models.BooleanField("允许未砍到底价时购买", default=False)
    stock_total = models.PositiveIntegerField("活动库存")
    stock_left = models.IntegerField("剩余库存", editable=False)
    starts_at = models.DateTimeField("开始时间")
    ends_at = models.DateTimeField("结束时间")
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "砍价活动"
        verbose_name_plural = "砍价活动"
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="bargain_activity_window"),
            models.CheckConstraint(condition=Q(floor_price_fen__gte=0), name="bargain_floor_non_negative"),
            # Each helper cuts at least ¥0.01: the range must hold one fen per helper.
            models.CheckConstraint(condition=Q(start_price_fen__gte=F("floor_price_fen") + F("helpers_needed")),
                                   name="bargain_range_covers_helpers"),
            models.CheckConstraint(condition=Q(helpers_needed__gte=1), name="bargain_helpers_positive"),
            models.CheckConstraint(condition=Q(stock_left__gte=0), name="bargain_stock_non_negative"),
            models.CheckConstraint(condition=Q(stock_left__lte=F("stock_total")), name="bargain_stock_within_total"),
        ]

    def __str__(self) -> str:
        return self.name


class BargainStatus(models.TextChoices):
    ONGOING = "ongoing", "砍价中"  # friends may help; bought now only when buy_before_floor
    SUCCEEDED = "succeeded", "已砍到底价"  # may be bought until buy_until
    ORDERED = "ordered", "已下单"  # an unpaid order holds it (and one unit of activity stock)
    PURCHASED = "purchased", "已购买"  # the order was paid
    EXPIRED = "expired", "已过期"  # time ran out before it was bought
    CLOSED = "closed", "已关闭"  # closed by an operator


# A launch that is still the member's live one for its activity (one at a time).
BARGAIN_LIVE = frozenset({BargainStatus.ONGOING, BargainStatus.SUCCEEDED, BargainStatus.ORDERED})

BS = BargainStatus
# Only BARGAIN_MACHINE.transition() changes BargainLaunch.status.
BARGAIN_TRANSITIONS: dict[str, set[str]] = {
    BS.ONGOING: {BS.SUCCEEDED, BS.ORDERED, BS.EXPIRED, BS.CLOSED},
    BS.SUCCEEDED: {BS.ORDERED, BS.EXPIRED, BS.CLOSED},
    # A cancelled unpaid order gives the launch back to where it was (or lets it expire).
    BS.ORDERED: {BS.PURCHASED, BS.ONGOING, BS.SUCCEEDED, BS.EXPIRED},
    # A late payment of the cancelled order takes it again.
    BS.EXPIRED: {BS.ORDERED},
    BS.PURCHASED: set(),
    BS.CLOSED: set(),
}


class BargainLaunch(models.Model):
    """One member's bargain (发起砍价): the activity's prices copied at launch, the price reached."""

    launch_no = models.CharField("砍价单号", max_length=32, unique=True)
    activity = models.ForeignKey(BargainActivity, verbose_name="活动", on_delete=models.PROTECT,
                                 related_name="launches")
    member = models.ForeignKey("members.Member", verbose_name="发起人", on_delete=models.PROTECT, related_name="+")
    start_price_fen = models.BigIntegerField("起砍价（分）")
    floor_price_fen = models.BigIntegerField("底价（分）")
    current_price_fen = models.BigIntegerField("当前价（分）")
    helpers_needed = models.PositiveSmallIntegerField("需要帮砍人数")
    helpers_count = models.PositiveSmallIntegerField("已帮砍人数", default=0)
    status = models.CharField("状态", max_length=16, choices=BargainStatus.choices, default=BargainStatus.ONGOING)
    expires_at = models.DateTimeField("砍价截止")
    buy_until = models.DateTimeField("购买截止", null=True, blank=True)
    order_no = models.CharField("订单号", max_length=32, blank=True, default="", db_index=True)
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    succeeded_at = models.DateTimeField("砍成时间", null=True, blank=True)
    ordered_at = models.DateTimeField("下单时间", null=True, blank=True)
    purchased_at = models.DateTimeField("购买时间", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "砍价记录"
        verbose_name_plural = "砍价记录"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(current_price_fen__gte=F("floor_price_fen")),
                                   name="bargain_never_below_floor"),
            models.CheckConstraint(condition=Q(current_price_fen__lte=F("start_price_fen")),
                                   name="bargain_never_above_start"),
            models.CheckConstraint(condition=Q(helpers_count__lte=F("helpers_needed")),
                                   name="bargain_helpers_within_needed"),
            # The floor is reached exactly when the last helper has helped.
            models.CheckConstraint(
                condition=Q(helpers_count=F("helpers_needed"), current_price_fen=F("floor_price_fen"))
                | Q(helpers_count__lt=F("helpers_needed"), current_price_fen__gt=F("floor_price_fen")),
                                   name="bargain_floor_iff_all_helped"),
            models.UniqueConstraint(fields=["activity", "member"],
                                    condition=Q(status__in=[BS.ONGOING, BS.SUCCEEDED, BS.ORDERED]),
                                    name="bargain_one_live_launch"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="bargain_launch_due")]

    def __str__(self) -> str:
        return self.launch_no

    def buyable_now(self, now: dt.datetime) -> bool:
        """Whether the launcher may order it now: at the floor before buy_until, or still ongoing
        before its deadline when the activity allows buying before the floor."""
        if self.status == BargainStatus.SUCCEEDED:
            return self.buy_until is None or self.buy_until > now
        return (self.status == BargainStatus.ONGOING and self.activity.buy_before_floor
                and self.expires_at > now)

    def status_now(self, now: dt.datetime) -> str:
        """The status a shopper sees: an ongoing launch past its deadline, or one at the floor not
        bought in time, is expired even before the expiry job has marked it."""
        if self.status == BargainStatus.ONGOING and self.expires_at <= now:
            return BargainStatus.EXPIRED
        if self.status == BargainStatus.SUCCEEDED and self.buy_until is not None and self.buy_until <= now:
            return BargainStatus.EXPIRED
        return self.status


class BargainHelp(models.Model):
    """One friend's cut (帮砍): the seq-th help, what it took off and the price it left."""

    launch = models.ForeignKey(BargainLaunch, verbose_name="砍价记录", on_delete=models.CASCADE, related_name="helps")
    helper = models.ForeignKey("members.Member", verbose_name="帮砍人", on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveSmallIntegerField("第几刀")
    cut_fen = models.BigIntegerField("砍掉（分）")
    price_after_fen = models.BigIntegerField("砍后价（分）")
    device_id = models.CharField("设备", max_length=64, blank=True, default="")
    helper_registered_at = models.DateTimeField("帮砍人注册时间", null=True, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "帮砍记录"
        verbose_name_plural = "帮砍记录"
        ordering = ["launch", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "helper"], name="bargain_help_once_per_launch"),
            models.UniqueConstraint(fields=["launch", "seq"], name="bargain_help_seq_once"),
            models.CheckConstraint(condition=Q(cut_fen__gte=1), name="bargain_cut_positive"),
        ]


class BargainAction(models.TextChoices):
    LAUNCHED = "launched", "发起砍价"
    SUCCEEDED = "succeeded", "砍到底价"
    ORDERED = "ordered", "下单"
    RELEASED = "released", "订单取消，恢复砍价"
    PURCHASED = "purchased", "支付成功"
    EXPIRED = "expired", "过期"
    RECLAIMED = "reclaimed", "取消后到账，恢复订单"
    CLOSED = "closed", "运营关闭"


class BargainEvent(AuditEvent):
    launch = models.ForeignKey(BargainLaunch, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=BargainAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=BargainStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=BargainStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "砍价日志"
        verbose_name_plural = "砍价日志"


BARGAIN_MACHINE = StateMachine(
    model=BargainLaunch, table=BARGAIN_TRANSITIONS, event_model=BargainEvent, event_subject="launch",
    noun="砍价", error=BargainInvalidTransition, not_found=BargainLaunchNotFound,
    timestamps={BS.SUCCEEDED: "succeeded_at", BS.ORDERED: "ordered_at", BS.PURCHASED: "purchased_at",
                BS.EXPIRED: "closed_at", BS.CLOSED: "closed_at"},
    verbs={BS.SUCCEEDED: "砍成", BS.ORDERED: "下单", BS.PURCHASED: "支付", BS.EXPIRED: "过期", BS.CLOSED: "关闭"},
)
