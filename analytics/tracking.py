"""`track()`: the one entry point other apps use. It only records, after commit."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def track(name: str, *, member_id: int | None = None, anonymous_id: str = "",
          properties: dict[str, Any] | None = None) -> None:
    """Record a domain event once the surrounding transaction commits (never if it rolls back).

    The insert runs outside the caller's transaction and locks, and a failure to record is
    logged, never raised: analytics must not break a purchase.
    """
    event_id = uuid.uuid4()
    occurred_at = timezone.now()

    def record() -> None:
        from analytics.models import Event

        try:
            Event.objects.create(event_id=event_id, name=name, member_id=member_id,
                                 anonymous_id=anonymous_id, properties=properties or {},
                                 occurred_at=occurred_at)
        except Exception:  # recording is best effort by design: never break the caller
            logger.exception("could not record event %s", name)

    transaction.on_commit(record)
