"""Funnel reports: people per step, conversion, median time between steps, breakdowns, drop-offs.

The rules of passage are analytics.funnels'. One query reads the events matching any step (plus
the entry events when the breakdown is by channel) for the range and the window after it,
people resolved through the device-to-member links, so browsing anonymously, logging in and
paying is one person's passage.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from typing import Any

from django.db import connections
from django.utils import timezone

from analytics.catalogue import CATALOGUE
from analytics.channels import ENTRY_EVENTS, UNKNOWN, channel_label, channel_of
from analytics.funnels import Passage, passage, step_label, step_sql
from analytics.models import Funnel
from analytics.people import EVENTS_WITH_PEOPLE, PERSON, people_seen_before
from analytics.routers import analytics_db, reports_db
from members.models import Member

BREAKDOWNS = {"channel": "渠道", "platform": "平台", "visitor": "新老访客", "tier": "会员等级"}
PLATFORM_LABELS = {"ios": "iOS", "android": "Android", "windows": "Windows", "mac": "Mac", "devtools": "开发者工具",
                   "": "未知"}
SERVER_EVENT_LABELS = {"order_placed": "提交订单", "order_paid": "支付订单", "order_refunded": "退款",
                       "coupon_issued": "获得优惠券", "member_registered": "注册", "member_login": "登录",
                       "channel_scanned": "扫渠道码"}
EVENT_LABELS = {**{name: spec.label for name, spec in CATALOGUE.items()}, **SERVER_EVENT_LABELS}


@dataclass(frozen=True)
class StepFigures:
    label: str
    people: int
    from_previous: Decimal | None  # None for the first step
    from_first: Decimal | None
    median_seconds: float | None  # from the previous step; None for the first step or nobody


@dataclass(frozen=True)
class FunnelReport:
    first: dt.date
    last: dt.date
    steps: list[StepFigures]
    breakdown: list[tuple[str, list[StepFigures]]]


@dataclass(frozen=True)
class _Person:
    key: str
    passage: Passage
    attrs: dict[str, str]


def day_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    return (dt.datetime.combine(first, dt.time(), tzinfo=zone),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone))


def _people(funnel: Funnel, first: dt.date, last: dt.date, *, breakdown: str | None) -> list[_Person]:
    start, end = day_range(first, last)
    window = dt.timedelta(hours=funnel.window_hours)
    steps = funnel.steps
    conditions = [step_sql(step) for step in steps]
    matches = ", ".join(sql for sql, _ in conditions)
    params: list[Any] = [param for _, step_params in conditions for param in step_params]
    wanted = " OR ".join(sql for sql, _ in conditions)
    wanted_params = list(params)
    with_entry = breakdown == "channel"
    entry_sql = "CASE WHEN e.name = ANY(%s) THEN e.properties END" if with_entry else "NULL"
    entry_params: list[Any] = [list(ENTRY_EVENTS)] if with_entry else []
    if with_entry:
        wanted += " OR e.name = ANY(%s)"
        wanted_params.append(list(ENTRY_EVENTS))
    sql = (f"SELECT {PERSON}, e.occurred_at, e.platform, ARRAY[{matches}], {entry_sql} "
           f"FROM {EVENTS_WITH_PEOPLE} "
           f"WHERE e.occurred_at >= %s AND e.occurred_at <= %s AND ({wanted}) AND {PERSON} IS NOT NULL "
           f"ORDER BY 1, e.occurred_at, e.id")
    lookback = dt.timedelta(days=1) if with_entry else dt.timedelta(0)
    found: list[_Person] = []
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(sql, [*params, *entry_params, start - lookback, end + window, *wanted_params])
        for person, rows in groupby(cursor.fetchall(), key=lambda row: row[0]):
            found_person = _passage_of(person, list(rows), len(steps), window=window, start=start, end=end)
            if found_person is not None:
                found.append(found_person)
        if breakdown == "visitor":
            returning = people_seen_before(cursor, people=[p.key for p in found], before=start)
            for p in found:
                p.attrs["visitor"] = "老访客" if p.key in returning else "新访客"
    if breakdown == "tier":
        members = [int(p.key[1:]) for p in found if p.key.startswith("m")]
        tiers = dict(Member.objects.using(reports_db()).filter(pk__in=members).values_list("pk", "tier__name"))
        for p in found:
            p.attrs["tier"] = (tiers.get(int(p.key[1:])) or "普通会员") if p.key.startswith("m") else "未登录"
    return found


def _passage_of(person: str, rows: list[tuple[Any, ...]], n_steps: int, *, window: dt.timedelta,
                start: dt.datetime, end: dt.datetime) -> _Person | None:
    occurrences: list[list[dt.datetime]] = [[] for _ in range(n_steps)]
    platforms: dict[dt.datetime, str] = {}
    channels: list[tuple[dt.datetime, str]] = []
    for _, occurred_at, platform, matched, entry in rows:
        if entry is not None and (channel := channel_of(json.loads(entry))) is not None:
            channels.append((occurred_at, channel))
        for index, hit in enumerate(matched):
            if hit:
                occurrences[index].append(occurred_at)
                if index == 0:
                    platforms.setdefault(occurred_at, platform)
    found = passage(occurrences, window=window, start=start, end=end)
    if found is None:
        return None
    entered = found.times[0]
    channel = next((c for at, c in reversed(channels) if at <= entered), UNKNOWN)
    attrs = {"platform": PLATFORM_LABELS.get(platforms.get(entered, ""), platforms.get(entered, "")),
             "channel": channel_label(channel)}
    return _Person(key=person, passage=found, attrs=attrs)


def _figures(funnel: Funnel, people: Sequence[_Person]) -> list[StepFigures]:
    steps = funnel.steps
    counts = [sum(1 for p in people if p.passage.reached > k) for k in range(len(steps))]
    figures = []
    for k, step in enumerate(steps):
        gaps = [(p.passage.times[k] - p.passage.times[k - 1]).total_seconds()
                for p in people if k and p.passage.reached > k]
        figures.append(StepFigures(
            label=step_label(step, EVENT_LABELS), people=counts[k],
            from_previous=_rate(counts[k], counts[k - 1]) if k else None,
            from_first=_rate(counts[k], counts[0]) if k else None,
            median_seconds=statistics.median(gaps) if gaps else None))
    return figures


def _rate(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def funnel_report(*, funnel: Funnel, first: dt.date, last: dt.date, breakdown: str | None = None) -> FunnelReport:
    """The funnel over people entering it on the Shanghai days `first`..`last`, optionally broken
    down (BREAKDOWNS: the group of each person at their entry), groups by size."""
    people = _people(funnel, first, last, breakdown=breakdown)
    groups: list[tuple[str, list[StepFigures]]] = []
    if breakdown:
        by_value: dict[str, list[_Person]] = defaultdict(list)
        for p in people:
            by_value[p.attrs.get(breakdown, "未知")].append(p)
        groups = [(value, _figures(funnel, members))
                  for value, members in sorted(by_value.items(), key=lambda item: (-len(item[1]), item[0]))]
    return FunnelReport(first=first, last=last, steps=_figures(funnel, people), breakdown=groups)


def funnel_dropoffs(*, funnel: Funnel, first: dt.date, last: dt.date, step: int) -> tuple[list[int], int]:
    """Who reached step `step` - 1 but not step `step` (2..n): the member ids, sorted, and how many
    of the people dropping there were anonymous devices (never logged in, so not reachable)."""
    if not 2 <= step <= len(funnel.steps):
        raise ValueError(f"step {step} is not in 2..{len(funnel.steps)}")
    dropped = [p.key for p in _people(funnel, first, last, breakdown=None) if p.passage.reached == step - 1]
    members = sorted(int(key[1:]) for key in dropped if key.startswith("m"))
    return members, len(dropped) - len(members)
