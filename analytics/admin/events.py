"""Tracked events, read-only: what the mini-program and the backend recorded."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from analytics.models import Event
from core.admin import ReadOnlyAdminMixin


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "name", "member_id", "anonymous_id", "properties_summary"]
    # The event table is the biggest one: no full count, and a name filter built from the values
    # present (an index on (name, occurred_at) backs it).
    list_filter = ["name"]
    search_fields = ["=name", "=anonymous_id"]
    search_help_text = "按事件名或匿名ID精确搜索"
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    list_per_page = 100
    fields = readonly_fields = ("event_id", "name", "member_id", "anonymous_id", "occurred_at",
                                "properties_pretty")

    @admin.display(description="属性")
    def properties_summary(self, event: Event) -> str:
        return Truncator(json.dumps(event.properties, ensure_ascii=False)).chars(80)

    @admin.display(description="属性")
    def properties_pretty(self, event: Event) -> str:
        return format_html('<pre class="mall-raw">{}</pre>',
                           json.dumps(event.properties, ensure_ascii=False, indent=2))
