"""Activities: 满减 / 满折 ladders and flash sales (秒杀)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from catalog.models import Sku

from .scope import Scoped


class FullReduction(Scoped):
    """A 满减 (amount off above a threshold) or 满折 (percent off from N pieces) ladder in a time window."""

    class Kind(models.TextChoices):
        AMOUNT = "amount", "满额减"  # 满 199 减 20
        QUANTITY = "quantity", "满件折"  # 满 2 件 9 折

    name = models.CharField("活动名称", max_length=64)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices, default=Kind.AMOUNT)
    starts_at = models.DateTimeField("开始时间")
    ends_at = models.DateTimeField("结束时间")
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "满减活动"
        verbose_name_plural = "满减活动"
        ordering = ["-starts_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="full_reduction_window")]

    def __str__(self) -> str:
        return self.name


class FullReductionStep(models.Model):
    """One rung of the ladder: 满 threshold_fen 减 discount_fen, or 满 threshold_count 件 pay_percent%."""

    activity = models.ForeignKey(FullReduction, on_delete=models.CASCADE, related_name="steps")
    threshold_fen = models.BigIntegerField("满（分）", default=0)
    discount_fen = models.BigIntegerField("减（分）", default=0)
    threshold_count = models.PositiveIntegerField("满（件）", default=0)
    pay_percent = models.PositiveSmallIntegerField("折扣（%）", null=True, blank=True, help_text="90 表示 9 折")

    class Meta:
        verbose_name = "满减档位"
        verbose_name_plural = "满减档位"
        ordering = ["threshold_fen", "threshold_count"]


class FlashSession(models.Model):
    """A flash-sale session (秒杀场次): default slots 10:00, 14:00, 20:00, two hours each."""

    name = models.CharField("场次名称", max_length=64)
    starts_at = models.DateTimeField("开始时间", db_index=True)
    ends_at = models.DateTimeField("结束时间")
    unpaid_timeout_minutes = models.PositiveSmallIntegerField("未支付自动取消（分钟）", default=15)
    budget_fen = models.BigIntegerField("补贴预算（分）", null=True, blank=True)
    subsidy_fen = models.BigIntegerField("已用补贴（分）", default=0, editable=False)
    is_active = models.BooleanField("启用", default=True)
    # Activity lines earn distributors nothing unless the activity says so (its price is thin already).
    commission_enabled = models.BooleanField("参与分销佣金", default=False,
                                             help_text="勾选后，本场秒杀商品也给分销员计算佣金")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "秒杀场次"
        verbose_name_plural = "秒杀场次"
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="flash_session_window"),
            models.CheckConstraint(condition=Q(budget_fen__isnull=True) | Q(subsidy_fen__lte=F("budget_fen")),
                                   name="flash_subsidy_within_budget"),
        ]

    def __str__(self) -> str:
        return self.name


class FlashItem(models.Model):
    """A SKU in a session: activity price and activity stock, separate from the product's stock."""

    session = models.ForeignKey(FlashSession, verbose_name="场次", on_delete=models.CASCADE, related_name="items")
    sku = models.ForeignKey(Sku, verbose_name="SKU", on_delete=models.PROTECT, related_name="+")
    flash_price_fen = models.BigIntegerField("秒杀价（分）")
    stock_total = models.PositiveIntegerField("活动库存")
    stock_left = models.IntegerField("剩余库存", editable=False)
    per_member_limit = models.PositiveSmallIntegerField("每人限购", default=1)
    below_cost_confirmed = models.BooleanField("已确认低于成本价", default=False, editable=False)
    sort = models.PositiveIntegerField("排序", default=0)

    class Meta:
        verbose_name = "秒杀商品"
        verbose_name_plural = "秒杀商品"
        ordering = ["sort", "id"]
        permissions = [("approve_below_cost", "可确认低于成本价的活动价")]
        constraints = [
            models.UniqueConstraint(fields=["session", "sku"], name="flash_item_once_per_session"),
            models.CheckConstraint(condition=Q(stock_left__gte=0), name="flash_stock_non_negative"),
            models.CheckConstraint(condition=Q(stock_left__lte=F("stock_total")), name="flash_stock_within_total"),
            models.CheckConstraint(condition=Q(flash_price_fen__gte=0), name="flash_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.session.name} · SKU {self.sku_id}"


class FlashPurchase(models.Model):
    """How many units of an item a member holds (reserved or bought). The per-member limit is the
    WHERE clause of a conditional UPDATE here; a cancelled order gives its units back."""

    item = models.ForeignKey(FlashItem, on_delete=models.CASCADE, related_name="purchases")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "秒杀购买计数"
        verbose_name_plural = "秒杀购买计数"
        constraints = [models.UniqueConstraint(fields=["item", "member"], name="flash_purchase_once")]


class FlashReservation(models.Model):
    """Activity stock held by one order; released once (released_at) when the order is cancelled."""

    item = models.ForeignKey(FlashItem, verbose_name="秒杀商品", on_delete=models.PROTECT, related_name="reservations")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField("数量")
    subsidy_fen = models.BigIntegerField("补贴（分）", default=0)
    created_at = models.DateTimeField("下单时间", auto_now_add=True)
    released_at = models.DateTimeField("释放时间", null=True, blank=True)

    class Meta:
        verbose_name = "秒杀占用"
        verbose_name_plural = "秒杀占用"
        constraints = [models.UniqueConstraint(fields=["item", "order"], name="flash_reservation_once")]
