"""The console frame's template tags: the job sidebar and breadcrumbs (config.console.NAVIGATION), and yuan."""

from __future__ import annotations

from typing import Any

from django import template

from config.console import breadcrumbs_for, navigation_for
from config.signin import may_use_two_factor
from core.money import yuan
from core.privacy import console_phone

register = template.Library()


@register.simple_tag(takes_context=True)
def console_navigation(context: template.Context) -> list[dict[str, Any]]:
    """The sidebar's sections for the signed-in operator; reuses the page's `todo_counts` if it has them."""
    request = context.get("request")
    if request is None or not request.user.is_active or not request.user.is_staff:
        return []
    return navigation_for(request, counts=context.get("todo_counts"))


@register.simple_tag(takes_context=True)
def console_breadcrumbs(context: template.Context) -> list[dict[str, str]] | None:
    """The trail by job for this page, or None to keep the page's own breadcrumbs."""
    request = context.get("request")
    if request is None or not request.user.is_active or not request.user.is_staff:
        return None
    return breadcrumbs_for(request, title=str(context.get("title") or ""), obj=context.get("original"))


@register.filter(name="console_phone")
def console_phone_filter(phone: str) -> str:
    """A phone number as the signed-in operator may read it (whole, or 138****8000)."""
    return console_phone(phone or "")


@register.simple_tag(takes_context=True)
def console_two_factor(context: template.Context) -> bool:
    """Whether the header offers 两步验证 (config.signin: superusers, 财务 and 超级管理员)."""
    request = context.get("request")
    return bool(request is not None and request.user.is_active and request.user.is_staff
                and may_use_two_factor(request.user))


@register.filter
def fen_yuan(fen: int | None) -> str:
    """An amount in fen as yuan with two decimals (12990 → "129.90"); "—" for none."""
    return "—" if fen is None else yuan(fen)
