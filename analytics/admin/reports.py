"""The 数据 section's report pages: one shape for all of them.

A page is a `Report`: a date range form, number cards (with the previous period beside them),
charts (ECharts options built here, drawn by analytics/reports.js from the project's static
files) and tables. Every table exports to CSV or XLSX with `?export=csv|xlsx&table=<key>`,
the same rows the page shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.utils import timezone
from openpyxl import Workbook

from core.regions import PROVINCES

MAX_DAYS = 400
# Map data a chart may draw on (a `map` series or `geo`), vendored under static/ (vendor/README.md):
# name → file. reports.js registers the file under the name before drawing the chart.
MAPS = {"china": "analytics/vendor/china-map-echarts-4.9.0/china.json"}


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    previous: str = ""
    change: str = ""  # "+12.5%" / "-3.0%", against the previous period


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    option: dict[str, Any]
    height: int = 300
    wide: bool = False
    map: str = ""  # a key of MAPS the option draws on

    def script_data(self) -> dict[str, Any]:
        """What reports.js gets: the option, and where the map it draws on is served."""
        data: dict[str, Any] = {"key": self.key, "option": self.option}
        if self.map:
            data["map"] = {"name": self.map, "url": static(MAPS[self.map])}
        return data


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""
    # Per row, a form the page shows at the row's end (e.g. 保存为人群): {"label", "fields": {...}}.
    actions: Sequence[dict[str, Any] | None] = ()

    def lines(self) -> list[tuple[Sequence[Any], dict[str, Any] | None]]:
        """Each row with its action (None where it has none), for the template."""
        actions = list(self.actions)
        return [(row, actions[i] if i < len(actions) else None) for i, row in enumerate(self.rows)]


@dataclass
class Report:
    title: str
    cards: list[Card] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""


class RangeForm(forms.Form):
    first = forms.DateField(label="开始日期", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="结束日期", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first and last and (last < first or (last - first).days >= MAX_DAYS):
            raise forms.ValidationError(f"结束日期须不早于开始日期，且跨度不超过 {MAX_DAYS} 天")
        return data


def date_range(request: HttpRequest, *, days: int = 30, form_class: type[RangeForm] = RangeForm,
               **initial: Any) -> tuple[RangeForm, dt.date, dt.date]:
    """The range the page asks for (default: the last `days` days up to yesterday) and its form."""
    last = timezone.localdate() - dt.timedelta(days=1)
    defaults = {"first": last - dt.timedelta(days=days - 1), "last": last, **initial}
    data = {key: request.GET.get(key, str(value) if value is not None else "") for key, value in defaults.items()}
    form = form_class(data)
    if form.is_valid():
        return form, form.cleaned_data["first"], form.cleaned_data["last"]
    return form, defaults["first"], defaults["last"]


def previous_range(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length just before."""
    length = (last - first).days + 1
    return first - dt.timedelta(days=length), first - dt.timedelta(days=1)


def change_text(now: float | Decimal, before: float | Decimal) -> str:
    if not before:
        return ""
    ratio = (Decimal(now) - Decimal(before)) / Decimal(before) * 100
    return f"{ratio:+.1f}%"


def percent(value: Decimal | float | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.1f}%"


def cell_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def export(table: Table, fmt: str, filename: str) -> HttpResponse:
    """The table as a CSV (UTF-8 with BOM, so Excel reads the Chinese) or an XLSX download."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = table.title[:31]
        sheet.append(list(table.headers))
        for row in table.rows:
            sheet.append([cell_text(value) for value in row])
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(buffer.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(table.headers)
        writer.writerows(table.rows)
        response = HttpResponse("\ufeff" + text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename={filename}.{'xlsx' if fmt == 'xlsx' else 'csv'}"
    return response


def render(request: HttpRequest, report: Report, *, form: forms.Form | None, opts: Any,
           filename: str, extra: dict[str, Any] | None = None) -> HttpResponse:
    """The page, or one of its tables exported when the request asks for it."""
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        key = request.GET.get("table", "")
        table = next((t for t in report.tables if t.key == key), report.tables[0] if report.tables else None)
        if table is not None:
            return export(table, fmt, f"{filename}-{table.key}")
    query = request.GET.copy()
    query.pop("export", None)
    query.pop("table", None)
    context = {
        **admin.site.each_context(request),
        "title": report.title,
        "opts": opts,
        "report": report,
        "form": form,
        "charts": [c.script_data() for c in report.charts],
        "query": query.urlencode(),
        **(extra or {}),
    }
    return TemplateResponse(request, "admin/analytics/report.html", context)


def line_chart(key: str, title: str, x: Sequence[str], series: dict[str, Sequence[Any]], *,
               wide: bool = False, bar: bool = False, smooth: bool = True) -> Chart:
    """Lines (or bars) of the series over x. `smooth=False` for rates read point by point: a smoothed
    line bulges past the points between them (a retention curve seemed to rise again)."""
    return Chart(key, title, {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "right": 0},
        "grid": {"left": 56, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": list(x)},
        "yAxis": {"type": "value"},
        "series": [{"name": name, "type": "bar" if bar else "line", "data": [cell_text(v) for v in values],
                    "smooth": smooth and not bar, "barMaxWidth": 28} for name, values in series.items()],
    }, wide=wide)


def pie_chart(key: str, title: str, items: Sequence[tuple[str, int]]) -> Chart:
    """A ring of the items' shares; empty items are left out."""
    return Chart(key, title, {"tooltip": {"trigger": "item"}, "legend": {"bottom": 0, "type": "scroll"},
                              "series": [{"type": "pie", "radius": ["35%", "65%"],
                                          "data": [{"name": k, "value": v} for k, v in items if v]}]})


def china_map_chart(key: str, title: str, counts: dict[str, int], *, unit: str = "人") -> Chart:
    """A China province map coloured by `counts` (keyed by the short names, core.regions.PROVINCES):
    every province is drawn, those without a count as 0, on the vendored offline map."""
    return Chart(key, title, {
        "tooltip": {"trigger": "item", "formatter": f"{{b}}：{{c}} {unit}"},
        "visualMap": {"min": 0, "max": max([1, *counts.values()]), "left": 16, "bottom": 16, "text": ["多", "少"],
                      "calculable": True, "inRange": {"color": ["#e0ecff", "#1d4ed8"]}},
        "series": [{"type": "map", "map": "china", "name": title, "roam": False, "top": 16, "bottom": 16,
                    "label": {"show": False}, "emphasis": {"label": {"show": True}},
                    "data": [{"name": name, "value": counts.get(name, 0)} for name in PROVINCES]}],
    }, height=520, wide=True, map="china")
