"""Idempotency of shopper writes: the same key and body replays the first result.

A write that accepts an `Idempotency-Key` stores it with a hash of the request on the row it
creates, under a unique constraint on (member, key). Before the write, and again when that
constraint refuses an insert because a concurrent twin committed first, the service asks here
for the earlier row.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet

from core.errors import Conflict

T = TypeVar("T")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "该请求标识已用于另一份不同的请求"


def idempotent_replay(rows: QuerySet[Any], *, key: str | None, fingerprint: str) -> Any | None:
    """The row an earlier request with `key` created (within `rows`, already scoped to the
    member), or None. The same key with a different request hash raises IdempotencyKeyReused."""
    if not key:
        return None
    existing = rows.filter(idempotency_key=key).first()
    if existing is not None and existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return existing
