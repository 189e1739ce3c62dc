"""Paid cards in the console: plans (prices in yuan), purchases and cards (read-only, with their
history), and the member-price settings (stacking policy, margin floor).

Inline for the member detail page (members/admin/identity.py): MemberCardPeriodInline.
The coupons of a plan's monthly gift pack are configured in campaigns (会员卡礼包).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from core.admin import AuditTrailInline, ReadOnlyAdminMixin, ReadOnlyInline, YuanFormField, money_display, short_time
from members.admin.tiers import SingletonAdmin
from members.models import CardPlan, CardPurchase, CardPurchaseEvent, MemberCard, MemberCardPeriod, MemberPriceSettings


class CardPlanForm(forms.ModelForm):
    price_fen = YuanFormField(label="售价（元）")

    class Meta:
        model = CardPlan
        fields = ["name", "price_fen", "days", "discount_percent", "points_multiplier", "monthly_gift_pack", "sort",
                  "is_active"]

    def clean_price_fen(self) -> int:
        price = self.cleaned_data["price_fen"]
        if price <= 0:
            raise forms.ValidationError("售价必须大于 0")
        return int(price)

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if days < 1:
            raise forms.ValidationError("有效天数至少为 1 天")
        return int(days)

    def clean_discount_percent(self) -> int:
        percent = self.cleaned_data["discount_percent"]
        if not 1 <= percent <= 100:
            raise forms.ValidationError("折扣应在 1 到 100 之间（100 表示不打折）")
        return int(percent)

    def clean_points_multiplier(self) -> Decimal:
        multiplier = self.cleaned_data["points_multiplier"]
        if not Decimal(1) <= multiplier <= Decimal(10):
            raise forms.ValidationError("积分倍数应在 1 到 10 之间")
        return Decimal(multiplier)


@admin.register(CardPlan)
class CardPlanAdmin(admin.ModelAdmin):
    form = CardPlanForm
    list_display = ["name", "price_yuan", "days", "discount_percent", "points_multiplier", "monthly_gift_pack", "sort",
                    "is_active"]
    list_filter = ["is_active"]
    ordering = ["sort", "id"]
    price_yuan = money_display("price_fen", "售价")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Plans are history once sold; take one off sale with 上架 instead.
        return False


class CardPurchaseEventInline(AuditTrailInline):
    model = CardPurchaseEvent
    verbose_name_plural = "状态记录"
    fields = readonly_fields = (*AuditTrailInline.fields, "data")


@admin.register(CardPurchase)
class CardPurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["purchase_no", "member", "plan_name", "amount_yuan", "status", "created", "paid"]
    list_filter = ["status", "plan", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=purchase_no", "=transaction_id", "=member__phone", "member__nickname"]
    search_help_text = "按购卡单号、微信支付单号、会员手机号或昵称搜索"
    list_select_related = ["member"]
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("purchase_no", "member", "plan", "plan_name", "days", "amount_yuan", "status",
                                "expires_at", "transaction_id", "paid_yuan", "paid_at", "cancelled_at", "created_at")
    inlines = [CardPurchaseEventInline]
    amount_yuan = money_display("amount_fen", "金额")
    paid_yuan = money_display("paid_fen", "实付")

    @admin.display(description="下单时间", ordering="created_at")
    def created(self, purchase: CardPurchase) -> str:
        return short_time(purchase.created_at)

    @admin.display(description="支付时间", ordering="paid_at")
    def paid(self, purchase: CardPurchase) -> str:
        return short_time(purchase.paid_at)


class MemberCardPeriodInline(ReadOnlyInline):
    model = MemberCardPeriod
    verbose_name_plural = "会员卡记录"
    fields = readonly_fields = ("created_at", "plan", "purchase", "starts_at", "ends_at", "renewal")
    ordering = ["-id"]


class ActiveFilter(admin.SimpleListFilter):
    title = "状态"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "有效"), ("no", "已过期")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(starts_at__lte=now, ends_at__gt=now)
        if self.value() == "no":
            return queryset.filter(ends_at__lte=now)
        return queryset


@admin.register(MemberCard)
class MemberCardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["member", "plan", "starts", "ends", "is_active_now"]
    list_filter = [ActiveFilter, "plan"]
    search_fields = ["=member__phone", "member__nickname"]
    list_select_related = ["member", "plan"]
    show_full_result_count = False
    fields = readonly_fields = ("member", "plan", "starts_at", "ends_at", "updated_at")
    inlines = [MemberCardPeriodInline]

    @admin.display(description="开卡时间", ordering="starts_at")
    def starts(self, card: MemberCard) -> str:
        return short_time(card.starts_at)

    @admin.display(description="到期时间", ordering="ends_at")
    def ends(self, card: MemberCard) -> str:
        return short_time(card.ends_at)

    @admin.display(description="有效", boolean=True)
    def is_active_now(self, card: MemberCard) -> bool:
        return card.starts_at <= timezone.now() < card.ends_at


class MemberPriceSettingsForm(forms.ModelForm):
    class Meta:
        model = MemberPriceSettings
        fields = ["policy", "floor"]

    def clean_floor(self) -> Decimal:
        floor = self.cleaned_data["floor"]
        if not Decimal(0) <= floor <= Decimal(10):
            raise forms.ValidationError("毛利底线应在 0 到 10 之间，例如 1.00 表示不低于成本")
        return Decimal(floor)


@admin.register(MemberPriceSettings)
class MemberPriceSettingsAdmin(SingletonAdmin):
    form = MemberPriceSettingsForm
    fields = ["policy", "floor", "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]
    radio_fields = {"policy": admin.VERTICAL}

    def save_model(self, request: HttpRequest, obj: MemberPriceSettings, form: Any, change: bool) -> None:
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
