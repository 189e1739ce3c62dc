"""Paid membership cards (付费会员卡) and the member-price settings they take part in.

A member buys a `CardPlan` through a `CardPurchase` (an order-like record paid with WeChat Pay
through the same gateway as orders). Each paid purchase extends the member's one `MemberCard`
and leaves a `MemberCardPeriod` row: the card's history. Whether a card is active is a
question of time (starts_at <= now < ends_at), so no job has to flip a status when it ends.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.audit import AuditEvent
from core.state import StateMachine
from members.errors import CardPurchaseNotFound, CardPurchaseNotPayable


class CardPlan(models.Model):
    """A card members can buy (月卡 / 季卡 / 年卡…), with its benefits."""

    name = models.CharField("名称", max_length=32, unique=True)
    price_fen = models.BigIntegerField("售价（分）")
    days = models.PositiveSmallIntegerField("有效天数")
    discount_percent = models.PositiveSmallIntegerField(
        "额外折扣（%）", default=100, help_text="在会员等级折扣之外的折扣：95 表示 9.5 折，100 表示不打折")
    points_multiplier = models.DecimalField("积分倍数", max_digits=4, decimal_places=2, default=Decimal("1.00"),
                                            help_text="购物得积分乘以此倍数，例如 1.5")
    monthly_gift_pack = models.BooleanField("每月礼包", default=False,
                                            help_text="开卡后每月同一天发放礼包优惠券（在“会员卡礼包”中配置券）")
    sort = models.PositiveSmallIntegerField("排序", default=0, help_text="越小越靠前")
    is_active = models.BooleanField("上架", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员卡方案"
        verbose_name_plural = "会员卡方案"
        ordering = ["sort", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price_fen__gt=0), name="card_plan_price_positive"),
            models.CheckConstraint(condition=Q(days__gte=1), name="card_plan_days_positive"),
            models.CheckConstraint(condition=Q(discount_percent__gte=1) & Q(discount_percent__lte=100),
                                   name="card_plan_discount_percent_range"),
            models.CheckConstraint(condition=Q(points_multiplier__gte=1) & Q(points_multiplier__lte=10),
                                   name="card_plan_points_multiplier_range"),
        ]

    def __str__(self) -> str:
        return self.name


class CardPurchaseStatus(models.TextChoices):
    PENDING = "pending", "待支付"  # created; the member may pay until expires_at
    PAID = "paid", "已支付"  # the money arrived and the card was extended (once)
    CANCELLED = "cancelled", "已取消"  # not paid in time; a late payment still counts (money is never lost)


# The allowed transitions. CANCELLED → PAID: WeChat's word that a trade was paid always wins.
CARD_PURCHASE_TRANSITIONS: dict[str, set[str]] = {
    CardPurchaseStatus.PENDING: {CardPurchaseStatus.PAID, CardPurchaseStatus.CANCELLED},
    CardPurchaseStatus.CANCELLED: {CardPurchaseStatus.PAID},
    CardPurchaseStatus.PAID: set(),
}

# Card purchase numbers start with this, so they never collide with order numbers (all digits)
# as WeChat trade numbers, and people can tell them apart.
CARD_PURCHASE_PREFIX = "MC"

# A purchase's trade in the payments core (payments.Payment.kind); its out_trade_no is the purchase number.
CARD_PAYABLE_KIND = "card"


class CardPurchase(models.Model):
    """A member buying a card plan: numbered, paid through the payments core (a "card" trade whose
    out_trade_no is the purchase number)."""

    purchase_no = models.CharField("购卡单号", max_length=32, unique=True)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="card_purchases")
    plan = models.ForeignKey(CardPlan, verbose_name="会员卡方案", on_delete=models.PROTECT, related_name="purchases")
    # Copied from the plan when bought: what the member pays for, even if the plan changes later.
    plan_name = models.CharField("方案名称", max_length=32)
    days = models.PositiveSmallIntegerField("有效天数")
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=16, choices=CardPurchaseStatus.choices,
                              default=CardPurchaseStatus.PENDING, db_index=True)
    expires_at = models.DateTimeField("支付截止")
    transaction_id = models.CharField("微信支付单号", max_length=64, null=True, blank=True, unique=True)
    paid_fen = models.BigIntegerField("实付（分）", null=True, blank=True)
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "购卡订单"
        verbose_name_plural = "购卡订单"
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="card_purchase_amount_positive")]
        indexes = [models.Index(fields=["status", "expires_at"], name="card_purchase_due")]

    def __str__(self) -> str:
        return self.purchase_no


class CardPurchaseAction(models.TextChoices):
    """What a purchase's audit row records, in operators' words."""

    PAID = "paid", "支付成功"
    CANCELLED = "cancelled", "取消"


class CardPurchaseEvent(AuditEvent):
    """The audit trail of a purchase: one row per status transition."""

    purchase = models.ForeignKey(CardPurchase, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=CardPurchaseAction.choices)
    from_status = models.CharField("原状态", max_length=16, choices=CardPurchaseStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=16, choices=CardPurchaseStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "购卡订单记录"
        verbose_name_plural = "购卡订单记录"

    def __str__(self) -> str:
        return f"{self.purchase_id}:{self.action}"


CARD_PURCHASE_MACHINE = StateMachine(
    model=CardPurchase, table=CARD_PURCHASE_TRANSITIONS, event_model=CardPurchaseEvent, event_subject="purchase",
    noun="购卡订单", error=CardPurchaseNotPayable, not_found=CardPurchaseNotFound,
    verbs={CardPurchaseStatus.PAID: "支付", CardPurchaseStatus.CANCELLED: "取消"},
)


class MemberCard(models.Model):
    """The member's card: one per member, extended by each paid purchase.

    `starts_at` is the start of the current unbroken run (a renewal while active keeps it; a
    purchase after the card lapsed starts a new run): the monthly gift pack is due on its day.
    `plan` is the plan of the latest purchase, whose benefits apply.
    """

    member = models.OneToOneField("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                                  related_name="card")
    plan = models.ForeignKey(CardPlan, verbose_name="会员卡方案", on_delete=models.PROTECT, related_name="cards")
    starts_at = models.DateTimeField("开卡时间")
    ends_at = models.DateTimeField("到期时间", db_index=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "会员卡"
        verbose_name_plural = "会员卡"
        ordering = ["-ends_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="member_card_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.plan}（至 {self.ends_at:%Y-%m-%d}）"


class MemberCardPeriod(models.Model):
    """The card history: the time one paid purchase added (exactly once per purchase)."""

    card = models.ForeignKey(MemberCard, verbose_name="会员卡", on_delete=models.PROTECT, related_name="periods")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="card_periods")
    purchase = models.OneToOneField(CardPurchase, verbose_name="购卡订单", on_delete=models.PROTECT,
                                    related_name="period")
    plan = models.ForeignKey(CardPlan, verbose_name="会员卡方案", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField("开始")
    ends_at = models.DateTimeField("结束")
    renewal = models.BooleanField("续费", help_text="在有效期内续费，从原到期时间顺延")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员卡记录"
        verbose_name_plural = "会员卡记录"
        ordering = ["-id"]


class StackingPolicy(models.TextChoices):
    STACK = "stack", "折上折（等级折扣 × 会员卡折扣）"
    BEST = "best", "取优（两者取更低价）"


class MemberPriceSettings(models.Model):
    """How tier and card discounts combine, and the margin floor. One row (pk=1), edited by operators."""

    policy = models.CharField("叠加方式", max_length=8, choices=StackingPolicy.choices, default=StackingPolicy.STACK)
    floor = models.DecimalField("毛利底线（成本倍数）", max_digits=4, decimal_places=2, default=Decimal("1.00"),
                                help_text="会员价不低于 成本 × 此倍数；1.00 表示不低于成本，0 表示不限制")
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "会员价设置"
        verbose_name_plural = "会员价设置"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="member_price_settings_singleton"),
            models.CheckConstraint(condition=Q(floor__gte=0) & Q(floor__lte=10), name="member_price_floor_range"),
        ]

    def __str__(self) -> str:
        return "会员价设置"
