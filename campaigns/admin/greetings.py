"""Birthday and anniversary greetings in the console: read-only, what the 09:00 job did.

Which coupon each kind gives is configured under 自动赠券 (GiftRule, trigger 生日 / 注册纪念日).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import Greeting
from campaigns.services.greetings import SKIP_REASONS
from core.admin import ReadOnlyAdminMixin, short_time


@admin.register(Greeting)
class GreetingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "kind", "member_link", "years", "coupon_text", "poster_thumb", "poster_state"]
    list_filter = ["kind", "day"]
    list_select_related = ["member", "coupon__template"]
    search_fields = ["=member__id", "member__nickname"]
    search_help_text = "按会员 ID 或昵称搜索"
    date_hierarchy = "day"
    show_full_result_count = False
    fields = readonly_fields = ("member_link", "kind", "year", "day", "years", "coupon_text", "poster_thumb",
                                "poster_state", "created")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("member", "coupon__template")

    @admin.display(description="会员", ordering="member_id")
    def member_link(self, greeting: Greeting) -> str:
        url = reverse("admin:members_member_change", args=[greeting.member_id])
        return format_html('<a href="{}">{}</a>', url, greeting.member)

    @admin.display(description="赠券")
    def coupon_text(self, greeting: Greeting) -> str:
        if greeting.coupon is not None:
            return greeting.coupon.template.name
        return f"未赠券：{SKIP_REASONS.get(greeting.skip_reason, greeting.skip_reason or '—')}"

    @admin.display(description="海报")
    def poster_thumb(self, greeting: Greeting) -> str:
        if not greeting.poster:
            return "—"
        return format_html('<a href="{0}" target="_blank"><img src="{0}" class="mall-preview" alt=""></a>',
                           greeting.poster.url)

    @admin.display(description="海报状态")
    def poster_state(self, greeting: Greeting) -> str:
        if greeting.poster:
            return f"已生成 {short_time(greeting.poster_at)}"
        return f"生成失败：{greeting.poster_error}" if greeting.poster_error else "待生成"

    @admin.display(description="创建时间")
    def created(self, greeting: Greeting) -> str:
        return short_time(greeting.created_at)
