"""转化漏斗: operators define funnels (one line per step), read them over a range with a breakdown
and a second range to compare, and save the people lost at a step as a member segment, which
定向发券 then reaches."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from analytics.admin.reports import Chart, RangeForm, Report, Table, date_range, percent, render
from analytics.funnels import steps_parse, steps_text
from analytics.models import Funnel
from analytics.selectors.funnels import BREAKDOWNS, FunnelReport, StepFigures, funnel_report
from analytics.services.segments import funnel_dropoffs_save
from core.admin import request_operator
from core.errors import DomainError
from core.jobs import enqueue_after_commit


class FunnelForm(forms.ModelForm):
    steps_text = forms.CharField(
        label="步骤", widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text="每行一步：事件名，后接属性条件（空格分隔）。条件写法：属性=值（多个值用 | 分隔）、属性!=值、"
                  "属性~包含、属性>=数字、属性<=数字。例：product_view category=母婴 / add_to_cart / checkout_start / "
                  "order_paid")

    class Meta:
        model = Funnel
        fields = ["name", "window_hours", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["steps_text"].initial = steps_text(self.instance.steps)

    def clean_steps_text(self) -> list[dict[str, Any]]:
        try:
            return steps_parse(self.cleaned_data["steps_text"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def save(self, commit: bool = True) -> Funnel:
        self.instance.steps = self.cleaned_data["steps_text"]
        return super().save(commit)


class FunnelRangeForm(RangeForm):
    breakdown = forms.ChoiceField(label="细分", required=False, choices=[("", "不细分"), *BREAKDOWNS.items()])
    compare_first = forms.DateField(label="对比开始", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    compare_last = forms.DateField(label="对比结束", required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _median(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.1f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _funnel_chart(key: str, title: str, steps: list[StepFigures]) -> Chart:
    return Chart(key, title, {
        "tooltip": {"trigger": "item"},
        "series": [{"type": "funnel", "sort": "none", "left": "5%", "width": "55%", "gap": 2, "minSize": "8%",
                    "label": {"show": True, "position": "right", "formatter": "{b}：{c} 人"},
                    "data": [{"name": s.label, "value": s.people} for s in steps]}]})


@admin.register(Funnel)
class FunnelAdmin(admin.ModelAdmin):
    form = FunnelForm
    list_display = ["name", "steps_summary", "window_hours", "report_link"]
    fields = ["name", "steps_text", "window_hours", "description"]

    def save_model(self, request: HttpRequest, obj: Funnel, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Its reports work out every day from the events until the job has kept them again.
        enqueue_after_commit("analytics.tasks.rollup_funnel", obj.pk, robust=True)

    @admin.display(description="步骤")
    def steps_summary(self, funnel: Funnel) -> str:
        return " → ".join(step["event"] for step in funnel.steps)

    @admin.display(description="报表")
    def report_link(self, funnel: Funnel) -> str:
        return format_html('<a href="{}">查看漏斗</a>', reverse("admin:analytics_funnel_report", args=[funnel.pk]))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:funnel_id>/report/", wrap(self.report_view), name="analytics_funnel_report"),
            path("<int:funnel_id>/dropoffs/", wrap(self.dropoffs_view), name="analytics_funnel_dropoffs"),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest, funnel_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        funnel = get_object_or_404(Funnel, pk=funnel_id)
        form, first, last = date_range(request, days=7, form_class=FunnelRangeForm, breakdown="",
                                       compare_first=None, compare_last=None)
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        breakdown = data.get("breakdown") or None
        result = funnel_report(funnel=funnel, first=first, last=last, breakdown=breakdown)
        compare = None
        if data.get("compare_first") and data.get("compare_last") and data["compare_first"] <= data["compare_last"]:
            compare = funnel_report(funnel=funnel, first=data["compare_first"], last=data["compare_last"])
        may_save = request.user.has_perm("members.add_segment")
        report = _report(funnel, result, compare, breakdown=breakdown, save_url=(
            reverse("admin:analytics_funnel_dropoffs", args=[funnel.pk]) if may_save else None))
        return render(request, report, form=form, opts=self.opts, filename=f"funnel-{funnel.pk}")

    def dropoffs_view(self, request: HttpRequest, funnel_id: int) -> HttpResponse:
        """保存为人群: the members lost at a step become a segment (one POST from the report)."""
        if request.method != "POST" or not (self.has_view_permission(request)
                                             and request.user.has_perm("members.add_segment")):
            raise PermissionDenied
        funnel = get_object_or_404(Funnel, pk=funnel_id)
        back = reverse("admin:analytics_funnel_report", args=[funnel.pk])
        try:
            first = dt.date.fromisoformat(request.POST.get("first", ""))
            last = dt.date.fromisoformat(request.POST.get("last", ""))
            step = int(request.POST.get("step", ""))
        except ValueError:
            messages.error(request, "参数有误")
            return HttpResponseRedirect(back)
        query = urlencode({"first": first, "last": last})
        try:
            saved = funnel_dropoffs_save(funnel=funnel, first=first, last=last, step=step,
                                         operator=request_operator(request))
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(f"{back}?{query}")
        wizard = reverse("admin:campaigns_targetedissue_wizard")
        messages.success(request, format_html(
            '已保存会员人群「<a href="{}">{}</a>」：{} 位会员（另有 {} 位未登录访客无法触达）。'
            '<a href="{}?target=segment&segment={}">去定向发券</a>',
            reverse("admin:members_segment_change", args=[saved.segment.pk]), saved.segment.name,
            saved.members, saved.anonymous, wizard, saved.segment.pk))
        return HttpResponseRedirect(f"{back}?{query}")


def _report(funnel: Funnel, result: FunnelReport, compare: FunnelReport | None, *, breakdown: str | None,
            save_url: str | None) -> Report:
    title = f"转化漏斗：{funnel.name}"
    steps = result.steps
    report = Report(title=title, note=(
        f"进入漏斗：{result.first}~{result.last} 内完成第 1 步的人；之后各步须按顺序、"
        f"在第 1 步后 {funnel.window_hours} 小时内完成（含边界）。同一人多次进入只算一次（取走得最远的一次）。"
        "登录前的匿名浏览记在登录后的会员名下。"))
    report.charts = [_funnel_chart("funnel", f"{result.first} ~ {result.last}", steps)]
    if compare is not None:
        report.charts.append(_funnel_chart("compare", f"对比：{compare.first} ~ {compare.last}", compare.steps))
    headers = ["步骤", "人数", "较上一步转化", "较首步转化", "与上一步间隔（中位）"]
    actions: list[dict[str, Any] | None] = [None]
    if save_url:
        actions += [{"url": save_url, "key": f"save-step-{k}", "label": f"保存第 {k} 步流失为人群",
                     "fields": {"first": result.first, "last": result.last, "step": k}}
                    for k in range(2, len(steps) + 1)]
    report.tables = [Table("steps", "各步转化", headers, [
        [f"{k}. {s.label}", s.people, percent(s.from_previous), percent(s.from_first), _median(s.median_seconds)]
        for k, s in enumerate(steps, start=1)], actions=actions if save_url else ())]
    if compare is not None:
        report.tables.append(Table("compare", f"对比 {compare.first}~{compare.last}", headers, [
            [f"{k}. {s.label}", s.people, percent(s.from_previous), percent(s.from_first), _median(s.median_seconds)]
            for k, s in enumerate(compare.steps, start=1)]))
    if breakdown:
        report.tables.append(Table("breakdown", f"按{BREAKDOWNS[breakdown]}细分",
                                   [BREAKDOWNS[breakdown], *[f"第{k}步人数" for k in range(1, len(steps) + 1)],
                                    "总转化"],
                                   [[value, *[s.people for s in group], percent(group[-1].from_first)]
                                    for value, group in result.breakdown]))
    return report
