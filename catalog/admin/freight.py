"""Freight templates and their per-province rules, fees in yuan."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from catalog.admin.forms import FreightRuleForm, FreightRuleFormSet, FreightTemplateForm
from catalog.models import FreightRule, FreightTemplate
from core.admin import NO_CAPTION, money_display


class FreightRuleInline(admin.TabularInline):
    model = FreightRule
    form = FreightRuleForm
    formset = FreightRuleFormSet
    extra = 1
    classes = [NO_CAPTION]
    verbose_name = "运费规则"
    verbose_name_plural = "运费规则（省份留空的一条适用于其他所有地区）"


@admin.register(FreightTemplate)
class FreightTemplateAdmin(admin.ModelAdmin):
    form = FreightTemplateForm
    list_display = ["name", "is_default", "free_threshold", "rule_count"]
    inlines = [FreightRuleInline]

    free_threshold = money_display("free_threshold_fen", "包邮门槛")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_rules=Count("rules"))

    @admin.display(description="规则数", ordering="_rules")
    def rule_count(self, template: FreightTemplate) -> int:
        return template._rules  # type: ignore[attr-defined]

