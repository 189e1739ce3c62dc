"""What segment rules read besides the member row, and the audit trail of operator changes.

members knows nothing of orders: the shop reports which categories a member bought from, as
plain ids, when an order is paid (`member_record_category_purchase`), and each refund with its
number (`member_record_refund`); RFM groups are computed from the purchase facts on Member with
thresholds operators set here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MemberCategoryPurchase(models.Model):
    """A member bought from a category (a plain id of catalog.Category, parents included) at least once.

    One row per (member, category); `last_bought_at` only moves forward. Segment rules
    "bought from category X in the last N days" are an indexed EXISTS over this table.
    """

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, related_name="+")
    category_id = models.PositiveIntegerField("商品分类 ID")
    first_bought_at = models.DateTimeField("首次购买")
    last_bought_at = models.DateTimeField("最近购买")

    class Meta:
        verbose_name = "会员品类购买"
        verbose_name_plural = "会员品类购买"
        constraints = [models.UniqueConstraint(fields=["member", "category_id"], name="member_category_once")]
        indexes = [models.Index(fields=["category_id", "last_bought_at"], name="member_category_recent")]


class MemberPurchaseRefund(models.Model):
    """A refund taken out of the member's purchase facts (Member.paid_total_fen, paid_order_count):
    one row per refund number, so a refund processed twice counts once.

    `order_refunded_in_full`: this refund completed the order's full refund, so the order no
    longer counts as a paid order."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, related_name="+")
    reference = models.CharField("退款单号", max_length=64)
    refunded_fen = models.BigIntegerField("退款金额（分）")
    order_refunded_in_full = models.BooleanField("订单已全额退款", default=False)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员消费退款"
        verbose_name_plural = "会员消费退款"
        constraints = [
            models.UniqueConstraint(fields=["member", "reference"], name="member_purchase_refund_once"),
            models.CheckConstraint(condition=Q(refunded_fen__gte=0), name="member_purchase_refund_not_negative"),
        ]


class RfmThresholds(models.Model):
    """The operator's RFM cut-offs (one row, pk=1). A member is 'high' on each axis when:

    R: paid an order within `recent_days` days; F: `paid_order_count` ≥ `frequent_orders`;
    M: `paid_total_fen` ≥ `monetary_fen`. The eight groups are the combinations (members.segments).
    """

    recent_days = models.PositiveSmallIntegerField("近期购买（天）", default=90,
                                                   help_text="最近一次支付在这么多天内算“近”")
    frequent_orders = models.PositiveSmallIntegerField("高频（支付订单数 ≥）", default=3)
    monetary_fen = models.BigIntegerField("高消费（累计支付 ≥，分）", default=50000)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "RFM 阈值"
        verbose_name_plural = "RFM 阈值"
        constraints = [
            models.CheckConstraint(condition=Q(recent_days__gte=1) & Q(frequent_orders__gte=1)
                                   & Q(monetary_fen__gte=1), name="rfm_thresholds_positive"),
        ]

    def __str__(self) -> str:
        return "RFM 阈值"


class MemberAuditAction(models.TextChoices):
    BIRTHDAY_CHANGED = "birthday_changed", "客服修改生日"
    TAG_ADDED = "tag_added", "打标签"
    TAG_REMOVED = "tag_removed", "移除标签"
    DELETED = "deleted", "注销账号"
    BLOCKED = "blocked", "拉黑"
    UNBLOCKED = "unblocked", "取消拉黑"


class MemberAudit(models.Model):
    """Append-only: who changed what on a member, with the operator's note."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE,
                               related_name="audit_rows")
    action = models.CharField("操作", max_length=32, choices=MemberAuditAction.choices)
    changes = models.JSONField("变更", default=dict, blank=True)
    note = models.CharField("备注", max_length=200, blank=True, default="")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员操作日志"
        verbose_name_plural = "会员操作日志"
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "-id"], name="member_audit_by_member")]
