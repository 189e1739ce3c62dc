"""Members in the console: read-only profiles and addresses. Tokens and session_key never appear."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline
from members.models import Address, Member


class AddressInline(ReadOnlyInline):
    model = Address
    fields = readonly_fields = ("receiver_name", "phone", "province", "city", "district", "detail",
                                "is_default")


@admin.register(Member)
class MemberAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["avatar", "nickname_or_id", "phone", "gender", "region", "registered_at",
                    "last_login_at", "is_active"]
    list_display_links = ["avatar", "nickname_or_id"]
    list_filter = ["gender", "is_active", ("registered_at", admin.DateFieldListFilter)]
    search_fields = ["nickname", "=phone", "=openid"]
    search_help_text = "按昵称、手机号或 OpenID 搜索"
    date_hierarchy = "registered_at"
    show_full_result_count = False
    list_per_page = 50
    # An explicit list, so a field added to Member later (or session_key) is never shown by default.
    fields = readonly_fields = ("avatar", "nickname", "phone", "gender", "birthday", "province", "city",
                                "openid", "unionid", "is_active", "registered_at", "last_login_at",
                                "orders_link")
    inlines = [AddressInline]

    @admin.display(description="头像")
    def avatar(self, member: Member) -> str:
        if not member.avatar_url:
            return mark_safe('<span class="mall-thumb mall-thumb-empty">无</span>')
        return format_html('<img src="{}" class="mall-thumb mall-avatar" width="32" height="32" alt="" '
                           'loading="lazy" referrerpolicy="no-referrer">', member.avatar_url)

    @admin.display(description="昵称", ordering="nickname")
    def nickname_or_id(self, member: Member) -> str:
        return str(member)

    @admin.display(description="地区")
    def region(self, member: Member) -> str:
        return f"{member.province} {member.city}".strip() or "—"

    @admin.display(description="订单")
    def orders_link(self, member: Member) -> str:
        url = reverse("admin:shop_order_changelist") + f"?member__id__exact={member.pk}"
        return format_html('<a href="{}">查看该会员的订单</a>', url)
