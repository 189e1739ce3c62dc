"""Coupons (优惠券): templates operators configure, the coupons members hold, and their ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .scope import Scoped


class CouponKind(models.TextChoices):
    FULL_REDUCTION = "full_reduction", "满减券"  # threshold, amount off
    DISCOUNT = "discount", "折扣券"  # pay_percent of the eligible amount, capped
    NO_THRESHOLD = "no_threshold", "无门槛券"  # amount off
    FREIGHT = "freight", "运费券"  # amount off the freight (0 = all of it)


class Validity(models.TextChoices):
    FIXED = "fixed", "固定日期"
    RELATIVE = "relative", "领取后 N 天"


class CouponTemplate(Scoped):
    """A kind of coupon and the rules for handing it out. Counters change only by conditional UPDATE."""

    name = models.CharField("券名称", max_length=64)
    kind = models.CharField("类型", max_length=16, choices=CouponKind.choices)
    threshold_fen = models.BigIntegerField("使用门槛（分）", default=0, help_text="0 表示无门槛")
    amount_fen = models.BigIntegerField("优惠金额（分）", default=0)
    pay_percent = models.PositiveSmallIntegerField("折扣（%）", null=True, blank=True,
                                                   help_text="折扣券：85 表示 8.5 折")
    max_discount_fen = models.BigIntegerField("最高优惠（分）", null=True, blank=True)

    validity = models.CharField("有效期类型", max_length=16, choices=Validity.choices, default=Validity.RELATIVE)
    valid_from = models.DateTimeField("生效时间", null=True, blank=True)
    valid_until = models.DateTimeField("失效时间", null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField("领取后有效天数", null=True, blank=True)

    total_quantity = models.PositiveIntegerField("发行总量", null=True, blank=True, help_text="留空表示不限")
    issued_count = models.PositiveIntegerField("已发放", default=0, editable=False)
    used_count = models.PositiveIntegerField("已使用", default=0, editable=False)
    per_member_limit = models.PositiveSmallIntegerField("每人限领", default=1)
    per_day_limit = models.PositiveSmallIntegerField("每人每天限领", null=True, blank=True,
                                                     help_text="留空表示不限")
    claim_starts_at = models.DateTimeField("开始领取", null=True, blank=True)
    claim_ends_at = models.DateTimeField("结束领取", null=True, blank=True)
    new_customer_only = models.BooleanField("仅限新客", default=False, help_text="尚无已支付订单的会员")
    tiers = models.ManyToManyField("members.Tier", verbose_name="限定会员等级", blank=True, related_name="+")
    segments = models.ManyToManyField("members.Segment", verbose_name="限定人群", blank=True, related_name="+")
    stacks_with_activities = models.BooleanField(
        "可与活动叠加", default=False, help_text="勾选后可用于秒杀价、满减后的商品")
    return_on_full_refund = models.BooleanField("全额退款退券", default=False)
    show_in_center = models.BooleanField("领券中心展示", default=True)
    budget_fen = models.BigIntegerField("补贴预算（分）", null=True, blank=True,
                                        help_text="发放或核销金额达到预算后停止领取")
    issued_value_fen = models.BigIntegerField("已发放面值（分）", default=0, editable=False)
    redeemed_value_fen = models.BigIntegerField("已核销金额（分）", default=0, editable=False)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "优惠券"
        verbose_name_plural = "优惠券"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_quantity__isnull=True) | Q(issued_count__lte=F("total_quantity")),
                                   name="coupon_issued_within_total"),
            models.CheckConstraint(condition=Q(threshold_fen__gte=0) & Q(amount_fen__gte=0),
                                   name="coupon_amounts_non_negative"),
            models.CheckConstraint(
                condition=Q(pay_percent__isnull=True) | (Q(pay_percent__gte=1) & Q(pay_percent__lte=99)),
                name="coupon_pay_percent_range"),
            models.CheckConstraint(condition=Q(budget_fen__isnull=True) | Q(issued_value_fen__lte=F("budget_fen")),
                                   name="coupon_issued_within_budget"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def face_value_fen(self) -> int:
        """What one coupon may cost us at most: counted against the budget when issued."""
        if self.kind == CouponKind.DISCOUNT:
            return self.max_discount_fen or 0
        return self.amount_fen


class CouponSource(models.TextChoices):
    CENTER = "center", "领券中心"
    NEW_MEMBER = "new_member", "新人礼"
    PAY_GIFT = "pay_gift", "支付有礼"
    SCAN = "scan", "扫码领券"
    CODE = "code", "兑换码"
    TARGETED = "targeted", "定向发放"
    POINTS = "points", "积分兑换"
    BIRTHDAY = "birthday", "生日礼"
    ANNIVERSARY = "anniversary", "注册纪念日"
    GIFT_PACK = "gift_pack", "会员卡礼包"
    OPERATOR = "operator", "后台发放"
    INVITE = "invite", "邀请有礼"


class CouponStatus(models.TextChoices):
    AVAILABLE = "available", "未使用"  # usable within [valid_from, valid_until)
    LOCKED = "locked", "已锁定"  # held by an unpaid order
    USED = "used", "已使用"  # the order was paid
    EXPIRED = "expired", "已过期"


class Coupon(models.Model):
    """A coupon a member holds. Status changes only in campaigns.services, each with a CouponEvent."""

    template = models.ForeignKey(CouponTemplate, verbose_name="优惠券", on_delete=models.PROTECT,
                                 related_name="coupons")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="coupons")
    status = models.CharField("状态", max_length=16, choices=CouponStatus.choices,
                              default=CouponStatus.AVAILABLE, db_index=True)
    valid_from = models.DateTimeField("生效时间")
    valid_until = models.DateTimeField("失效时间", db_index=True)
    source = models.CharField("来源", max_length=16, choices=CouponSource.choices)
    # Makes automatic issues idempotent: "new_member:<member>", "pay_gift:<order_no>",
    # "targeted:<issue>:<member>", "birthday:<year>:<member>"… — one coupon per key.
    issue_key = models.CharField("发放键", max_length=80, null=True, blank=True, unique=True, editable=False)
    channel = models.ForeignKey("campaigns.Channel", verbose_name="渠道", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="coupons")
    targeted_issue = models.ForeignKey("campaigns.TargetedIssue", verbose_name="定向发放", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="coupons")
    order = models.ForeignKey("shop.Order", verbose_name="使用订单", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="coupons")
    discount_fen = models.BigIntegerField("抵扣金额（分）", default=0)
    claimed_at = models.DateTimeField("领取时间", auto_now_add=True)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)
    reminded_at = models.DateTimeField("到期提醒时间", null=True, blank=True)

    class Meta:
        verbose_name = "会员优惠券"
        verbose_name_plural = "会员优惠券"
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "status", "valid_until"], name="coupon_member_usable")]

    def __str__(self) -> str:
        return f"{self.template.name}（{self.get_status_display()}）"


class CouponEvent(models.Model):
    """The coupon ledger: one append-only row per change. (coupon, action, reference) is unique,
    which is what makes lock / use / release / return happen exactly once per order."""

    class Action(models.TextChoices):
        ISSUED = "issued", "发放"
        LOCKED = "locked", "下单锁定"
        USED = "used", "支付核销"
        RELEASED = "released", "取消退回"
        RETURNED = "returned", "退款退回"
        EXPIRED = "expired", "过期"
        REMINDED = "reminded", "到期提醒"

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=16, choices=Action.choices)
    reference = models.CharField("关联单号", max_length=64, blank=True, default="")
    amount_fen = models.BigIntegerField("金额（分）", default=0)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "优惠券流水"
        verbose_name_plural = "优惠券流水"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["coupon", "action", "reference"], name="coupon_event_once")]


class CouponQuota(models.Model):
    """How many coupons of a template a member has claimed, in all and on `day` (Shanghai).

    Per-member and per-day limits are the WHERE clause of one conditional UPDATE on this row,
    so a double tap or two devices can never pass them.
    """

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="quotas")
    claimed_total = models.PositiveIntegerField(default=0)
    day = models.DateField(null=True)
    claimed_on_day = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "领取计数"
        verbose_name_plural = "领取计数"
        constraints = [models.UniqueConstraint(fields=["template", "member"], name="coupon_quota_once")]


class GiftRule(models.Model):
    """Coupons handed out automatically when something happens to a member (新人礼, 支付有礼…)."""

    class Trigger(models.TextChoices):
        NEW_MEMBER = "new_member", "新人注册"
        PAID_ORDER = "paid_order", "支付有礼"
        BIRTHDAY = "birthday", "生日"
        ANNIVERSARY = "anniversary", "注册纪念日"

    name = models.CharField("规则名称", max_length=64)
    trigger = models.CharField("触发条件", max_length=16, choices=Trigger.choices)
    template = models.ForeignKey(CouponTemplate, verbose_name="赠送优惠券", on_delete=models.PROTECT,
                                 related_name="gift_rules")
    min_paid_fen = models.BigIntegerField("订单实付满（分）", default=0, help_text="仅支付有礼使用")
    starts_at = models.DateTimeField("开始时间", null=True, blank=True)
    ends_at = models.DateTimeField("结束时间", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "自动赠券"
        verbose_name_plural = "自动赠券"
        ordering = ["trigger", "-id"]

    def __str__(self) -> str:
        return self.name
