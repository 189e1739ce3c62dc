"""Shares, invitations and abuse in the console: 分享记录 with the 分享传播分析 report (who shared a
campaign or product, visits and new members per share, attributed orders and net sales, the spread
tree, the K-factor), 邀请记录 with each friend's rewards, 邀请有礼设置, and 异常行为 (many accounts on
one device, bursts of brand-new accounts helping one bargain). Read-only but the settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.admin.base import GREEN, GREY, ORANGE, RED, badge
from campaigns.models import (
    DeviceSighting,
    Invitation,
    InviteReward,
    InviteRewardOutcome,
    InviteSettings,
    Share,
    ShareKind,
)
from campaigns.selectors.sharing import (
    share_report,
    share_targets_top,
    suspicious_devices,
    suspicious_helper_bursts,
)
from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, short_time, yuan_text

OUTCOME_COLOURS: dict[str, str] = {InviteRewardOutcome.GRANTED: GREEN, InviteRewardOutcome.CAPPED: ORANGE,
                   InviteRewardOutcome.RECYCLED: RED, InviteRewardOutcome.BLOCKED: RED,
                   InviteRewardOutcome.DISABLED: GREY}


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label="分享内容", choices=ShareKind.choices)
    target = forms.CharField(label="分享对象", max_length=64, required=False,
                             help_text="商品 ID、砍价单号、页面路径等（与小程序分享时传的 target 一致）")


@admin.register(Share)
class ShareAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/campaigns/share/change_list.html"
    list_display = ["share_no", "sharer", "kind", "target", "depth", "parent", "created"]
    list_filter = ["kind", "depth"]
    list_select_related = ["sharer", "parent"]
    search_fields = ["=share_no", "=target", "sharer__nickname"]
    search_help_text = "按分享编号、分享对象或分享人昵称搜索"
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description="分享时间", ordering="created_at")
    def created(self, share: Share) -> str:
        return short_time(share.created_at)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [path("report/", view(self.report_view), name="campaigns_share_report"),
                path("suspicious/", view(self.suspicious_view), name="campaigns_share_suspicious"),
                *super().get_urls()]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """分享传播分析 for one campaign or product (kind + target)."""
        form = ReportForm(request.GET or None)
        report = share_report(**form.cleaned_data) if form.is_valid() else None
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "分享传播分析",
                   "form": form, "report": report,
                   "targets": [{**t, "label": ShareKind(str(t["kind"])).label} for t in share_targets_top()],
                   "report_url": reverse("admin:campaigns_share_report"),
                   "net_text": yuan_text(report.net_fen) if report else ""}
        return TemplateResponse(request, "admin/campaigns/share/report.html", context)

    def suspicious_view(self, request: HttpRequest) -> HttpResponse:
        """异常行为: devices with many accounts, launches helped by bursts of brand-new accounts."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "异常行为",
                   "devices": suspicious_devices(), "bursts": suspicious_helper_bursts()}
        return TemplateResponse(request, "admin/campaigns/share/suspicious.html", context)


class InviteRewardInline(ReadOnlyInline):
    model = InviteReward
    verbose_name_plural = "邀请奖励"
    fields = readonly_fields = ("trigger", "outcome_col", "kind", "points", "coupon_id", "reference", "created")

    @admin.display(description="结果")
    def outcome_col(self, r: InviteReward) -> str:
        return badge(r.get_outcome_display(), OUTCOME_COLOURS.get(r.outcome, GREY))

    @admin.display(description="时间")
    def created(self, r: InviteReward) -> str:
        return short_time(r.created_at)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["invitee", "inviter", "share", "device_id", "recycled_col", "rewards_col", "created"]
    list_filter = ["recycled"]
    list_select_related = ["invitee", "inviter", "share"]
    search_fields = ["inviter__nickname", "=inviter__phone", "invitee__nickname", "=device_id"]
    search_help_text = "按邀请人、被邀请人昵称或手机号、设备搜索"
    show_full_result_count = False
    list_per_page = 50
    inlines = [InviteRewardInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("rewards")

    @admin.display(description="重新注册账号")
    def recycled_col(self, i: Invitation) -> str:
        return badge("是", RED) if i.recycled else "—"

    @admin.display(description="奖励")
    def rewards_col(self, i: Invitation) -> str:
        parts = [f"{r.get_trigger_display()}：{r.get_outcome_display()}" for r in i.rewards.all()]
        return "；".join(parts) or "—"

    @admin.display(description="邀请时间", ordering="created_at")
    def created(self, i: Invitation) -> str:
        return short_time(i.created_at)


@admin.register(InviteSettings)
class InviteSettingsAdmin(admin.ModelAdmin):
    """The one settings row: the list opens it."""

    fieldsets = [
        ("奖励时机", {"fields": ["enabled", "reward_on_registration", "reward_on_first_order"],
                      "description": "微信禁止奖励分享行为本身：只在好友注册或首单支付后奖励邀请人。"}),
        ("奖励内容", {"fields": ["reward_kind", "reward_points", "reward_coupon_template"]}),
        ("上限", {"fields": ["daily_cap", "total_cap", "device_daily_cap"]}),
    ]
    autocomplete_fields = ["reward_coupon_template"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the one row is made by the list (changelist_view), never added by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        row, _ = InviteSettings.objects.get_or_create(pk=1)
        return self.change_view(request, str(row.pk), extra_context=extra_context)


@admin.register(DeviceSighting)
class DeviceSightingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["device_id", "member", "first_seen"]
    list_select_related = ["member"]
    search_fields = ["=device_id", "member__nickname"]
    search_help_text = "按设备标识或会员昵称搜索"
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="首次出现", ordering="first_seen_at")
    def first_seen(self, s: DeviceSighting) -> str:
        return short_time(s.first_seen_at)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"subtitle": format_html('可疑模式见 <a href="{}">异常行为</a>',
                                         reverse("admin:campaigns_share_suspicious"))}
        return super().changelist_view(request, {**extra, **(extra_context or {})})
