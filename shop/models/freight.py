"""Freight templates: per-province first piece / extra piece, free above a threshold."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class FreightTemplate(models.Model):
    name = models.CharField("模板名称", max_length=64)
    is_default = models.BooleanField("默认模板", default=False)
    free_threshold_fen = models.BigIntegerField(
        "包邮门槛（分）", null=True, blank=True, help_text="商品金额达到该值免运费；留空表示不包邮"
    )

    class Meta:
        verbose_name = "运费模板"
        verbose_name_plural = "运费模板"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="one_default_freight_template"),
        ]

    def __str__(self) -> str:
        return self.name


class FreightRule(models.Model):
    """A price for a set of provinces; the rule with no provinces applies everywhere else."""

    template = models.ForeignKey(FreightTemplate, on_delete=models.CASCADE, related_name="rules")
    provinces = ArrayField(models.CharField(max_length=32), verbose_name="适用省份", default=list,
                           blank=True, help_text="留空表示其他所有地区")
    first_count = models.PositiveIntegerField("首件（件）", default=1)
    first_fee_fen = models.BigIntegerField("首件运费（分）", default=0)
    extra_count = models.PositiveIntegerField("续件（件）", default=1)
    extra_fee_fen = models.BigIntegerField("续件运费（分）", default=0)
    is_deliverable = models.BooleanField("可配送", default=True)

    class Meta:
        verbose_name = "运费规则"
        verbose_name_plural = "运费规则"
        constraints = [
            models.CheckConstraint(condition=Q(first_fee_fen__gte=0) & Q(extra_fee_fen__gte=0),
                                   name="freight_fee_non_negative"),
            models.CheckConstraint(condition=Q(first_count__gte=1) & Q(extra_count__gte=1),
                                   name="freight_counts_positive"),
        ]
