"""The subscribe-message console: every message and its attempts, and what shoppers consented to.

Read-only: messages are written by wechat.messages, consents by the shoppers themselves.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, short_time
from wechat.messages import template_title, templates
from wechat.models import MessageAttempt, MessageLog, MessageOutcome, SubscribeConsent

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
