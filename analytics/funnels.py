"""Funnels: steps written one per line, and how a person's events pass through them.

The console takes a funnel's steps as text, one step per line: the event name, then filters on
its properties (values are compared as text, numbers with >= and <= as numbers):

    product_view category=母婴
    add_to_cart
    checkout_start
    order_paid payable_fen>=10000

Operators: `=`, `!=`, `~` (contains), `>=`, `<=`; `a=x|y` means any of x, y.

A person (analytics.people) converts through step k when, after entering the funnel at step 1
within the date range, they do step 2 after step 1, step 3 after step 2, … each within the window
from their step-1 time (the window's end included). Steps must happen in the funnel's order; other
events in between do not matter. A person who enters several times is counted once, by the entry
that goes furthest (the earliest of those), and the times between steps are that entry's.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed

OPERATORS = ("!=", ">=", "<=", "=", "~")
MAX_STEPS = 8
EVENT_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")
PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FILTER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(!=|>=|<=|=|~)(.+)$")


def steps_parse(text: str) -> list[dict[str, Any]]:
    """The steps of the console's text (see the module docstring); ValidationFailed names the bad line."""
    steps = []
    for number, line in enumerate((line.strip() for line in text.splitlines()), start=1):
        if not line:
            continue
        event, *filters = line.split()
        if not EVENT_NAME.match(event):
            raise ValidationFailed(f"第 {number} 行：事件名 {event[:64]} 不合法", code="invalid_funnel")
        parsed = []
        for text_filter in filters:
            match = _FILTER.match(text_filter)
            if match is None:
                raise ValidationFailed(f"第 {number} 行：条件 {text_filter[:64]} 应写成 属性=值", code="invalid_funnel")
            key, op, value = match.groups()
            if op in (">=", "<="):
                try:
                    float(value)
                except ValueError:
                    raise ValidationFailed(f"第 {number} 行：{key}{op} 后须为数字", code="invalid_funnel") from None
            parsed.append({"property": key, "op": op, "value": value[:200]})
        steps.append({"event": event, "filters": parsed})
    if not 2 <= len(steps) <= MAX_STEPS:
        raise ValidationFailed(f"漏斗须有 2 到 {MAX_STEPS} 步", code="invalid_funnel")
    return steps


def steps_text(steps: Sequence[dict[str, Any]]) -> str:
    """The console's text of parsed steps (steps_parse's inverse)."""
    return "\n".join(" ".join([step["event"], *(f"{f['property']}{f['op']}{f['value']}" for f in step["filters"])])
                     for step in steps)


def step_label(step: dict[str, Any], labels: dict[str, str]) -> str:
    name = labels.get(step["event"], step["event"])
    conditions = " ".join(f"{f['property']}{f['op']}{f['value']}" for f in step["filters"])
    return f"{name}（{conditions}）" if conditions else name


def step_sql(step: dict[str, Any]) -> tuple[str, list[Any]]:
    """A SQL condition on analytics_event `e` that is true for the events of `step`."""
    clauses = ["e.name = %s"]
    params: list[Any] = [step["event"]]
    for condition in step["filters"]:
        key, op, value = condition["property"], condition["op"], condition["value"]
        text = "e.properties ->> %s"
        if op == "=":
            clauses.append(f"{text} = ANY(%s)")
            params += [key, value.split("|")]
        elif op == "!=":
            clauses.append(f"({text} IS NULL OR NOT {text} = ANY(%s))")
            params += [key, key, value.split("|")]
        elif op == "~":
            clauses.append(f"strpos({text}, %s) > 0")
            params += [key, value]
        else:
            number = "CASE WHEN jsonb_typeof(e.properties -> %s) = 'number' THEN (e.properties ->> %s)::numeric END"
            clauses.append(f"{number} {op} %s")
            params += [key, key, float(value)]
    return "(" + " AND ".join(clauses) + ")", params


@dataclass(frozen=True)
class Passage:
    """How far one person got: the steps reached (1..n) and the time of each."""

    reached: int
    times: tuple[dt.datetime, ...]


def passage(occurrences: Sequence[Sequence[dt.datetime]], *, window: dt.timedelta,
            start: dt.datetime, end: dt.datetime) -> Passage | None:
    """The best passage of one person through the steps, or None if they did not enter in [start, end).

    `occurrences[k]` are the person's times of step k+1, sorted. Each entry (a step-1 time in the
    range) is followed greedily: the earliest next step after the previous one, within the window
    of the entry; the entry going furthest wins, the earliest among equals.
    """
    best: Passage | None = None
    for entered in occurrences[0]:
        if not start <= entered < end:
            continue
        limit = entered + window
        times = [entered]
        for later in occurrences[1:]:
            at = bisect_right(later, times[-1])
            if at == len(later) or later[at] > limit:
                break
            times.append(later[at])
        if best is None or len(times) > best.reached:
            best = Passage(reached=len(times), times=tuple(times))
            if best.reached == len(occurrences):
                break
    return best
