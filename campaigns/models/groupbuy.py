"""Group buying (拼团): activities, their SKUs, the groups members open and the seats they pay for.

A group exists once its leader has paid (开团 is a payment); a seat is taken when a member's
payment is recorded, under the group's row lock, so a group never holds more seats than its
size. An order placed to open or join a group holds a `GroupBuySeat` from placement on: pending
until paid, then seated, or marked for refund when the group could not take it (full, expired)
and the activity refunds instead of opening a new group, or when its group failed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from campaigns.errors import GroupBuyInvalidTransition, GroupBuyNotFound
from catalog.models import Sku
from core.audit import AuditEvent
from core.state import StateMachine


class GroupBuyActivity(models.Model):
    """A 拼团 activity: its SKUs' group prices, how many make a group, how long a group stays open."""

    class Overflow(models.TextChoices):
        """What happens to a member who pays for a seat that is no longer there (the last-seat race)."""

        OPEN_NEW = "open_new", "自动开新团"  # the payer becomes the leader of a new group
        REFUND = "refund", "自动退款"  # the payment is refunded in full at once

    name = models.CharField("活动名称", max_length=64)
    starts_at = models.DateTimeField("开始时间")
    ends_at = models.DateTimeField("结束时间")
    is_active = models.BooleanField("启用", default=True)
    group_size = models.PositiveSmallIntegerField("成团人数", default=3, validators=[MinValueValidator(2)],
                                                  help_text="含团长，至少 2 人")
    open_hours = models.PositiveSmallIntegerField("成团时限（小时）", default=24, validators=[MinValueValidator(1)],
                                                  help_text="开团后在此时间内未凑满人数则拼团失败，自动退款")
    per_member_limit = models.PositiveSmallIntegerField("每人限购（件）", default=1,
                                                        validators=[MinValueValidator(1)])
    new_members_only = models.BooleanField("仅新用户可参团（老带新）", default=False,
                                           help_text="勾选后，只有从未成功下单的会员可以参团；开团不受限")
    single_purchase = models.BooleanField("允许单独购买", default=True,
                                          help_text="商品页同时提供原价单独购买")
    simulate_percent = models.PositiveSmallIntegerField(
        "模拟成团阈值（%）", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="拼团到期时，已支付人数达到成团人数的该百分比，则自动补齐空位并拼团成功；留空表示不模拟成团")
    overflow = models.CharField("满团后继续支付", max_length=16, choices=Overflow.choices, default=Overflow.OPEN_NEW,
                                help_text="多人同时支付最后一个名额时，未入团的付款人自动开新团或自动退款")
    unpaid_timeout_minutes = models.PositiveSmallIntegerField("未支付自动取消（分钟）",
                                                              default=settings.GROUP_BUY_UNPAID_TIMEOUT_MINUTES)
    # Activity lines earn distributors nothing unless the activity says so (its price is thin already).
    commission_enabled = models.BooleanField("参与分销佣金", default=False,
                                             help_text="勾选后，本活动的拼团订单也给分销员计算佣金")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "拼团活动"
        verbose_name_plural = "拼团活动"
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="group_buy_window"),
            models.CheckConstraint(condition=Q(group_size__gte=2), name="group_buy_size_at_least_two"),
            models.CheckConstraint(condition=Q(simulate_percent__isnull=True)
                                   | Q(simulate_percent__gte=1, simulate_percent__lte=100),
                                   name="group_buy_simulate_percent_range"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupBuyItem(models.Model):
    """A SKU of an activity: group price (and an optional lower leader price), activity stock."""

    activity = models.ForeignKey(GroupBuyActivity, verbose_name="活动", on_delete=models.CASCADE,
                                 related_name="items")
    sku = models.ForeignKey(Sku, verbose_name="SKU", on_delete=models.PROTECT, related_name="+")
    group_price_fen = models.BigIntegerField("拼团价（分）")
    leader_price_fen = models.BigIntegerField("团长价（分）", null=True, blank=True,
                                              help_text="开团的团长支付的价格，留空同拼团价")
    stock_total = models.PositiveIntegerField("活动库存")
    stock_left = models.IntegerField("剩余库存", editable=False)
    below_cost_confirmed = models.BooleanField("已确认低于成本价", default=False, editable=False)
    sort = models.PositiveIntegerField("排序", default=0)

    class Meta:
        verbose_name = "拼团商品"
        verbose_name_plural = "拼团商品"
        ordering = ["sort", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "sku"], name="group_buy_item_once_per_activity"),
            models.CheckConstraint(condition=Q(stock_left__gte=0), name="group_buy_stock_non_negative"),
            models.CheckConstraint(condition=Q(stock_left__lte=F("stock_total")), name="group_buy_stock_within_total"),
            models.CheckConstraint(condition=Q(group_price_fen__gte=0), name="group_buy_price_non_negative"),
            models.CheckConstraint(condition=Q(leader_price_fen__isnull=True)
                                   | Q(leader_price_fen__gte=0, leader_price_fen__lte=F("group_price_fen")),
                                   name="group_buy_leader_price_within_group_price"),
        ]

    def __str__(self) -> str:
        return f"{self.activity.name} · SKU {self.sku_id}"

    def price_for(self, *, leader: bool) -> int:
        """What one unit costs the leader opening a group, or a member joining one."""
        if leader and self.leader_price_fen is not None:
            return self.leader_price_fen
        return self.group_price_fen


class GroupBuyStatus(models.TextChoices):
    FORMING = "forming", "拼团中"  # open, waiting for members to pay for the empty seats
    SUCCEEDED = "succeeded", "拼团成功"  # every seat paid (or filled by simulated completion): orders ship
    FAILED = "failed", "拼团失败"  # expired unfilled or closed by an operator: every paid member refunded


class GroupBuy(models.Model):
    """One group (一个团): opened by its leader's payment, succeeds when its seats are paid."""

    group_no = models.CharField("团号", max_length=32, unique=True, help_text="开团订单的订单号")
    activity = models.ForeignKey(GroupBuyActivity, verbose_name="活动", on_delete=models.PROTECT,
                                 related_name="groups")
    item = models.ForeignKey(GroupBuyItem, verbose_name="拼团商品", on_delete=models.PROTECT, related_name="groups")
    leader = models.ForeignKey("members.Member", verbose_name="团长", on_delete=models.PROTECT, related_name="+")
    status = models.CharField("状态", max_length=16, choices=GroupBuyStatus.choices, default=GroupBuyStatus.FORMING,
                              db_index=True)
    size = models.PositiveSmallIntegerField("成团人数")
    seats_taken = models.PositiveSmallIntegerField("已付款人数", default=0)
    simulated_seats = models.PositiveSmallIntegerField("模拟补齐人数", default=0)
    expires_at = models.DateTimeField("截止时间", db_index=True)
    created_at = models.DateTimeField("开团时间", auto_now_add=True)
    succeeded_at = models.DateTimeField("成团时间", null=True, blank=True)
    failed_at = models.DateTimeField("失败时间", null=True, blank=True)
    close_reason = models.CharField("关闭原因", max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "拼团"
        verbose_name_plural = "拼团记录"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Never a group larger than its size, whatever the concurrency.
            models.CheckConstraint(condition=Q(seats_taken__lte=F("size") - F("simulated_seats")),
                                   name="group_buy_never_above_size"),
        ]

    def __str__(self) -> str:
        return f"拼团 {self.group_no}"

    @property
    def seats_left(self) -> int:
        return max(self.size - self.seats_taken - self.simulated_seats, 0)


class SeatStatus(models.TextChoices):
    PENDING = "pending", "待支付"  # the order is placed, not paid
    SEATED = "seated", "已入团"  # paid, holds a seat of its group
    REFUND = "refund", "自动退款"  # paid, refunded in full: no seat was left for it, or its group failed
    CANCELLED = "cancelled", "已取消"  # the unpaid order was cancelled: stock and allowance back


class SeatRole(models.TextChoices):
    LEADER = "leader", "团长"
    MEMBER = "member", "团员"


class GroupBuySeat(models.Model):
    """An order placed to open or join a group, and where it stands. One per order.

    `group` is the group joined (set at placement) or opened (set at payment). Activity stock
    and the member's allowance are held from placement; `stock_returned_at` marks, once, that
    they went back (a cancelled order, a refund)."""

    order = models.OneToOneField("shop.Order", verbose_name="订单", on_delete=models.PROTECT, related_name="+")
    order_no = models.CharField("订单号", max_length=32)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(GroupBuyItem, verbose_name="拼团商品", on_delete=models.PROTECT, related_name="seats")
    group = models.ForeignKey(GroupBuy, verbose_name="团", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="seats")
    role = models.CharField("身份", max_length=8, choices=SeatRole.choices)
    quantity = models.PositiveIntegerField("数量")
    status = models.CharField("状态", max_length=16, choices=SeatStatus.choices, default=SeatStatus.PENDING)
    refund_reason = models.CharField("退款原因", max_length=80, blank=True, default="")
    created_at = models.DateTimeField("下单时间", auto_now_add=True)
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    paid_fen = models.BigIntegerField("实付（分）", default=0)
    stock_returned_at = models.DateTimeField("库存退回时间", null=True, blank=True)

    class Meta:
        verbose_name = "拼团成员"
        verbose_name_plural = "拼团成员"
        ordering = ["paid_at", "id"]
        constraints = [
            # A member holds at most one seat of a group.
            models.UniqueConstraint(fields=["group", "member"], condition=Q(status="seated"),
                                    name="group_buy_one_seat_per_member"),
        ]


class GroupBuyAllowance(models.Model):
    """Units of an activity a member holds (ordered, not cancelled or refunded). The per-member limit
    is the WHERE clause of a conditional UPDATE here."""

    activity = models.ForeignKey(GroupBuyActivity, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "拼团购买计数"
        verbose_name_plural = "拼团购买计数"
        constraints = [models.UniqueConstraint(fields=["activity", "member"], name="group_buy_allowance_once")]


class GroupBuyAction(models.TextChoices):
    OPENED = "opened", "开团"
    JOINED = "joined", "参团"
    SUCCEEDED = "succeeded", "拼团成功"
    SIMULATED = "simulated", "模拟成团"
    FORCED = "forced", "运营强制成团"
    EXPIRED = "expired", "到期未成团"
    CLOSED = "closed", "运营关闭"
    OVERFLOW = "overflow", "满团后支付"


class GroupBuyEvent(AuditEvent):
    group = models.ForeignKey(GroupBuy, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=GroupBuyAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=GroupBuyStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=GroupBuyStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "拼团日志"
        verbose_name_plural = "拼团日志"


GS = GroupBuyStatus
GROUP_BUY_TRANSITIONS: dict[str, set[str]] = {GS.FORMING: {GS.SUCCEEDED, GS.FAILED}}

GROUP_BUY_MACHINE = StateMachine(
    model=GroupBuy, table=GROUP_BUY_TRANSITIONS, event_model=GroupBuyEvent, event_subject="group", noun="拼团",
    error=GroupBuyInvalidTransition, not_found=GroupBuyNotFound,
    timestamps={GS.SUCCEEDED: "succeeded_at", GS.FAILED: "failed_at"},
    verbs={GS.SUCCEEDED: "成团", GS.FAILED: "关闭"},
)
