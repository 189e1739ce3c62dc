"""Writes of analytics: storing the events the apps track."""

from __future__ import annotations

from analytics.models import Event
from core.tracking import TrackedEvent


def event_record(event: TrackedEvent) -> None:
    """Insert one tracked event. Registered with core.tracking at start-up, so it runs after the
    tracking transaction committed; core logs what it raises instead of passing it on."""
    Event.objects.create(event_id=event.event_id, name=event.name, member_id=event.member_id,
                         anonymous_id=event.anonymous_id, properties=event.properties,
                         occurred_at=event.occurred_at)
