"""The console's home page: the to-do inbox, today's numbers and the 7/30-day trend.

The numbers come from analytics.selectors.dashboard; this module decides which an operator sees
(the view permission of the list each number links to) and where each links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from analytics.selectors.dashboard import daily_figures, dashboard_today, todo_counts
from core.admin import may_view, yuan_text
from core.money import yuan
from shop.models import OrderStatus

# How many days the trend chart can show; the 7-day view is the last week of it.
TREND_DAYS = 30


@dataclass(frozen=True)
class TodoEntry:
    """A pile of work: its name, the console list holding exactly those rows, and who may see it.

    `key` names its count in analytics.selectors.dashboard.TODO_QUERIES; `model` is the
    "app_label.model_name" whose view (or change) permission shows it; `perm`, a permission the
    work itself needs beyond that (待二审退款 is finance's, not every reviewer's).
    """

    key: str
    label: str
    model: str
    url_name: str
    params: Mapping[str, str] = field(default_factory=dict)
    perm: str = ""

    def visible_to(self, user: AbstractUser | AnonymousUser) -> bool:
        return may_view(user, self.model) and (not self.perm or user.has_perm(self.perm))

    def url(self) -> str:
        base = reverse(self.url_name)
        return f"{base}?{urlencode(dict(self.params))}" if self.params else base


# The inbox, in the order of a working morning: ship, settle after-sales and refunds, moderate,
# then stock, points and distribution. The sidebar's badges are these same entries (config.console).
TODO: tuple[TodoEntry, ...] = (
    # Each entry names the permission its work needs, so a role that only looks at a list is not
    # handed its pile: 客服 sees orders but shipping is 仓库's; 财务 sees after-sales but the first
    # review is 客服's; 客服 sees refunds but retrying them is 财务's.
    TodoEntry("to_ship", "待发货", "shop.order", "admin:shop_order_changelist",
              {"status__exact": OrderStatus.PAID}, perm="shop.change_order"),
    TodoEntry("after_sales_to_review", "待审核售后", "shop.aftersale", "admin:shop_aftersale_changelist",
              {"status__exact": "requested"}, perm="shop.change_aftersale"),
    TodoEntry("refunds_second_approval", "待二审退款", "shop.aftersale", "admin:shop_aftersale_changelist",
              {"status__exact": "awaiting_second_approval"}, perm="shop.second_approve_aftersale"),
    TodoEntry("refunds_failed", "退款失败", "shop.refund", "admin:shop_refund_changelist",
              {"status__exact": "failed"}, perm="shop.change_refund"),
    TodoEntry("shipping_upload_failed", "物流上传失败", "shop.order", "admin:shop_order_changelist",
              {"shipping_upload": "failed"}, perm="shop.change_order"),
    TodoEntry("reviews_to_moderate", "待审核评价", "shop.review", "admin:shop_review_changelist",
              {"queue": "pending"}, perm="shop.change_review"),
    TodoEntry("low_stock", "低库存 SKU", "catalog.sku", "admin:catalog_sku_changelist", {"stock": "low"},
              perm="catalog.change_stock"),
    TodoEntry("points_adjustments_pending", "积分调整待审批", "members.pointsadjustment",
              "admin:members_pointsadjustment_changelist", {"status__exact": "pending"},
              perm="members.change_pointsadjustment"),
    TodoEntry("distributors_to_review", "待审核分销员", "campaigns.distributor",
              "admin:campaigns_distributor_changelist", {"status__exact": "applying"},
              perm="campaigns.change_distributor"),
    TodoEntry("withdrawals_to_review", "待审核提现", "campaigns.withdrawal",
              "admin:campaigns_withdrawal_changelist", {"status__exact": "requested"},
              perm="campaigns.change_withdrawal"),
)
TODO_BY_KEY = {entry.key: entry for entry in TODO}


def todo_for(user: AbstractUser | AnonymousUser) -> list[dict[str, Any]]:
    """The inbox entries `user` may open, each with its count and link."""
    entries = [entry for entry in TODO if entry.visible_to(user)]
    counts = todo_counts(keys=[entry.key for entry in entries])
    return [{"key": entry.key, "label": entry.label, "count": counts[entry.key], "url": entry.url()}
            for entry in entries]


def dashboard_cards() -> list[dict[str, Any]]:
    """Today's four numbers, each linking to the orders behind it."""
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


def trend_series(*, days: int = TREND_DAYS) -> dict[str, list[Any]]:
    """The chart's data: day labels, paid orders, and paid / net sales in yuan (strings, exact)."""
    figures = daily_figures(days=days)
    return {
        "days": [f"{day.day:%m-%d}" for day in figures],
        "dates": [day.day.isoformat() for day in figures],
        "paid_orders": [day.paid_orders for day in figures],
        "paid_yuan": [str(yuan(day.paid_fen)) for day in figures],
        "net_yuan": [str(yuan(day.net_fen)) for day in figures],
    }


def _paid_today_filter() -> dict[str, str]:
    # The same parameters the order list's 支付时间 → 今天 filter uses (a Shanghai calendar day).
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"paid_at__gte": str(start), "paid_at__lt": str(start + dt.timedelta(days=1))}


_default_index = admin.site.index


def index_with_dashboard(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    context: dict[str, Any] = {"dashboard_date": timezone.localdate(), "todo": todo_for(request.user)}
    if may_view(request.user, "shop.order"):
        context |= {"dashboard_cards": dashboard_cards(), "trend": trend_series()}
    # The sidebar's badges reuse the inbox's counts instead of counting again (config.console).
    context["todo_counts"] = {entry["key"]: entry["count"] for entry in context["todo"]}
    return _default_index(request, {**context, **(extra_context or {})})


# The project uses Django's default AdminSite (config/urls.py); wrapping its index view adds the
# dashboard without a custom site class. Admin modules load (autodiscover) before the URLconf reads
# `admin.site.urls`, so the URL for "/admin/" picks this up.
admin.site.index = index_with_dashboard  # type: ignore[method-assign,assignment]
