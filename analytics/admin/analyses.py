"""The 数据 section's analyses beyond the daily KPIs: retention, page paths, product conversion,
member profiles, RFM and channel effect. Each builds a Report (analytics.admin.reports) from one
selector; the URLs hang off the daily KPI page's admin (its view permission shows them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from analytics.admin.reports import Chart, RangeForm, Report, Table, date_range, line_chart, percent, pie_chart
from analytics.selectors.members import rfm_report
from analytics.selectors.paths import paths
from analytics.selectors.products import MIN_VIEWERS, product_conversion
from analytics.selectors.retention import COHORTS, RETURNS, UNITS, average_rates, cohorts_merged, retention_by_channel
from core.money import yuan
from members.models import Segment
from members.segments import RFM_GROUPS
from members.services.segments import segment_evaluate, segment_save


class RetentionForm(RangeForm):
    unit = forms.ChoiceField(label="周期", choices=list(UNITS.items()), required=False)
    cohort_by = forms.ChoiceField(label="初始行为", choices=list(COHORTS.items()), required=False)
    returns_on = forms.ChoiceField(label="回访行为", choices=list(RETURNS.items()), required=False)


def retention_report(request: HttpRequest) -> tuple[Report, forms.Form]:
    form, first, last = date_range(request, days=14, form_class=RetentionForm, unit="day", cohort_by="visit",
                                   returns_on="visit")
    data = form.cleaned_data if form.is_valid() else {}
    unit = data.get("unit") or "day"
    periods = {"day": 7, "week": 8, "month": 6}[unit]
    by_channel = retention_by_channel(first=first, last=last, unit=unit, cohort_by=data.get("cohort_by") or "visit",
                                      returns_on=data.get("returns_on") or "visit", periods=periods)
    cohorts = cohorts_merged([found for _, _, found in by_channel])
    label = UNITS[unit]
    period_names = [f"第{k}{label}" for k in range(1, periods + 1)]
    headers = ["初始时间", "人数", *[f"第 {k} {label}" for k in range(periods + 1)]]
    rows = [[c.start.isoformat(), c.size, *[f"{n}（{percent(rate)}）" for n, rate in zip(c.returned, c.rates(),
                                                                                        strict=True)]]
            for c in cohorts]
    heat = [[k, i, round(rate * 100, 1)] for i, c in enumerate(cohorts) for k, rate in enumerate(c.rates()) if k]
    channel_rows = [(channel_name, sum(c.size for c in found), average_rates(found, periods))
                    for _, channel_name, found in by_channel]
    report = Report(title="留存分析", note=(
        "初始人群：首次访问（或首次支付）落在所选时段各周期内的人；第 k 期：其后第 k 个周期内再次访问（或支付）的人数。"
        "尚未开始的周期不显示。登录前后的访问算同一人。获客渠道：其第一次进入小程序的入口（场景值分组或渠道码）。"))
    report.charts = [
        Chart("heatmap", "留存热力图（%）", {
            "tooltip": {"position": "top"},
            "grid": {"left": 90, "right": 24, "top": 16, "bottom": 96},
            "xAxis": {"type": "category", "data": period_names},
            "yAxis": {"type": "category", "data": [c.start.isoformat() for c in cohorts], "inverse": True},
            "visualMap": {"min": 0, "max": 100, "calculable": True, "orient": "horizontal", "left": "center",
                          "bottom": 0, "itemHeight": 160},
            "series": [{"type": "heatmap", "data": [[k - 1, i, v] for k, i, v in heat], "label": {"show": True}}],
        }, height=max(260, 28 * len(cohorts) + 130)),
        line_chart("curve", "平均留存率曲线（%）", period_names,
                   {"留存率": _percents(average_rates(cohorts, periods))}, smooth=False),
        line_chart("channels", "各获客渠道平均留存率（%，人数前 6）", period_names,
                   {name: _percents(rates) for name, _, rates in channel_rows[:6]}, wide=True, smooth=False),
    ]
    report.tables = [
        Table("cohorts", "留存三角表", headers, rows),
        Table("by_channel", "按获客渠道", ["获客渠道", "人数", *[f"第 {k} {label}" for k in range(1, periods + 1)]],
              [[name, size, *[percent(rate) if rate is not None else "—" for rate in rates]]
               for name, size, rates in channel_rows]),
    ]
    return report, form


def _percents(rates: list[float | None]) -> list[float | None]:
    return [round(rate * 100, 1) if rate is not None else None for rate in rates]


class PathsForm(RangeForm):
    after = forms.CharField(label="起始页面", required=False, max_length=200,
                            widget=forms.TextInput(attrs={"placeholder": "如 pages/product/detail"}))


def paths_report(request: HttpRequest) -> tuple[Report, forms.Form]:
    form, first, last = date_range(request, days=7, form_class=PathsForm, after="")
    after = (form.cleaned_data.get("after") or "") if form.is_valid() else ""
    found = paths(first=first, last=last, after=after)  # no page chosen: from the most viewed one
    report = Report(title="页面路径", note=(
        f"共 {found.visits} 次访问（连续浏览页面，30 分钟无操作或跨过零点即算新的一次）。"
        "退出率 = 在该页结束的访问 ÷ 该页浏览次数。后续路径从每次访问第一次到达起始页面算起。"))
    nodes = sorted({name for link in found.links for name in link[:2]})
    report.charts = [Chart("sankey", f"从 {found.after} 出发的后续路径", {
        "tooltip": {"trigger": "item"},
        "series": [{"type": "sankey", "emphasis": {"focus": "adjacency"}, "nodeGap": 10,
                    "data": [{"name": name} for name in nodes],
                    "links": [{"source": s, "target": t, "value": n} for s, t, n in found.links]}],
    }, height=420, wide=True)] if found.links else []
    entries = sorted(found.pages, key=lambda p: -p.entries)
    report.tables = [
        Table("pages", "页面浏览与退出", ["页面", "浏览次数", "入口次数", "退出次数", "退出率"],
              [[p.path, p.views, p.entries, p.exits, percent(p.exit_rate)] for p in found.pages[:50]]),
        Table("entries", "入口页面", ["页面", "入口次数", "占访问"],
              [[p.path, p.entries, percent(p.entries / found.visits if found.visits else 0)]
               for p in entries[:20] if p.entries]),
    ]
    return report, form


def products_report(request: HttpRequest) -> tuple[Report, forms.Form]:
    form, first, last = date_range(request, days=30)
    found = product_conversion(first=first, last=last)
    report = Report(title="商品转化", note=(
        f"转化率 = 支付人数 ÷ 浏览人数。“高浏览低转化”：浏览人数不少于 {MIN_VIEWERS} "
        "且转化率低于全部商品整体转化率的一半。"))
    top = found[:15]
    report.charts = [Chart("products", "浏览人数与支付人数（前 15）", {
        "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
        "grid": {"left": 160, "right": 24, "top": 32, "bottom": 24},
        "yAxis": {"type": "category", "data": [p.name[:14] for p in reversed(top)]},
        "xAxis": {"type": "value"},
        "series": [{"name": "浏览人数", "type": "bar", "data": [p.viewers for p in reversed(top)]},
                   {"name": "支付人数", "type": "bar", "data": [p.payers for p in reversed(top)]}],
    }, height=460, wide=True)]
    headers = ["商品", "浏览次数", "浏览人数", "加购次数", "下单数", "支付人数", "转化率", "提示"]
    report.tables = [Table("products", "商品转化明细", headers,
                           [[p.name, p.views, p.viewers, p.carts, p.orders, p.payers, percent(p.conversion),
                             "高浏览低转化" if p.low_conversion else ""] for p in found])]
    return report, form


def rfm_page(request: HttpRequest, *, save_url: str | None) -> tuple[Report, None]:
    rows = rfm_report()
    report = Report(title="RFM 分析", note="分组规则与阈值见“会员 › RFM 阈值”；金额为会员累计支付。")
    report.charts = [pie_chart("members", "各组人数", [(r.label, r.members) for r in rows]),
                     pie_chart("revenue", "各组贡献金额（元）", [(r.label, r.paid_fen // 100) for r in rows])]
    actions: list[dict[str, Any] | None] = [
        {"url": save_url, "key": f"rfm-{r.group}", "label": "保存为人群", "fields": {"group": r.group}}
        if save_url and r.members else None for r in rows]
    report.tables = [Table("groups", "RFM 分组", ["分组", "人数", "累计支付(元)", "金额占比"],
                           [[r.label, r.members, yuan(r.paid_fen), percent(r.share)] for r in rows],
                           actions=actions if save_url else ())]
    return report, None


def rfm_segment_save(request: HttpRequest) -> HttpResponse:
    """保存为人群 on an RFM group: a segment with that group's rule, evaluated at once."""
    group = request.POST.get("group", "")
    back = reverse("admin:analytics_dailykpi_rfm")
    if group not in RFM_GROUPS:
        messages.error(request, "未知的 RFM 分组")
        return HttpResponseRedirect(back)
    name = f"RFM：{RFM_GROUPS[group][1]}"
    segment = Segment.objects.filter(name=name).first() or Segment(name=name)
    segment.rules = {"all": [{"type": "rfm", "groups": [group]}]}
    segment.description = "由 RFM 分析保存"
    segment_save(segment=segment)
    count = segment_evaluate(segment_id=segment.pk)
    messages.success(request, format_html('已保存会员人群「<a href="{}">{}</a>」：{} 位会员。',
                                          reverse("admin:members_segment_change", args=[segment.pk]), name, count))
    return HttpResponseRedirect(back)
