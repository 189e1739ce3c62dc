"""The WeChat console: subscribe messages and what shoppers consented to (read-only: written by
wechat.messages and the shoppers), and the image checks of member uploads (图片安全检测), where
operators decide the images WeChat sent to review (人工审核 through wechat.media_checks).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import AuditTrailInline, ReadOnlyAdminMixin, ReadOnlyInline, request_operator, short_time
from core.errors import DomainError
from core.media import private_storage
from wechat.media_checks import media_check_decide
from wechat.media_kinds import media_kind, media_kind_label
from wechat.messages import template_title, templates
from wechat.models import (
    MediaCheck,
    MediaCheckEvent,
    MediaCheckStatus,
    MessageAttempt,
    MessageLog,
    MessageOutcome,
    SubscribeConsent,
)
from wechat.security import LABELS

SUMMARY_CHARS = 48  # at most three lines in the list; the whole message is on its page
OUTCOME_COLOURS: dict[str, str] = {
    MessageOutcome.PENDING: "#777",
    MessageOutcome.SENDING: "#2b6cb0",
    MessageOutcome.RETRYING: "#b7791f",
    MessageOutcome.SENT: "#2f855a",
    MessageOutcome.NO_CREDIT: "#718096",
    MessageOutcome.NO_CONSENT: "#975a16",
    MessageOutcome.REJECTED: "#c53030",
    MessageOutcome.FAILED: "#c53030",
}


class TemplateFilter(admin.SimpleListFilter):
    """By template, titled in Chinese from the settings. (No DISTINCT over the log for the
    choices: the table is large, and the configured templates are the ones operators ask about.)"""

    title = "模板"
    parameter_name = "template"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, template.title) for key, template in templates().items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(template_key=value) if value else queryset


def ordered_data(log: MessageLog) -> list[tuple[str, str]]:
    """The message's (key, value) pairs in the template's order (the JSON column keeps none)."""
    data = {str(k): str(v) for k, v in (log.data or {}).items()}
    template = templates().get(log.template_key)
    order = list(template.fields) if template else []

    def position(key: str) -> tuple[int, int, str]:
        digits = key[len(key.rstrip("0123456789")):]
        return (order.index(key) if key in order else len(order), int(digits or 0), key)

    return [(key, data[key]) for key in sorted(data, key=position)]


def member_link(member_id: int) -> str:
    # By URL name only: wechat sits below members and imports nothing of it.
    url = reverse("admin:members_member_change", args=[member_id])
    return format_html('<a href="{}">会员 {}</a>', url, member_id)


class MessageAttemptInline(ReadOnlyInline):
    model = MessageAttempt
    verbose_name_plural = "每次发送"
    fields = readonly_fields = ("number", "at_display", "outcome", "errcode", "errmsg")

    @admin.display(description="时间")
    def at_display(self, attempt: MessageAttempt) -> str:
        return short_time(attempt.at)


@admin.register(MessageLog)
class MessageLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created", "template_and_reference", "member", "outcome_badge", "summary", "tries"]
    list_filter = [TemplateFilter, "outcome", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=reference", "=openid"]
    search_help_text = "按关联单号（订单号、售后单号）或 OpenID 搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    inlines = [MessageAttemptInline]
    fields = readonly_fields = ("template", "template_id", "member", "openid", "reference", "outcome_badge",
                                "errcode", "errmsg", "content", "page", "attempts", "credit_used", "created",
                                "sent", "next_attempt")

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, log: MessageLog) -> str:
        # The first column is the row's link (a <th>), which the console's nowrap rule misses.
        return format_html('<span style="white-space:nowrap">{}</span>', short_time(log.created_at))

    @admin.display(description="送达时间", ordering="sent_at")
    def sent(self, log: MessageLog) -> str:
        return short_time(log.sent_at)

    @admin.display(description="下次处理时间")
    def next_attempt(self, log: MessageLog) -> str:
        return short_time(log.next_attempt_at)

    @admin.display(description="模板", ordering="template_key")
    def template(self, log: MessageLog) -> str:
        return template_title(log.template_key)

    @admin.display(description="模板 / 关联单号", ordering="template_key")
    def template_and_reference(self, log: MessageLog) -> str:
        return format_html('{}<br><small class="quiet">{}</small>', template_title(log.template_key),
                           log.reference or "—")

    @admin.display(description="会员", ordering="member_id")
    def member(self, log: MessageLog) -> str:
        return member_link(log.member_id)

    @admin.display(description="结果", ordering="outcome")
    def outcome_badge(self, log: MessageLog) -> str:
        why = f"{log.errcode} {log.errmsg}".strip()
        return format_html('<span class="mall-status" style="--mall-status:{}" title="{}">{}</span>',
                           OUTCOME_COLOURS.get(log.outcome, "#777"), why, log.get_outcome_display())

    @admin.display(description="尝试", ordering="attempts")
    def tries(self, log: MessageLog) -> int:
        return log.attempts

    @admin.display(description="内容")
    def summary(self, log: MessageLog) -> str:
        text = " · ".join(value for _, value in ordered_data(log)) or log.errmsg or "—"
        if len(text) > SUMMARY_CHARS:
            text = text[: SUMMARY_CHARS - 1] + "…"
        return format_html('<span style="display:inline-block;min-width:14em;max-width:20em;white-space:normal">'
                           "{}</span>", text)

    @admin.display(description="消息内容")
    def content(self, log: MessageLog) -> str:
        if not log.data:
            return "—"
        names = dict(templates()[log.template_key].fields) if log.template_key in templates() else {}
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td><td class=\"quiet\">{}</td></tr>",
                                ((key, value, names.get(key, "")) for key, value in ordered_data(log)))
        return format_html('<table class="mall-mini-table">{}</table>', rows)


@admin.register(SubscribeConsent)
class SubscribeConsentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["member", "template", "credits", "accepted_total", "last_result", "last_chosen", "updated"]
    list_filter = [TemplateFilter, "last_result"]
    search_fields = ["=openid"]
    search_help_text = "按 OpenID 搜索"
    show_full_result_count = False
    fields = readonly_fields = ("member", "openid", "template", "template_id", "credits", "accepted_total",
                                "last_result", "last_chosen", "updated")

    @admin.display(description="会员", ordering="member_id")
    def member(self, consent: SubscribeConsent) -> str:
        return member_link(consent.member_id)

    @admin.display(description="模板", ordering="template_key")
    def template(self, consent: SubscribeConsent) -> str:
        return template_title(consent.template_key)

    @admin.display(description="最近选择时间", ordering="last_result_at")
    def last_chosen(self, consent: SubscribeConsent) -> str:
        return short_time(consent.last_result_at)

    @admin.display(description="更新时间", ordering="updated_at")
    def updated(self, consent: SubscribeConsent) -> str:
        return short_time(consent.updated_at)


# --- image checks (图片安全检测) -------------------------------------------------------------------

MEDIA_STATUS_COLOURS: dict[str, str] = {
    MediaCheckStatus.PENDING: "#777",
    MediaCheckStatus.PASS: "#2f855a",
    MediaCheckStatus.REVIEW: "#b7791f",
    MediaCheckStatus.RISKY: "#c53030",
}


def media_check_badge(check: MediaCheck | None) -> str:
    """The check's status as a badge, with WeChat's label when it found something ("违规 · 色情")."""
    if check is None:
        return format_html('<span class="mall-status" style="--mall-status:#777">未检测</span>')
    text = check.get_status_display()
    if check.status != MediaCheckStatus.PASS and check.label is not None and check.label != 100:
        text = f"{text} · {LABELS.get(check.label, check.label)}"
    url = reverse("admin:wechat_mediacheck_change", args=[check.pk])
    return format_html('<a href="{}" class="mall-status" style="--mall-status:{}" title="{}">{}</a>', url,
                       MEDIA_STATUS_COLOURS.get(check.status, "#777"), check.last_error, text)


def member_photo(image: FieldFile, check: MediaCheck | None, *, size: int | None = 96,
                 css: str = "mall-thumb") -> str:
    """A member's photo in the console with WeChat's verdict under it (`size` px square, or as the
    CSS class sizes it). One WeChat found risky is never shown, not even here: the flag says what."""
    badge = media_check_badge(check)
    if check is not None and check.status == MediaCheckStatus.RISKY:
        return format_html('<span class="mall-photo-flagged" style="display:inline-block;text-align:center">'
                           "⚠ 不展示<br>{}</span>", badge)
    dimensions = format_html(' width="{0}" height="{0}" style="width:{0}px;height:{0}px"', size) if size else ""
    return format_html('<span style="display:inline-block;text-align:center;vertical-align:top"><a href="{0}" '
                       'target="_blank" rel="noopener"><img src="{0}" class="{1}"{2} alt="" loading="lazy"></a>'
                       "<br>{3}</span>", image.url, css, dimensions, badge)


class MediaCheckEventInline(AuditTrailInline):
    model = MediaCheckEvent
    verbose_name_plural = "检测记录"


class MediaCheckStatusFilter(admin.SimpleListFilter):
    title = "状态"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(MediaCheckStatus.REVIEW, "待人工审核"), *[(s.value, s.label) for s in MediaCheckStatus
                                                          if s != MediaCheckStatus.REVIEW]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(status=value) if value else queryset


@admin.register(MediaCheck)
class MediaCheckAdmin(admin.ModelAdmin):
    """Every checked image. 人工审核通过 / 判定违规 decide the ones WeChat sent to review (or that could
    not be submitted); everything else is WeChat's, read-only."""

    list_display = ["created", "image_thumb", "kind_label", "owner", "member", "status_badge", "tries",
                    "decided"]
    list_filter = [MediaCheckStatusFilter, "kind"]
    search_fields = ["=trace_id", "=openid"]
    search_help_text = "按微信 trace_id 或 OpenID 搜索"
    show_full_result_count = False
    ordering = ["-id"]
    list_per_page = 50
    actions = ["approve_selected", "reject_selected"]
    inlines = [MediaCheckEventInline]
    fields = readonly_fields = ("image", "kind_label", "owner", "member", "status_badge", "strategy", "trace_id",
                                "attempts", "last_error", "created", "submitted", "decided")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need the permission; a check's own page has nothing to edit.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="上传时间", ordering="created_at")
    def created(self, check: MediaCheck) -> str:
        return format_html('<span style="white-space:nowrap">{}</span>', short_time(check.created_at))

    @admin.display(description="提交时间", ordering="submitted_at")
    def submitted(self, check: MediaCheck) -> str:
        return short_time(check.submitted_at)

    @admin.display(description="判定时间", ordering="decided_at")
    def decided(self, check: MediaCheck) -> str:
        return short_time(check.decided_at)

    @admin.display(description="类型", ordering="kind")
    def kind_label(self, check: MediaCheck) -> str:
        return media_kind_label(check.kind)

    @admin.display(description="所属")
    def owner(self, check: MediaCheck) -> str:
        kind = media_kind(check.kind)
        url = kind.console_url(check.object_id) if kind is not None and kind.console_url is not None else ""
        return format_html('<a href="{}">#{}</a>', url, check.object_id) if url else f"#{check.object_id}"

    @admin.display(description="会员", ordering="member_id")
    def member(self, check: MediaCheck) -> str:
        return member_link(check.member_id) if check.member_id else "—"

    @admin.display(description="状态", ordering="status")
    def status_badge(self, check: MediaCheck) -> str:
        return media_check_badge(check)

    @admin.display(description="提交次数", ordering="attempts")
    def tries(self, check: MediaCheck) -> int:
        return check.attempts

    def _image(self, check: MediaCheck, size: int) -> str:
        if check.status == MediaCheckStatus.RISKY:
            return format_html('<span class="mall-photo-flagged">{}</span>', "⚠ 违规图片，不展示")
        url = private_storage().url(check.media_name)
        return format_html('<a href="{0}" target="_blank" rel="noopener"><img src="{0}" class="mall-thumb" '
                           'width="{1}" height="{1}" style="width:{1}px;height:{1}px" alt="" loading="lazy"></a>',
                           url, size)

    @admin.display(description="图片")
    def image_thumb(self, check: MediaCheck) -> str:
        return self._image(check, 40)

    @admin.display(description="图片")
    def image(self, check: MediaCheck) -> str:
        return self._image(check, 240)

    def _decide(self, request: HttpRequest, queryset: QuerySet[MediaCheck], to: str, done: str) -> None:
        ok, failed = 0, []
        for check_id in queryset.values_list("id", flat=True):
            try:
                media_check_decide(check_id=check_id, to=to, operator=request_operator(request))
            except DomainError as exc:
                failed.append(f"#{check_id}：{exc.message}")
            else:
                ok += 1
        self.message_user(request, done.format(ok), messages.SUCCESS)
        for line in failed[:10]:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="人工审核通过所选图片", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[MediaCheck]) -> None:
        self._decide(request, queryset, MediaCheckStatus.PASS, "已通过 {} 张图片")

    @admin.action(description="判定所选图片违规（不再展示）", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[MediaCheck]) -> None:
        self._decide(request, queryset, MediaCheckStatus.RISKY, "已判定 {} 张图片违规")
