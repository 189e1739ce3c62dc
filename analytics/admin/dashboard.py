"""Today's numbers on the console's home page, read from analytics.selectors.dashboard.dashboard_today()."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from analytics.selectors.dashboard import dashboard_today
from core.admin import yuan_text
from shop.models import OrderStatus


def dashboard_cards() -> list[dict[str, Any]]:
    """The four cards, each linking to the orders behind its number."""
    today = dashboard_today()
    orders = reverse("admin:shop_order_changelist")
    paid_today = f"{orders}?{urlencode(_paid_today_filter())}"
    return [
        {"label": "今日付款订单", "value": today["paid_orders"], "unit": "单", "url": paid_today},
        {"label": "今日成交额", "value": yuan_text(today["gmv_fen"]), "unit": "", "url": paid_today},
        {"label": "待发货", "value": today["to_ship"], "unit": "单",
         "url": f"{orders}?status__exact={OrderStatus.PAID}", "alert": today["to_ship"] > 0},
        {"label": "待付款", "value": today["unpaid"], "unit": "单",
         "url": f"{orders}?status__exact={OrderStatus.PENDING_PAYMENT}"},
    ]


def _paid_today_filter() -> dict[str, str]:
    # The same parameters the order list's 支付时间 → 今天 filter uses (a Shanghai calendar day).
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"paid_at__gte": str(start), "paid_at__lt": str(start + dt.timedelta(days=1))}


_default_index = admin.site.index


def index_with_dashboard(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    context = {"dashboard_cards": dashboard_cards(), "dashboard_date": timezone.localdate()}
    return _default_index(request, {**context, **(extra_context or {})})


# The project uses Django's default AdminSite (config/urls.py); wrapping its index view adds the
# cards without a custom site class. Admin modules load (autodiscover) before the URLconf reads
# `admin.site.urls`, so the URL for "/admin/" picks this up.
admin.site.index = index_with_dashboard  # type: ignore[method-assign,assignment]
