"""Coupons console (优惠券): templates with their numbers, the coupons members hold, automatic gifts.

Templates are configuration and are edited here in yuan; their counters (issued, used, budget
spent) are never form fields — they move only through campaigns.services. Member coupons are a
read-only record with their ledger (CouponEvent) inline. The GMV of the orders that used a
template's coupons needs shop's orders: analytics.admin.coupons registers this page with it added.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from campaigns.admin.base import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    RED,
    AutocompleteWhereSearchable,
    badge,
    no_delete_selected,
    progress_bar,
    window_text,
)
from campaigns.admin.forms import CouponTemplateForm, GiftRuleForm
from campaigns.models import Coupon, CouponEvent, CouponKind, CouponStatus, CouponTemplate, GiftRule, Validity
from campaigns.selectors.stats import coupon_templates_with_stats
from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, money_display, short_time, yuan_text
from core.money import yuan

BUDGET_EXHAUSTED = "预算已用完，已停止领取"
COUPON_STATUS_COLOURS: dict[str, str] = {
    CouponStatus.AVAILABLE: GREEN,
    CouponStatus.LOCKED: ORANGE,
    CouponStatus.USED: BLUE,
    CouponStatus.EXPIRED: GREY,
}


def rule_text(template: CouponTemplate) -> str:
    """满100减10 / 8.5折，最高减¥20 / 无门槛减¥5 / 免运费 — how operators say it."""
    def money(fen: int | None) -> str:
        return yuan(fen or 0).removesuffix(".00")

    if template.kind == CouponKind.FULL_REDUCTION:
        return f"满{money(template.threshold_fen)}减{money(template.amount_fen)}"
    if template.kind == CouponKind.DISCOUNT:
        percent = template.pay_percent or 0
        rate = f"{percent // 10}" if percent % 10 == 0 else f"{percent / 10:g}"
        cap = f"，最高减{money(template.max_discount_fen)}" if template.max_discount_fen else ""
        threshold = f"满{money(template.threshold_fen)}享" if template.threshold_fen else ""
        return f"{threshold}{rate}折{cap}"
    if template.kind == CouponKind.NO_THRESHOLD:
        return f"无门槛减{money(template.amount_fen)}"
    off = "免运费" if not template.amount_fen else f"运费减{money(template.amount_fen)}"
    return f"满{money(template.threshold_fen)}{off}" if template.threshold_fen else off


def template_state(template: CouponTemplate) -> tuple[str, str]:
    """(label, colour) of where a template stands for claiming, from its row alone."""
    now = timezone.now()
    if not template.is_active:
        return "已停用", GREY
    ended = (template.claim_ends_at and now >= template.claim_ends_at) or (
        template.validity == Validity.FIXED and template.valid_until and now >= template.valid_until)
    if ended:
        return "已结束", GREY
    if template.claim_starts_at and now < template.claim_starts_at:
        return "未开始", BLUE
    if template.total_quantity is not None and template.issued_count >= template.total_quantity:
        return "已抢光", ORANGE
    if getattr(template, "budget_exhausted", False):
        return BUDGET_EXHAUSTED, RED
    return "领取中", GREEN


@admin.register(CouponTemplate)
class CouponTemplateAdmin(AutocompleteWhereSearchable, admin.ModelAdmin):
    form = CouponTemplateForm
    change_form_template = "admin/campaigns/coupontemplate/change_form.html"
    change_list_template = "admin/campaigns/coupontemplate/change_list.html"
    # The kind is in the rule's words (满199减20, 8.5折, 无门槛减5, 免运费) and in the filter.
    list_display = ["name", "rule", "issued", "used", "expired", "cost", "budget", "state"]
    list_display_links = ["name"]
    list_filter = ["kind", "is_active", "scope", "validity", "show_in_center"]
    search_fields = ["name"]
    search_help_text = "按券名称搜索"
    show_full_result_count = False
    list_per_page = 50
    autocomplete_candidates = ("categories", "products", "excluded_products", "tiers", "segments")
    readonly_fields = ["numbers", "budget_usage"]
    fieldsets = [
        ("基本信息", {"fields": ["name", "kind", "is_active", "show_in_center"]}),
        ("优惠规则", {"fields": ["threshold_fen", "amount_fen", "pay_percent", "max_discount_fen",
                             "stacks_with_activities", "return_on_full_refund"]}),
        ("适用范围", {"fields": ["scope", "categories", "products", "excluded_products"]}),
        ("有效期", {"fields": ["validity", "valid_from", "valid_until", "valid_days"]}),
        ("领取限制", {"fields": ["total_quantity", "per_member_limit", "per_day_limit", "claim_starts_at",
                             "claim_ends_at", "new_customer_only", "tiers", "segments"]}),
        ("预算", {"fields": ["budget_fen", "budget_usage"]}),
    ]

    cost = money_display("stat_cost_fen", "成本")

    def get_queryset(self, request: HttpRequest) -> Any:
        return coupon_templates_with_stats(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: CouponTemplate | None = None) -> Any:
        fieldsets = [(name, dict(options)) for name, options in super().get_fieldsets(request, obj)]
        if obj is None:  # nothing spent yet: only the budget box
            budget = next(options for name, options in fieldsets if name == "预算")
            budget["fields"] = ["budget_fen"]
        else:
            fieldsets.insert(0, ("数据", {"fields": ["numbers"]}))
        if obj is not None and obj.issued_count:
            rules = next(options for name, options in fieldsets if name == "优惠规则")
            rules["description"] = (f"已发放 {obj.issued_count} 张：类型和优惠规则不可修改"
                                    "（会员手里的券按这些规则使用）；如需调整请新建优惠券。")
        return fieldsets

    def has_delete_permission(self, request: HttpRequest, obj: CouponTemplate | None = None) -> bool:
        # Issued coupons refer to their template (and say what they are worth): stop it instead.
        if obj is not None and obj.issued_count:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="优惠规则")
    def rule(self, template: CouponTemplate) -> str:
        return rule_text(template)

    @admin.display(description="已发放", ordering="issued_count")
    def issued(self, template: CouponTemplate) -> str:
        if template.total_quantity is None:
            return str(template.issued_count)
        return f"{template.issued_count} / {template.total_quantity}"

    @admin.display(description="已使用", ordering="stat_used")
    def used(self, template: CouponTemplate) -> int:
        return template.stat_used  # type: ignore[attr-defined]

    @admin.display(description="已过期", ordering="stat_expired")
    def expired(self, template: CouponTemplate) -> int:
        return template.stat_expired  # type: ignore[attr-defined]

    @admin.display(description="预算（已用 / 预算）")
    def budget(self, template: CouponTemplate) -> str:
        if template.budget_fen is None:
            return "不限"
        spent = max(template.issued_value_fen, template.redeemed_value_fen)
        exhausted = getattr(template, "budget_exhausted", False)
        return format_html("{} / {}<br>{}", yuan_text(spent), yuan_text(template.budget_fen),
                           progress_bar(spent, template.budget_fen, colour=RED if exhausted else BLUE))

    @admin.display(description="状态")
    def state(self, template: CouponTemplate) -> str:
        return badge(*template_state(template))

    @admin.display(description="预算使用")
    def budget_usage(self, template: CouponTemplate) -> str:
        if template.pk is None:
            return "—"
        if template.budget_fen is None:
            return (f"未设预算（已发放面值 {yuan_text(template.issued_value_fen)}，"
                    f"已核销 {yuan_text(template.redeemed_value_fen)}）")
        exhausted = getattr(template, "budget_exhausted", False)
        spent = max(template.issued_value_fen, template.redeemed_value_fen)
        return format_html("已发放面值 {}，已核销 {}，预算 {} {}{}", yuan_text(template.issued_value_fen),
                           yuan_text(template.redeemed_value_fen), yuan_text(template.budget_fen),
                           progress_bar(spent, template.budget_fen, colour=RED if exhausted else BLUE, width=160),
                           format_html(" {}", badge(BUDGET_EXHAUSTED, RED)) if exhausted else "")

    def number_cells(self, template: CouponTemplate) -> list[tuple[str, Any]]:
        """The 数据 table's columns as (heading, value), for a page that adds its own to extend."""
        return [("已发放", self.issued(template)), ("已使用", self.used(template)), ("已过期", self.expired(template)),
                ("成本", yuan_text(template.stat_cost_fen)),  # type: ignore[attr-defined]
                ("状态", self.state(template))]

    @admin.display(description="数据")
    def numbers(self, template: CouponTemplate) -> str:
        if template.pk is None:
            return "—"
        cells = self.number_cells(template)
        coupons = reverse("admin:campaigns_coupon_changelist") + f"?template__id__exact={template.pk}"
        return format_html(
            '<table class="mall-mini-table"><thead><tr>{}</tr></thead><tbody><tr>{}</tr></tbody></table>'
            '<p><a href="{}">查看会员领取的券</a></p>',
            format_html_join("", "<th>{}</th>", ((heading,) for heading, _ in cells)),
            format_html_join("", "<td>{}</td>", ((value,) for _, value in cells)), coupons)


# ---------------------------------------------------------------------------------------------
# Member coupons


class CouponEventInline(ReadOnlyInline):
    model = CouponEvent
    fields = readonly_fields = ("created_at", "action", "reference", "amount", "operator")
    verbose_name_plural = "优惠券流水"

    amount = money_display("amount_fen", "金额")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("operator").order_by("id")


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    empty_value_display = "—"
    list_display = ["id", "template", "member_name", "status_label", "source", "channel", "valid_until_text",
                    "claimed", "order_link", "discount"]
    list_filter = ["status", "source", ("template", admin.RelatedOnlyFieldListFilter),
                   ("channel", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["template", "member", "channel", "order"]
    search_fields = ["=member__phone", "=member__openid", "=order__order_no", "template__name"]
    search_help_text = "按会员手机号、OpenID、订单号（完整）或券名称搜索"
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("template", "member_link", "status_label", "source", "channel", "targeted_issue",
                                "valid_from", "valid_until", "claimed_at", "order_link", "discount", "used_at",
                                "reminded_at")
    inlines = [CouponEventInline]

    discount = money_display("discount_fen", "抵扣金额")

    def get_actions(self, request: HttpRequest) -> Any:
        return no_delete_selected(self, request, super().get_actions(request))

    @admin.display(description="会员", ordering="member__nickname")
    def member_name(self, coupon: Coupon) -> str:
        return str(coupon.member)

    @admin.display(description="会员")
    def member_link(self, coupon: Coupon) -> str:
        url = reverse("admin:members_member_change", args=[coupon.member_id])
        return format_html('<a href="{}">{}</a>', url, str(coupon.member))

    @admin.display(description="状态", ordering="status")
    def status_label(self, coupon: Coupon) -> str:
        return badge(coupon.get_status_display(), COUPON_STATUS_COLOURS.get(coupon.status, GREY))

    @admin.display(description="失效时间", ordering="valid_until")
    def valid_until_text(self, coupon: Coupon) -> str:
        return short_time(coupon.valid_until)

    @admin.display(description="领取时间", ordering="claimed_at")
    def claimed(self, coupon: Coupon) -> str:
        return short_time(coupon.claimed_at)

    @admin.display(description="使用订单")
    def order_link(self, coupon: Coupon) -> str:
        if not coupon.order_id:
            return "—"
        url = reverse("admin:shop_order_change", args=[coupon.order_id])
        return format_html('<a href="{}">{}</a>', url, coupon.order.order_no)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Automatic gifts


@admin.register(GiftRule)
class GiftRuleAdmin(admin.ModelAdmin):
    form = GiftRuleForm
    list_display = ["name", "trigger", "template", "min_paid", "window", "is_active"]
    list_filter = ["trigger", "is_active"]
    list_select_related = ["template"]
    search_fields = ["name", "template__name"]
    autocomplete_fields = ["template"]

    min_paid = money_display("min_paid_fen", "订单实付满")

    @admin.display(description="有效时间")
    def window(self, rule: GiftRule) -> str:
        return window_text(rule.starts_at, rule.ends_at)

