"""Helpers for analytics tests: sent events as the mini-program makes them, and stored histories."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from django.utils import timezone

from analytics.models import DeviceMember, Event, EventSource

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_numbers = itertools.count(1)


def sent(name: str = "page_view", *, at: dt.datetime | None = None, event_id: str | None = None,
         **properties: Any) -> dict[str, Any]:
    """One event as the mini-program sends it (page_view needs a path: one is given by default)."""
    if name == "page_view":
        properties.setdefault("path", "pages/index/index")
    at = at or timezone.now()
    return {"event_id": event_id or str(uuid.uuid4()), "name": name, "time": int(at.timestamp() * 1000),
            "properties": properties}


def batch(events: list[dict[str, Any]], *, device_id: str = "device-0001", **context: Any) -> dict[str, Any]:
    return {"device_id": device_id, "context": {"platform": "ios", **context}, "events": events}


def at(day: str, time: str = "10:00") -> dt.datetime:
    """A Shanghai wall-clock time: at("2026-11-02", "23:59")."""
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)


def stored(name: str, when: dt.datetime, *, device: str = "", member: int | None = None,
           **properties: Any) -> Event:
    """An event already in the table, as a constructed history needs it."""
    return Event.objects.create(name=name, occurred_at=when, received_at=when, anonymous_id=device,
                                member_id=member, properties=properties,
                                source=EventSource.CLIENT if device else EventSource.SERVER)


def linked(device: str, member: int) -> DeviceMember:
    return DeviceMember.objects.create(anonymous_id=device, member_id=member)
