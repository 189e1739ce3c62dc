"""`track()`: how every app records a domain event, without knowing who stores it.

The events table belongs to analytics, which sits above every app (it reads them all), so the
apps cannot import it. core holds the port instead: `track()` collects the event and, once the
surrounding transaction commits, hands it to the one recorder registered at start-up
(analytics registers the one that inserts its Event rows, in its AppConfig.ready()).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackedEvent:
    """One domain event as the app saw it: its id and time are fixed when track() is called."""

    name: str
    member_id: int | None
    anonymous_id: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: dt.datetime = field(default_factory=timezone.now)
    properties: dict[str, Any] = field(default_factory=dict)


Recorder = Callable[[TrackedEvent], None]

_recorder: Recorder | None = None
_on_lost: Recorder | None = None


def recorder_register(recorder: Recorder, *, on_lost: Recorder | None = None) -> None:
    """Make `recorder` the one that stores tracked events from now on (a later call replaces it).
    It must write atomically on its own (one statement, or its own transaction): after a commit it
    runs in autocommit.

    `on_lost` is told of each event the recorder failed to store, after its failed attempt rolled
    back, so the loss is counted somewhere that still works (its own failure is logged too).
    """
    global _recorder, _on_lost
    _recorder, _on_lost = recorder, on_lost


def track(name: str, *, member_id: int | None = None, anonymous_id: str = "",
          properties: dict[str, Any] | None = None) -> None:
    """Record a domain event once the surrounding transaction commits (never if it rolls back).

    The insert runs outside the caller's transaction and locks, and a failure to record is
    logged, never raised: analytics must not break a purchase.
    """
    event = TrackedEvent(name=name, member_id=member_id, anonymous_id=anonymous_id,
                         properties=dict(properties or {}))
    transaction.on_commit(lambda: _record(event))


def _record(event: TrackedEvent) -> None:
    recorder = _recorder
    if recorder is None:
        logger.warning("no event recorder registered: event %s dropped", event.name)
        return
    try:
        if transaction.get_connection().in_atomic_block:
            # A savepoint: a failed insert rolls back alone where this callback runs inside an
            # outer block (tests wrap everything in one) and leaves that block usable.
            with transaction.atomic():
                recorder(event)
        else:
            # After the commit, in autocommit: the recorder's one statement is its own transaction
            # (a block here would add BEGIN and COMMIT, and the commit's wait for the disk, to every
            # tracked event of a request).
            recorder(event)
    except Exception:  # recording is best effort by design: never break the caller
        logger.exception("could not record event %s", event.name)
        _count_lost(event)


def _count_lost(event: TrackedEvent) -> None:
    on_lost = _on_lost
    if on_lost is None:
        return
    try:
        with transaction.atomic():
            on_lost(event)
    except Exception:
        logger.exception("could not count the lost event %s", event.name)
