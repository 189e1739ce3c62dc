"""Writes of analytics: storing the events the apps track, forgetting a deleted member's."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from analytics.models import Event
from core.tracking import TrackedEvent


def event_record(event: TrackedEvent) -> None:
    """Insert one tracked event. Registered with core.tracking at start-up, so it runs after the
    tracking transaction committed; core logs what it raises instead of passing it on."""
    Event.objects.create(event_id=event.event_id, name=event.name, member_id=event.member_id,
                         anonymous_id=event.anonymous_id, properties=event.properties,
                         occurred_at=event.occurred_at)


def events_forget_member(*, member_id: int) -> int:
    """A deleted member's events lose who did them: the member id and every anonymous id (device)
    seen with it are cleared, so no event can be tied back to the person, before or after login.
    The events stay, nameless, for the counts and funnels. Idempotent. A member-deleted hook
    (settings.MEMBER_DELETED_HOOKS), after the deletion committed. Returns the events changed.
    """
    with transaction.atomic(durable=True):
        devices = list(Event.objects.filter(member_id=member_id).exclude(anonymous_id="")
                       .values_list("anonymous_id", flat=True).distinct())
        return Event.objects.filter(Q(member_id=member_id) | Q(anonymous_id__in=devices)).update(
            member_id=None, anonymous_id="")
