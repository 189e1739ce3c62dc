"""每日指标: the daily KPIs (We分析's visit figures and the mall's sales) with trends, channels and
the previous period beside each number. The DailyKpi list's page is this dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse

from analytics.admin import analyses, audience
from analytics.admin.reports import (
    Card,
    Chart,
    RangeForm,
    Report,
    Table,
    change_text,
    date_range,
    line_chart,
    percent,
    previous_range,
    render,
)
from analytics.models import DailyKpi
from analytics.selectors.kpis import Kpis, kpi_by_channel, kpi_daily, kpi_total
from core.money import yuan


def _cards(now: Kpis, before: Kpis) -> list[Card]:
    def card(label: str, value: Any, previous: Any, text: str | None = None, previous_text: str | None = None) -> Card:
        return Card(label, text if text is not None else str(value),
                    previous_text if previous_text is not None else str(previous), change_text(value, previous))

    return [
        card("访问人数", now.visitors, before.visitors),
        card("新访问人数", now.new_visitors, before.new_visitors),
        card("打开次数", now.visits, before.visits),
        card("访问次数", now.page_views, before.page_views),
        card("次均停留(秒)", now.seconds_per_visit, before.seconds_per_visit),
        card("人均停留(秒)", now.seconds_per_visitor, before.seconds_per_visitor),
        card("跳出率", now.bounce_rate, before.bounce_rate, percent(now.bounce_rate), percent(before.bounce_rate)),
        card("分享次数 / 人数", now.shares, before.shares, f"{now.shares} / {now.sharers}",
             f"{before.shares} / {before.sharers}"),
        card("下单人数 / 订单", now.orders, before.orders, f"{now.ordering_members} / {now.orders}",
             f"{before.ordering_members} / {before.orders}"),
        card("支付人数", now.paying_members, before.paying_members),
        card("支付金额", now.paid_fen, before.paid_fen, f"¥{yuan(now.paid_fen)}", f"¥{yuan(before.paid_fen)}"),
        card("退款金额", now.refunded_fen, before.refunded_fen, f"¥{yuan(now.refunded_fen)}",
             f"¥{yuan(before.refunded_fen)}"),
        card("净销售额", now.net_fen, before.net_fen, f"¥{yuan(now.net_fen)}", f"¥{yuan(before.net_fen)}"),
        card("客单价", now.average_order_fen, before.average_order_fen, f"¥{yuan(now.average_order_fen)}",
             f"¥{yuan(before.average_order_fen)}"),
        card("访问-支付转化率", now.visitor_to_payer, before.visitor_to_payer, percent(now.visitor_to_payer),
             percent(before.visitor_to_payer)),
    ]


def kpi_report(request: HttpRequest) -> tuple[Report, RangeForm]:
    form, first, last = date_range(request)
    before_first, before_last = previous_range(first, last)
    now, before = kpi_total(first=first, last=last), kpi_total(first=before_first, last=before_last)
    daily = kpi_daily(first=first, last=last)
    previous_daily = kpi_daily(first=before_first, last=before_last)
    days = [f"{day:%m-%d}" for day, _ in daily]
    channels = kpi_by_channel(first=first, last=last)
    report = Report(title="每日指标", cards=_cards(now, before), note=(
        "按上海时间自然日统计。打开次数：同一人 30 分钟内无操作即算新的一次；跳出：一次打开只看了不超过 1 个页面；"
        "新访问人数：当天首次出现；净销售额 = 当日支付金额 − 当日到账退款。上期为紧邻的等长时段。"))
    report.charts = [
        line_chart("visitors", "访问人数（本期 / 上期）", days, {
            "本期": [k.visitors for _, k in daily], "上期": [k.visitors for _, k in previous_daily]}),
        line_chart("sales", "支付金额与净销售额（元）", days, {
            "支付金额": [yuan(k.paid_fen) for _, k in daily], "净销售额": [yuan(k.net_fen) for _, k in daily]}),
        Chart("channels", "各渠道访问人数", {
            "tooltip": {"trigger": "item"},
            "series": [{"type": "pie", "radius": ["40%", "70%"],
                        "data": [{"name": label, "value": k.visitors} for _, label, k in channels if k.visitors]}]}),
        line_chart("new", "新 / 老访问人数", days, {
            "新访客": [k.new_visitors for _, k in daily],
            "老访客": [k.visitors - k.new_visitors for _, k in daily]}, bar=True),
    ]
    headers = ["日期", "访问人数", "新访问人数", "打开次数", "访问次数", "次均停留(秒)", "跳出率", "分享次数",
               "分享人数", "下单人数", "订单数", "支付人数", "支付金额(元)", "退款(元)", "净销售额(元)", "客单价(元)",
               "访问-支付转化率"]

    def row(label: str, k: Kpis) -> list[Any]:
        return [label, k.visitors, k.new_visitors, k.visits, k.page_views, k.seconds_per_visit, percent(k.bounce_rate),
                k.shares, k.sharers, k.ordering_members, k.orders, k.paying_members, yuan(k.paid_fen),
                yuan(k.refunded_fen), yuan(k.net_fen), yuan(k.average_order_fen), percent(k.visitor_to_payer)]

    report.tables = [
        Table("daily", "每日明细", headers, [row(day.isoformat(), k) for day, k in reversed(daily)]),
        Table("channels", "按渠道", ["渠道", *headers[1:]], [row(label, k) for _, label, k in channels],
              note="渠道：当天第一次打开的入口（微信场景值分组，或我们的渠道码）。"),
        Table("visitor_type", "新 / 老访客", ["访客", *headers[1:]],
              [row("新访客", kpi_total(first=first, last=last, is_new=True)),
               row("老访客", kpi_total(first=first, last=last, is_new=False))]),
    ]
    return report, form


@admin.register(DailyKpi)
class DailyKpiAdmin(admin.ModelAdmin):
    """The daily KPI dashboard in place of a list of rollup rows; read-only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, str] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        report, form = kpi_report(request)
        return render(request, report, form=form, opts=self.opts, filename="daily-kpis")

    def get_urls(self) -> list[Any]:
        pages: dict[str, Callable[[HttpRequest], tuple[Report, Any]]] = {
            "retention": analyses.retention_report, "paths": analyses.paths_report,
            "products": analyses.products_report, "profiles": audience.profiles_report,
            "channels": audience.channels_report, "rfm": self._rfm,
        }
        wrap = self.admin_site.admin_view
        return [
            *[path(f"{key}/", wrap(self._page(key, build)), name=f"analytics_dailykpi_{key}")
              for key, build in pages.items()],
            path("rfm/segment/", wrap(self._rfm_save), name="analytics_dailykpi_rfm_segment"),
            *super().get_urls(),
        ]

    def _page(self, key: str, build: Callable[[HttpRequest], tuple[Report, Any]]) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest) -> HttpResponse:
            if not self.has_view_permission(request):
                raise PermissionDenied
            report, form = build(request)
            return render(request, report, form=form, opts=self.opts, filename=key)

        return view

    def _rfm(self, request: HttpRequest) -> tuple[Report, Any]:
        may_save = request.user.has_perm("members.add_segment")
        save_url = reverse("admin:analytics_dailykpi_rfm_segment") if may_save else None
        return analyses.rfm_page(request, save_url=save_url)

    def _rfm_save(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not (self.has_view_permission(request)
                                             and request.user.has_perm("members.add_segment")):
            raise PermissionDenied
        return analyses.rfm_segment_save(request)
