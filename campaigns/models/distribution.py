"""Distribution (分销): who may earn and who belongs to whom. The money they earn is in
campaigns.models.commissions (commissions, their ledger, clawbacks) and
campaigns.models.withdrawals (payouts).

    DistributionSettings  the operators' rules (one row, pk=1): mode, levels, rates, binding,
                          withdrawals, how long a commission stays frozen after receipt
    DistributorGrade      a grade with its own rates and the conditions to reach it
    CommissionRate        a product's or a category's own rates (they come before the grade's)
    Distributor           a member who shares and earns; holds the balance snapshot
    DistributorApplication  what a member filled in to apply, and the operators' decision
    Binding               a member under an upline distributor (history kept: ended rows stay)

The balance snapshot on Distributor (pending, frozen, available, withdrawing, withdrawn, owed) is
checked: every change of it is one CommissionEntry with the same deltas, written in the same
transaction, so the sum of each ledger column equals its snapshot field (the nightly reconcile
checks it). A CheckConstraint keeps every bucket ≥ 0: the withdrawable amount is never negative.

Two levels at most: three-level distribution (三级分销) is illegal in China, so `levels` is 1 or
2 and a database constraint refuses anything else.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from campaigns.errors import (
    BindingInvalidTransition,
    BindingNotFound,
    DistributorInvalidTransition,
    DistributorNotFound,
)
from core.audit import AuditEvent
from core.state import StateMachine

PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


def default_settle_days() -> int:
    """A commission becomes withdrawable when the after-sales window after receipt has closed."""
    return int(settings.AFTER_SALE_WINDOW_DAYS)


# --- the operators' rules ----------------------------------------------------------------------------


class DistributionMode(models.TextChoices):
    APPOINTED = "appointed", "指定分销（申请并审核通过的会员）"
    EVERYONE = "everyone", "人人分销（每位会员都可分销）"
    THRESHOLD = "threshold", "满额分销（累计消费达到门槛自动成为分销员）"


class BindingScope(models.TextChoices):
    NEW_ONLY = "new_only", "仅新会员（从未下单付款、也从未绑定过的会员）"
    NO_UPLINE = "no_upline", "没有上级的会员"


class DistributionSettings(models.Model):
    """分销设置. One row (pk=1), edited by operators; every default is DESIGN.md §7's."""

    enabled = models.BooleanField("启用分销", default=True)
    mode = models.CharField("分销模式", max_length=16, choices=DistributionMode.choices,
                            default=DistributionMode.APPOINTED)
    threshold_fen = models.BigIntegerField("满额分销门槛（分）", default=0,
                                           help_text="满额分销模式下，累计实付达到此金额自动成为分销员")
    levels = models.PositiveSmallIntegerField("分销层级", choices=[(1, "一级分销"), (2, "二级分销")], default=2,
                                              help_text="最多二级：三级分销违法，不可设置")
    level1_percent = models.DecimalField("一级佣金比例（%）", max_digits=5, decimal_places=2, default=Decimal(10),
                                         validators=PERCENT)
    level2_percent = models.DecimalField("二级佣金比例（%）", max_digits=5, decimal_places=2, default=Decimal(5),
                                         validators=PERCENT)
    binding_scope = models.CharField("可绑定的会员", max_length=16, choices=BindingScope.choices,
                                     default=BindingScope.NO_UPLINE)
    binding_days = models.PositiveIntegerField("绑定有效期（天）", null=True, blank=True, default=30,
                                               help_text="留空表示永久绑定")
    later_scan_overrides = models.BooleanField("后扫码覆盖", default=False,
                                               help_text="已有上级的会员通过他人分享进入时，改绑到新的分销员")
    self_purchase = models.BooleanField("自购返佣", default=False,
                                        help_text="分销员自己下单时，自己获得一级佣金")
    withdraw_min_fen = models.BigIntegerField("最低提现金额（分）", default=100)
    withdraw_daily_max_fen = models.BigIntegerField("每日提现上限（分）", null=True, blank=True, default=200000,
                                                    help_text="留空表示不限")
    withdraw_fee_percent = models.DecimalField("提现手续费（%）", max_digits=5, decimal_places=2, default=Decimal(0),
                                               validators=PERCENT)
    second_approval_above_fen = models.BigIntegerField("需复核的提现金额（分）", default=50000,
                                                       help_text="超过此金额的提现须另一位运营复核")
    settle_days = models.PositiveIntegerField("佣金冻结天数", default=default_settle_days,
                                              help_text="确认收货后冻结多少天才可提现，应与售后期限一致")
    # Extra questions of the application form: [{"key": "wechat", "label": "微信号", "required": false}].
    application_fields = models.JSONField("申请表附加字段", default=list, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "分销设置"
        verbose_name_plural = "分销设置"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="distribution_settings_singleton"),
            models.CheckConstraint(condition=Q(levels__in=[1, 2]), name="distribution_at_most_two_levels"),
            models.CheckConstraint(condition=Q(level1_percent__gte=0, level1_percent__lte=100,
                                               level2_percent__gte=0, level2_percent__lte=100,
                                               withdraw_fee_percent__gte=0, withdraw_fee_percent__lt=100),
                                   name="distribution_percents_in_range"),
            models.CheckConstraint(condition=Q(withdraw_min_fen__gte=1, threshold_fen__gte=0,
                                               second_approval_above_fen__gte=0),
                                   name="distribution_amounts_in_range"),
            models.CheckConstraint(condition=Q(withdraw_daily_max_fen__isnull=True)
                                   | Q(withdraw_daily_max_fen__gte=F("withdraw_min_fen")),
                                   name="distribution_daily_max_above_min"),
        ]

    def __str__(self) -> str:
        return "分销设置"


class DistributorGrade(models.Model):
    """A distributor grade (分销等级): its own rates (empty: the global ones) and what reaching it
    takes. The nightly job moves distributors up to the highest grade whose conditions they meet;
    operators may set a grade by hand."""

    name = models.CharField("等级名称", max_length=32)
    level = models.PositiveSmallIntegerField("等级序号", unique=True, help_text="越大等级越高")
    level1_percent = models.DecimalField("一级佣金比例（%）", max_digits=5, decimal_places=2, null=True, blank=True,
                                         validators=PERCENT, help_text="留空使用全局比例")
    level2_percent = models.DecimalField("二级佣金比例（%）", max_digits=5, decimal_places=2, null=True, blank=True,
                                         validators=PERCENT, help_text="留空使用全局比例")
    upgrade_sales_fen = models.BigIntegerField("升级条件：推广金额（分）", default=0,
                                               help_text="一级推广订单的实付金额（扣除退款）累计达到")
    upgrade_team_size = models.PositiveIntegerField("升级条件：直属下级人数", default=0)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "分销等级"
        verbose_name_plural = "分销等级"
        ordering = ["level"]
        constraints = [
            models.CheckConstraint(condition=(Q(level1_percent__isnull=True) | Q(level1_percent__gte=0,
                                                                                  level1_percent__lte=100))
                                   & (Q(level2_percent__isnull=True) | Q(level2_percent__gte=0,
                                                                          level2_percent__lte=100)),
                                   name="distributor_grade_percents_in_range"),
        ]

    def __str__(self) -> str:
        return self.name


class CommissionRate(models.Model):
    """A product's or a category's own commission rates. The rate of a line is the first found of:
    its product's, its category's (the nearest ancestor's), the distributor's grade's, the global."""

    product = models.OneToOneField("catalog.Product", verbose_name="商品", null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+")
    category = models.OneToOneField("catalog.Category", verbose_name="分类", null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="+")
    level1_percent = models.DecimalField("一级佣金比例（%）", max_digits=5, decimal_places=2, validators=PERCENT)
    level2_percent = models.DecimalField("二级佣金比例（%）", max_digits=5, decimal_places=2, validators=PERCENT)

    class Meta:
        verbose_name = "商品佣金比例"
        verbose_name_plural = "商品佣金比例"
        constraints = [
            models.CheckConstraint(condition=Q(product__isnull=False, category__isnull=True)
                                   | Q(product__isnull=True, category__isnull=False),
                                   name="commission_rate_product_xor_category"),
            models.CheckConstraint(condition=Q(level1_percent__gte=0, level1_percent__lte=100,
                                               level2_percent__gte=0, level2_percent__lte=100),
                                   name="commission_rate_percents_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.product or self.category}：{self.level1_percent}% / {self.level2_percent}%"


# --- distributors ------------------------------------------------------------------------------------


class DistributorStatus(models.TextChoices):
    APPLYING = "applying", "待审核"
    ACTIVE = "active", "已通过"
    REJECTED = "rejected", "已驳回"
    FROZEN = "frozen", "已冻结"  # earns nothing new, cannot withdraw


class DistributorSource(models.TextChoices):
    APPLIED = "applied", "申请审核"
    EVERYONE = "everyone", "人人分销"
    THRESHOLD = "threshold", "满额自动"


DS = DistributorStatus
# Only DISTRIBUTOR_MACHINE.transition() changes Distributor.status.
DISTRIBUTOR_TRANSITIONS: dict[str, set[str]] = {
    DS.APPLYING: {DS.ACTIVE, DS.REJECTED},
    DS.REJECTED: {DS.APPLYING, DS.ACTIVE},  # apply again; or the rules made them one (人人 / 满额)
    DS.ACTIVE: {DS.FROZEN},
    DS.FROZEN: {DS.ACTIVE},
}


class Distributor(models.Model):
    """A member who shares and earns (分销员), with the checked snapshot of their money.

    The money fields change only in campaigns.services.commissions and .withdrawals, each change
    together with one CommissionEntry carrying the same deltas (see the module docstring)."""

    member = models.OneToOneField("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                                  related_name="+")
    grade = models.ForeignKey(DistributorGrade, verbose_name="分销等级", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="distributors")
    status = models.CharField("状态", max_length=16, choices=DistributorStatus.choices,
                              default=DistributorStatus.APPLYING, db_index=True)
    source = models.CharField("来源", max_length=16, choices=DistributorSource.choices,
                              default=DistributorSource.APPLIED)
    real_name = models.CharField("真实姓名", max_length=32, blank=True, default="")
    phone = models.CharField("手机号", max_length=20, blank=True, default="")
    reject_reason = models.CharField("驳回原因", max_length=200, blank=True, default="")
    freeze_reason = models.CharField("冻结原因", max_length=200, blank=True, default="")
    # The mini-program code whose scene carries this distributor (permanent: made once, stored).
    share_code = models.FileField("分享小程序码", upload_to="distribution/codes/", blank=True, default="",
                                  max_length=200)

    pending_fen = models.BigIntegerField("待结算佣金（分）", default=0)  # paid, not yet received
    frozen_fen = models.BigIntegerField("冻结佣金（分）", default=0)  # received, after-sales window open
    available_fen = models.BigIntegerField("可提现佣金（分）", default=0)
    withdrawing_fen = models.BigIntegerField("提现中（分）", default=0)
    withdrawn_fen = models.BigIntegerField("已提现（分）", default=0)
    owed_fen = models.BigIntegerField("待扣回佣金（分）", default=0)  # clawbacks not yet offset

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    approved_at = models.DateTimeField("成为分销员时间", null=True, blank=True)
    rejected_at = models.DateTimeField("驳回时间", null=True, blank=True)
    frozen_at = models.DateTimeField("冻结时间", null=True, blank=True)

    class Meta:
        verbose_name = "分销员"
        verbose_name_plural = "分销员"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pending_fen__gte=0, frozen_fen__gte=0, available_fen__gte=0, withdrawing_fen__gte=0,
                            withdrawn_fen__gte=0, owed_fen__gte=0),
                name="distributor_balances_non_negative"),
        ]

    def __str__(self) -> str:
        return self.real_name or f"分销员{self.pk}"


class DistributorAction(models.TextChoices):
    APPLIED = "applied", "提交申请"
    APPROVED = "approved", "审核通过"
    REJECTED = "rejected", "审核驳回"
    AUTO = "auto", "自动成为分销员"
    FROZEN = "frozen", "冻结"
    UNFROZEN = "unfrozen", "解冻"
    GRADE = "grade", "调整等级"


class DistributorEvent(AuditEvent):
    distributor = models.ForeignKey(Distributor, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=DistributorAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=DistributorStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=DistributorStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "分销员日志"
        verbose_name_plural = "分销员日志"


DISTRIBUTOR_MACHINE = StateMachine(
    model=Distributor, table=DISTRIBUTOR_TRANSITIONS, event_model=DistributorEvent, event_subject="distributor",
    noun="分销员", error=DistributorInvalidTransition, not_found=DistributorNotFound,
    timestamps={DS.ACTIVE: "approved_at", DS.REJECTED: "rejected_at", DS.FROZEN: "frozen_at"},
    verbs={DS.ACTIVE: "审核通过", DS.REJECTED: "驳回", DS.FROZEN: "冻结", DS.APPLYING: "重新申请"},
)


class ApplicationOutcome(models.TextChoices):
    PENDING = "", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "已驳回"


class DistributorApplication(models.Model):
    """One application (分销员申请). Its outcome is written with the distributor's transition, under
    the distributor's lock; a member applies again with a new application after a rejection."""

    distributor = models.ForeignKey(Distributor, verbose_name="分销员", on_delete=models.CASCADE,
                                    related_name="applications")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT, related_name="+")
    real_name = models.CharField("真实姓名", max_length=32)
    phone = models.CharField("手机号", max_length=20)
    reason = models.CharField("申请理由", max_length=300, blank=True, default="")
    extra = models.JSONField("附加信息", default=dict, blank=True)
    outcome = models.CharField("审核结果", max_length=16, choices=ApplicationOutcome.choices, blank=True,
                               default=ApplicationOutcome.PENDING)
    reject_reason = models.CharField("驳回原因", max_length=200, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)

    class Meta:
        verbose_name = "分销员申请"
        verbose_name_plural = "分销员申请"
        ordering = ["-id"]
        constraints = [
            # One open application per distributor: a double tap cannot queue two.
            models.UniqueConstraint(fields=["distributor"], condition=Q(outcome=""),
                                    name="distributor_application_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.real_name} 的申请"


# --- who belongs to whom -------------------------------------------------------------------------------


class BindingSource(models.TextChoices):
    POSTER = "poster", "海报"
    PRODUCT = "product", "商品分享"
    PAGE = "page", "页面分享"
    OPERATOR = "operator", "后台改绑"


class BindingStatus(models.TextChoices):
    ACTIVE = "active", "绑定中"
    ENDED = "ended", "已解除"


class BindingEndReason(models.TextChoices):
    EXPIRED = "expired", "绑定到期"
    OVERRIDDEN = "overridden", "扫码改绑"
    REBOUND = "rebound", "后台改绑"


class Binding(models.Model):
    """A member under an upline distributor (上级). At most one active binding per member; an
    active binding whose `expires_at` has passed counts as none (and is ended by the next bind).
    Ended bindings stay: the history of who brought whom."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT, related_name="+")
    distributor = models.ForeignKey(Distributor, verbose_name="上级分销员", on_delete=models.PROTECT,
                                    related_name="bindings")
    status = models.CharField("状态", max_length=16, choices=BindingStatus.choices, default=BindingStatus.ACTIVE)
    source = models.CharField("来源", max_length=16, choices=BindingSource.choices)
    share_ref = models.CharField("分享内容", max_length=64, blank=True, default="")
    bound_at = models.DateTimeField("绑定时间")
    expires_at = models.DateTimeField("到期时间", null=True, blank=True, help_text="空表示永久")
    ended_at = models.DateTimeField("解除时间", null=True, blank=True)
    end_reason = models.CharField("解除原因", max_length=16, choices=BindingEndReason.choices, blank=True,
                                  default="")

    class Meta:
        verbose_name = "分销关系"
        verbose_name_plural = "分销关系"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["member"], condition=Q(status="active"), name="binding_one_active"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(status="ended"),
                                   name="binding_ended_has_status"),
        ]
        indexes = [models.Index(fields=["distributor", "status"], name="binding_team")]

    def __str__(self) -> str:
        return f"会员{self.member_id} → {self.distributor}"


class BindingAction(models.TextChoices):
    BOUND = "bound", "绑定"
    EXPIRED = "expired", "到期解除"
    OVERRIDDEN = "overridden", "扫码改绑"
    REBOUND = "rebound", "后台改绑"


class BindingEvent(AuditEvent):
    binding = models.ForeignKey(Binding, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=BindingAction.choices)
    from_status = models.CharField("原状态", max_length=20, choices=BindingStatus.choices, blank=True, default="")
    to_status = models.CharField("新状态", max_length=20, choices=BindingStatus.choices, blank=True, default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "分销关系日志"
        verbose_name_plural = "分销关系日志"


BINDING_MACHINE = StateMachine(
    model=Binding, table={BindingStatus.ACTIVE: {BindingStatus.ENDED}, BindingStatus.ENDED: set()},
    event_model=BindingEvent, event_subject="binding", noun="分销关系", error=BindingInvalidTransition,
    not_found=BindingNotFound, timestamps={BindingStatus.ENDED: "ended_at"}, verbs={BindingStatus.ENDED: "解除"},
)
