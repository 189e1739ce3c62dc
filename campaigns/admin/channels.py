"""Channel codes console (渠道码): placements with their scans and claims, the code, its PNG download.

The code is made by campaigns.services.channels.channel_generate_code (getwxacodeunlimit, once,
stored); the console only asks for it and serves the stored file. Scans are a read-only record.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.admin.base import GREEN, GREY, badge
from campaigns.admin.forms import ChannelForm
from campaigns.models import Channel, ChannelScan
from campaigns.selectors.stats import channels_with_stats
from campaigns.services.channels import channel_generate_code
from core.admin import ReadOnlyAdminMixin, short_time
from core.errors import DomainError


def _thumbnail(channel: Channel, size: int = 48) -> str:
    if not channel.qrcode:
        return format_html('<span class="mall-thumb mall-thumb-empty" style="width:{0}px;height:{0}px">未生成</span>',
                           size)
    return format_html('<img src="{}" class="mall-thumb" width="{}" height="{}" alt="小程序码" loading="lazy" '
                       'style="object-fit:contain;background:#fff">', channel.qrcode.url, size, size)


def download_filename(channel: Channel) -> str:
    """'渠道码-收银台A.png': the channel's name, minus characters a file system refuses."""
    name = re.sub(r'[\\/:*?"<>|\s]+', "_", channel.name).strip("_.") or f"channel-{channel.pk}"
    return f"渠道码-{name}.png"


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    change_form_template = "admin/campaigns/channel/change_form.html"
    list_display = ["code_thumbnail", "name", "kind", "template", "scene", "scans", "claims", "code_actions",
                    "is_active"]
    list_display_links = ["code_thumbnail", "name"]
    list_filter = ["kind", "is_active", ("template", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["template"]
    search_fields = ["name", "=scene"]
    search_help_text = "按渠道名称或场景值（完整）搜索"
    show_full_result_count = False
    list_per_page = 50
    autocomplete_fields = ["template"]
    actions = ["generate_codes"]
    readonly_fields = ["code_preview", "qrcode_generated_at", "numbers"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "template", "is_active"]}),
        ("小程序码", {"fields": ["scene", "page", "code_preview", "qrcode_generated_at"]}),
        ("数据", {"fields": ["numbers"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return channels_with_stats(super().get_queryset(request))

    def has_delete_permission(self, request: HttpRequest, obj: Channel | None = None) -> bool:
        # A printed code points at its channel for good: disable it (启用) instead of deleting.
        if obj is not None and obj.qrcode:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="小程序码")
    def code_thumbnail(self, channel: Channel) -> str:
        return _thumbnail(channel)

    @admin.display(description="扫码次数", ordering="stat_scans")
    def scans(self, channel: Channel) -> int:
        return channel.stat_scans  # type: ignore[attr-defined]

    @admin.display(description="领券数", ordering="stat_claims")
    def claims(self, channel: Channel) -> int:
        return channel.stat_claims  # type: ignore[attr-defined]

    @admin.display(description="操作")
    def code_actions(self, channel: Channel) -> str:
        if channel.qrcode:
            return format_html('<a href="{}" class="mall-button-link">下载 PNG</a>',
                               reverse("admin:campaigns_channel_qrcode", args=[channel.pk]))
        return format_html('<a href="{}" class="mall-button-link">生成小程序码</a>',
                           reverse("admin:campaigns_channel_generate", args=[channel.pk]))

    @admin.display(description="小程序码")
    def code_preview(self, channel: Channel) -> str:
        if not channel.pk:
            return "保存后可生成小程序码"
        if not channel.qrcode:
            return format_html('{} <a href="{}" class="mall-button-link">生成小程序码</a>', _thumbnail(channel, 120),
                               reverse("admin:campaigns_channel_generate", args=[channel.pk]))
        return format_html('{}<br><a href="{}" class="mall-button-link">下载 PNG</a>', _thumbnail(channel, 180),
                           reverse("admin:campaigns_channel_qrcode", args=[channel.pk]))

    @admin.display(description="数据")
    def numbers(self, channel: Channel) -> str:
        if not channel.pk:
            return "—"
        scans = reverse("admin:campaigns_channelscan_changelist") + f"?channel__id__exact={channel.pk}"
        coupons = reverse("admin:campaigns_coupon_changelist") + f"?channel__id__exact={channel.pk}"
        return format_html('扫码 {} 次（<a href="{}">扫码记录</a>），领券 {} 张（<a href="{}">查看领到的券</a>）',
                           channel.stat_scans, scans, channel.stat_claims, coupons)  # type: ignore[attr-defined]

    # --- 生成小程序码 / 下载 PNG ---------------------------------------------------------------

    def get_urls(self) -> list:
        custom = [
            path("<path:object_id>/generate-code/", self.admin_site.admin_view(self.generate_view),
                 name="campaigns_channel_generate"),
            path("<path:object_id>/qrcode.png", self.admin_site.admin_view(self.qrcode_view),
                 name="campaigns_channel_qrcode"),
        ]
        return custom + super().get_urls()

    def generate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what will be made; POST: make it (WeChat, outside any transaction) and go back."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        channel = self.get_object(request, unquote(object_id))
        if channel is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if request.method == "POST":
            if self._generate(request, channel):
                return HttpResponseRedirect(reverse("admin:campaigns_channel_change", args=[channel.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"生成小程序码：{channel.name}",
            "action_title": "生成小程序码",
            "button": "生成小程序码",
            "opts": self.opts,
            "object_id": channel.pk,
            "channel": channel,
            "form": None,
        }
        return TemplateResponse(request, "admin/campaigns/channel/generate_form.html", context)

    def _generate(self, request: HttpRequest, channel: Channel) -> bool:
        had_code = bool(channel.qrcode)
        try:
            channel_generate_code(channel_id=channel.pk)
        except DomainError as exc:
            self.message_user(request, f"“{channel.name}”生成小程序码失败：{exc.message}", messages.ERROR)
            return False
        if had_code:
            self.message_user(request, f"“{channel.name}”的小程序码已存在（永久有效），无需重新生成", messages.INFO)
        else:
            self.message_user(request, f"已生成“{channel.name}”的小程序码", messages.SUCCESS)
        return True

    def qrcode_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """The stored PNG as a download named after the channel."""
        channel = self.get_object(request, unquote(object_id))
        if channel is None or not self.has_view_or_change_permission(request, channel):
            raise Http404("渠道不存在")
        if not channel.qrcode:
            raise Http404("该渠道还没有生成小程序码")
        return FileResponse(channel.qrcode.open("rb"), as_attachment=True, filename=download_filename(channel),
                            content_type="image/png")

    @admin.action(description="生成所选渠道的小程序码", permissions=["change"])
    def generate_codes(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        made, failed = 0, []
        for channel in queryset.filter(qrcode=""):
            try:
                channel_generate_code(channel_id=channel.pk)
            except DomainError as exc:
                failed.append(f"{channel.name}：{exc.message}")
            else:
                made += 1
        self.message_user(request, f"已生成 {made} 个小程序码（已有小程序码的渠道不会重新生成）", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


@admin.register(ChannelScan)
class ChannelScanAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["scanned", "channel", "member", "outcome_label", "reason"]
    list_filter = ["outcome", ("channel", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["channel", "member"]
    search_fields = ["=member__phone", "=member__openid", "channel__name"]
    search_help_text = "按会员手机号、OpenID（完整）或渠道名称搜索"
    date_hierarchy = "scanned_at"
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="扫码时间", ordering="scanned_at")
    def scanned(self, scan: ChannelScan) -> str:
        return short_time(scan.scanned_at)

    @admin.display(description="结果", ordering="outcome")
    def outcome_label(self, scan: ChannelScan) -> str:
        colour = GREEN if scan.outcome == ChannelScan.Outcome.CLAIMED else GREY
        return badge(scan.get_outcome_display(), colour)
