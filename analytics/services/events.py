"""Writes of analytics' events: the mini-program's batches, the apps' tracked events, forgetting.

Both ways in end in the buffer (analytics.services.storage); the flush stores them. What fails
on the apps' side is counted (EventLoss), never raised: a purchase does not wait on analytics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from analytics.catalogue import ParsedEvent, Refusal, event_parse, platform_of
from analytics.errors import AnalyticsUnavailable
from analytics.models import ActiveDay, DeviceMember, Event, EventBuffer, EventLoss, EventSource, FunnelDay
from analytics.people import member_person
from analytics.routers import analytics_db
from analytics.services.storage import BufferedRow, buffer_append, events_flush
from core.tracking import TrackedEvent

# Platform facts the mini-program may send with a batch (wx.getSystemInfo / getNetworkType), kept
# with each event; anything else in `context` is dropped.
CONTEXT_KEYS = ("os_version", "model", "brand", "wechat_version", "sdk_version", "network", "screen_width",
                "screen_height", "app_version")


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    refused: list[Refusal]


def events_ingest(*, device_id: str, member_id: int | None, context: dict[str, Any],
                  events: Sequence[Any], received_at: dt.datetime | None = None) -> IngestResult:
    """Accept a batch from the mini-program: each event is checked alone; the good ones are buffered
    together (one COPY), the bad ones come back with a reason and change nothing.

    Not idempotent by itself, and need not be: a retried batch buffers its events again and the
    flush keeps each event id once. Raises AnalyticsUnavailable (nothing buffered) when the
    analytics database cannot take the batch, so the client keeps it and retries.
    """
    received_at = received_at or timezone.now()
    platform = platform_of(context.get("platform"))
    facts = {key: context[key] for key in CONTEXT_KEYS
             if isinstance(context.get(key), str | int) and not isinstance(context.get(key), bool)}
    facts = {key: value[:64] if isinstance(value, str) else value for key, value in facts.items()}
    rows: list[BufferedRow] = []
    refused: list[Refusal] = []
    for index, raw in enumerate(events):
        parsed = event_parse(raw, index=index, received_at=received_at)
        if isinstance(parsed, Refusal):
            refused.append(parsed)
            continue
        rows.append(_row(parsed, device_id=device_id, member_id=member_id, received_at=received_at,
                         platform=platform, context=facts))
    try:
        buffer_append(rows)
    except DatabaseError as exc:
        raise AnalyticsUnavailable() from exc
    return IngestResult(accepted=len(rows), refused=refused)


def _row(parsed: ParsedEvent, *, device_id: str, member_id: int | None, received_at: dt.datetime,
         platform: str, context: dict[str, Any]) -> BufferedRow:
    return BufferedRow(event_id=parsed.event_id, name=parsed.name, member_id=member_id, anonymous_id=device_id,
                       properties=parsed.properties, occurred_at=parsed.occurred_at, received_at=received_at,
                       client_time=parsed.client_time, source=EventSource.CLIENT, platform=platform,
                       context=context)


def event_record(event: TrackedEvent) -> None:
    """Buffer one tracked (server) event. Registered with core.tracking at start-up, so it runs after
    the tracking transaction committed; core logs what it raises and calls event_lost."""
    buffer_append([BufferedRow(
        event_id=event.event_id, name=event.name, member_id=event.member_id, anonymous_id=event.anonymous_id,
        properties=event.properties, occurred_at=event.occurred_at, received_at=event.occurred_at,
        client_time=None, source=EventSource.SERVER, platform="", context={})])


def event_lost(event: TrackedEvent) -> None:
    """Count an event that could not be recorded, under its Shanghai day and name (default database)."""
    day = timezone.localdate(event.occurred_at)
    table = EventLoss._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, name, lost) VALUES (%s, %s, 1) "
            f"ON CONFLICT (day, name) DO UPDATE SET lost = {table}.lost + 1", [day, event.name])


def events_forget_member(*, member_id: int) -> int:
    """A deleted member's events lose who did them: the member id and every anonymous id (device)
    seen with it are cleared, so no event can be tied back to the person, before or after login
    (their ActiveDay rows, which name them, go).
    The events stay, nameless, for the counts and funnels. Idempotent. A member-deleted hook
    (settings.MEMBER_DELETED_HOOKS), after the deletion committed. Returns the events changed.

    The buffer is flushed first, so events still waiting in it are forgotten too.
    """
    events_flush()
    alias = analytics_db()
    with transaction.atomic(using=alias, durable=True):
        devices = set(Event.objects.filter(member_id=member_id).exclude(anonymous_id="")
                      .values_list("anonymous_id", flat=True).distinct())
        devices |= set(DeviceMember.objects.filter(member_id=member_id).values_list("anonymous_id", flat=True))
        DeviceMember.objects.filter(Q(member_id=member_id) | Q(anonymous_id__in=devices)).delete()
        # What the rollups kept per person goes too: nameless events have no person in any report.
        ActiveDay.objects.filter(Q(member_id=member_id) | Q(anonymous_id__in=devices)).delete()
        FunnelDay.objects.filter(person__in=[member_person(member_id), *(f"d{device}" for device in devices)]).delete()
        EventBuffer.objects.filter(Q(member_id=member_id) | Q(anonymous_id__in=devices)).update(
            member_id=None, anonymous_id="")
        return Event.objects.filter(Q(member_id=member_id) | Q(anonymous_id__in=devices)).update(
            member_id=None, anonymous_id="")
