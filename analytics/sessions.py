"""Visits: a person's run of mini-program events with no gap over 30 minutes (the common web
analytics session, and the default of the SDKs the mini-program may use)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import TypeVar

VISIT_GAP = dt.timedelta(minutes=30)
T = TypeVar("T")


def visits(rows: Iterable[tuple[dt.datetime, T]]) -> Iterator[list[T]]:
    """Split one person's (time, item) rows, in time order, into visits of items."""
    current: list[T] = []
    last: dt.datetime | None = None
    for at, item in rows:
        if last is not None and at - last > VISIT_GAP:
            yield current
            current = []
        current.append(item)
        last = at
    if current:
        yield current
