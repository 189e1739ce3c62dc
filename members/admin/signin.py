"""Sign-in in the console: the reward table operators configure, and the sign-in records (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from core.admin import ReadOnlyAdminMixin, short_time
from members.models import SignIn, SignInReward


@admin.register(SignInReward)
class SignInRewardAdmin(admin.ModelAdmin):
    list_display = ["streak_day", "points", "growth_or_rule"]
    list_editable = ["points"]
    ordering = ["streak_day"]
    fields = ["streak_day", "points", "growth"]

    @admin.display(description="奖励成长值")
    def growth_or_rule(self, reward: SignInReward) -> str:
        return str(reward.growth) if reward.growth is not None else "按成长值规则"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}),
                         "subtitle": "连续签到超过表中最后一天后，按最后一行的奖励发放"}
        return super().changelist_view(request, extra_context)


@admin.register(SignIn)
class SignInAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "member", "streak", "points", "growth", "signed_at"]
    list_filter = [("day", admin.DateFieldListFilter)]
    search_fields = ["=member__phone", "member__nickname"]
    search_help_text = "按会员手机号或昵称搜索"
    date_hierarchy = "day"
    list_select_related = ["member"]
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description="签到时间", ordering="created_at")
    def signed_at(self, signin: SignIn) -> str:
        return short_time(signin.created_at)
