"""Small pieces shared by the campaigns console pages: badges, windows, autocomplete where possible,
the reason box of bulk actions and the loop that runs a service for each selected row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from catalog.models import Sku
from core.admin import log_operator_write, yuan_text
from core.errors import DomainError

GREEN, BLUE, ORANGE, RED, GREY = "#2e7d32", "#1f6fb2", "#b26a00", "#c0392b", "#777"


def badge(label: str, colour: str) -> str:
    return format_html('<span class="mall-status" style="--mall-status:{}">{}</span>', colour, label)


def window_text(starts_at: dt.datetime | None, ends_at: dt.datetime | None) -> str:
    """'11-02 10:00 – 12:00', or with both dates when it spans days; '—' when open."""
    if not starts_at and not ends_at:
        return "不限"
    start = timezone.localtime(starts_at).strftime("%Y-%m-%d %H:%M") if starts_at else "不限"
    if not ends_at:
        return f"{start} 起"
    end = timezone.localtime(ends_at)
    if starts_at and end.date() == timezone.localtime(starts_at).date():
        return f"{start} – {end:%H:%M}"
    return f"{start} – {end:%Y-%m-%d %H:%M}"


def progress_bar(done: int, total: int, *, colour: str = BLUE, width: int = 90) -> str:
    """A thin bar of done/total for list columns (no JavaScript, no external assets)."""
    share = 0 if total <= 0 else max(0, min(100, round(done * 100 / total)))
    return format_html(
        '<span style="display:inline-block;width:{}px;height:6px;border-radius:3px;overflow:hidden;'
        'background:var(--darkened-bg);border:1px solid var(--hairline-color);vertical-align:middle">'
        '<span style="display:block;height:100%;width:{}%;background:{}"></span></span>',
        width, share, colour)


class AutocompleteWhereSearchable:
    """Autocomplete for the relations whose admin is registered with search fields; a many-to-many
    without one (member tiers: a handful of rows) is a list of check boxes. So a members admin that
    gains search fields later switches to autocomplete with no change here."""

    autocomplete_candidates: tuple[str, ...] = ()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.autocomplete_candidates and db_field.name not in self.get_autocomplete_fields(request):
            kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        fields = list(super().get_autocomplete_fields(request))  # type: ignore[misc]
        model_admin: Any = self
        for name in self.autocomplete_candidates:
            related = model_admin.model._meta.get_field(name).related_model
            related_admin = model_admin.admin_site._registry.get(related)
            if related_admin is not None and related_admin.search_fields and name not in fields:
                fields.append(name)
        return fields


def no_delete_selected(model_admin: admin.ModelAdmin, request: HttpRequest, actions: dict[str, Any]) -> dict[str, Any]:
    actions.pop("delete_selected", None)
    return actions


def member_link(member_id: int, label: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse("admin:members_member_change", args=[member_id]), label)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", max_length=200, widget=forms.Textarea(attrs={"rows": 3, "cols": 50}))


class ReasonActionForm(ActionForm):
    """The action bar with a reason box, for the bulk actions that need one (驳回, 冻结)."""

    reason = forms.CharField(label="原因", max_length=200, required=False)


def run_each(request: HttpRequest, rows: QuerySet[Any], call: Callable[[Any], Any], done: str) -> None:
    """Call a service for each selected row; count what went through and show each refusal."""
    ok = 0
    for row in rows:
        try:
            call(row)
        except DomainError as exc:
            messages.error(request, f"{row}：{exc.message}")
        else:
            ok += 1
            log_operator_write(request, row, done)
    if ok:
        messages.success(request, f"{done} {ok} 条")


def action_reason(request: HttpRequest, what: str) -> str | None:
    """The reason typed in the action bar (ReasonActionForm); None, with a message, when it is empty."""
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, f"请在操作栏填写{what}原因")
        return None
    return reason[:200]


class ActivityItemInlineMixin:
    """The columns every activity's SKU inline shows (秒杀, 拼团): the SKU picked with its product in
    one query, its cost, and the activity stock left with a sold-out badge (`sold_out_label`)."""

    sold_out_label = "已售罄"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "sku":
            # The widget labels the chosen SKU with its product's name: fetch both at once.
            kwargs["queryset"] = Sku.objects.select_related("product")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    @admin.display(description="成本价")
    def cost(self, item: Any) -> str:
        return yuan_text(item.sku.cost_fen) if item.pk else "—"

    @admin.display(description="剩余 / 总量")
    def live_stock(self, item: Any) -> str:
        if not item.pk:
            return "保存后显示"
        if item.stock_left == 0 and item.stock_total:
            return format_html("<strong>0</strong> / {} {}", item.stock_total, badge(self.sold_out_label, RED))
        return format_html("<strong>{}</strong> / {} {}", item.stock_left, item.stock_total,
                           progress_bar(item.stock_left, item.stock_total, colour=GREEN, width=60))
