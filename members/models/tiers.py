"""Growth tiers (成长等级): 普通 / 白银 / 黄金 / 钻石 by default, configured by operators."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Tier(models.Model):
    """A growth tier. A member is in the highest tier whose `min_growth` they have reached."""

    name = models.CharField("等级名称", max_length=16, unique=True)
    level = models.PositiveSmallIntegerField("等级序号", unique=True, help_text="越大等级越高")
    min_growth = models.BigIntegerField("所需成长值", unique=True)
    discount_percent = models.PositiveSmallIntegerField(
        "会员折扣（%）", default=100, help_text="100 表示不打折，95 表示 9.5 折")
    free_shipping_threshold_fen = models.BigIntegerField(
        "包邮门槛（分）", null=True, blank=True, help_text="留空表示无包邮权益")
    birthday_gift = models.BooleanField("生日礼", default=False)
    priority_service = models.BooleanField("优先客服", default=False)
    early_access = models.BooleanField("新品优先购", default=False)

    class Meta:
        verbose_name = "会员等级"
        verbose_name_plural = "会员等级"
        ordering = ["level"]
        constraints = [
            models.CheckConstraint(condition=Q(discount_percent__gte=1) & Q(discount_percent__lte=100),
                                   name="tier_discount_percent_range"),
            models.CheckConstraint(condition=Q(min_growth__gte=0), name="tier_min_growth_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name
