"""会员卡礼包 in the console: which coupon templates make up a card plan's monthly gift pack.

Issuing happens in the daily job (campaigns.services.gift_packs); this page only configures it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from campaigns.models import CardGiftPack


class CardGiftPackForm(forms.ModelForm):
    class Meta:
        model = CardGiftPack
        fields = ["plan", "template", "is_active"]

    def clean(self) -> dict:
        data = super().clean() or {}
        plan, template = data.get("plan"), data.get("template")
        if plan is not None and not plan.monthly_gift_pack:
            self.add_error("plan", "该会员卡方案未开启“每月礼包”，请先在会员卡方案中勾选")
        if template is not None and template.per_member_limit < 12:
            self.add_error("template", f"该券每人限领 {template.per_member_limit} 张，每月发放会很快达到上限；"
                                       "请先把每人限领调大（如 120）")
        return data


@admin.register(CardGiftPack)
class CardGiftPackAdmin(admin.ModelAdmin):
    form = CardGiftPackForm
    list_display = ["plan", "template", "is_active", "created_at"]
    list_filter = ["plan", "is_active"]
    list_select_related = ["plan", "template"]
    autocomplete_fields = ["template"]
