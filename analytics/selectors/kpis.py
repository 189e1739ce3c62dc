"""Daily KPIs read from the rollups (DailyKpi): per day, per channel, new vs returning.

Every figure of DailyKpi adds up across cells (analytics.services.rollups), so a day's total, a
channel's or the new visitors' is a plain SUM; the ratios (time per visit, bounce rate, average
order value, conversion) are computed from the sums, never averaged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet, Sum

from analytics.channels import CODE_PREFIX, channel_label
from analytics.models import DailyKpi

SUMMED = ("visits", "page_views", "visitors", "new_visitors", "stay_seconds", "bounces", "shares", "sharers",
          "ordering_members", "orders", "paying_members", "paid_orders", "paid_fen", "refunded_fen",
          "paying_visitors")


@dataclass(frozen=True)
class Kpis:
    """Summed figures of some cells, with the We分析 and mall ratios derived from them."""

    visits: int = 0
    page_views: int = 0
    visitors: int = 0
    new_visitors: int = 0
    stay_seconds: int = 0
    bounces: int = 0
    shares: int = 0
    sharers: int = 0
    ordering_members: int = 0
    orders: int = 0
    paying_members: int = 0
    paid_orders: int = 0
    paid_fen: int = 0
    refunded_fen: int = 0
    paying_visitors: int = 0

    @property
    def net_fen(self) -> int:
        return self.paid_fen - self.refunded_fen

    @property
    def seconds_per_visit(self) -> Decimal:
        return _ratio(self.stay_seconds, self.visits)

    @property
    def seconds_per_visitor(self) -> Decimal:
        return _ratio(self.stay_seconds, self.visitors)

    @property
    def bounce_rate(self) -> Decimal:
        return _ratio(self.bounces, self.visits, places=4)

    @property
    def average_order_fen(self) -> int:
        return int(_ratio(self.paid_fen, self.paid_orders, places=0))

    @property
    def visitor_to_payer(self) -> Decimal:
        return _ratio(self.paying_visitors, self.visitors, places=4)


def _ratio(part: int, whole: int, *, places: int = 1) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _cells(first: dt.date, last: dt.date, *, channel: str | None = None, is_new: bool | None = None) -> QuerySet:
    cells = DailyKpi.objects.filter(day__gte=first, day__lte=last)
    if channel == "code":
        cells = cells.filter(channel__startswith=CODE_PREFIX)
    elif channel:
        cells = cells.filter(channel=channel)
    if is_new is not None:
        cells = cells.filter(is_new=is_new)
    return cells


def _kpis(row: dict) -> Kpis:
    return Kpis(**{name: row.get(name) or 0 for name in SUMMED})


def kpi_total(*, first: dt.date, last: dt.date, channel: str | None = None, is_new: bool | None = None) -> Kpis:
    """The figures of the days `first`..`last` summed (one query)."""
    row = _cells(first, last, channel=channel, is_new=is_new).aggregate(**{name: Sum(name) for name in SUMMED})
    return _kpis(row)


def kpi_daily(*, first: dt.date, last: dt.date, channel: str | None = None,
              is_new: bool | None = None) -> list[tuple[dt.date, Kpis]]:
    """One Kpis per day from `first` to `last`, days without rows as zeros (one query)."""
    rows = {row["day"]: _kpis(row) for row in _cells(first, last, channel=channel, is_new=is_new)
            .values("day").annotate(**{name: Sum(name) for name in SUMMED})}
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day, rows.get(day, Kpis())) for day in days]


def kpi_by_channel(*, first: dt.date, last: dt.date) -> list[tuple[str, str, Kpis]]:
    """(channel, its label, figures) for each channel seen in the range, most visitors first."""
    rows = (_cells(first, last).values("channel").annotate(**{name: Sum(name) for name in SUMMED}))
    found = [(row["channel"], channel_label(row["channel"]), _kpis(row)) for row in rows]
    return sorted(found, key=lambda item: (-item[2].visitors, item[0]))
