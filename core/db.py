"""Transaction guards for functions whose contract is "runs in the caller's transaction", and
handing rows just written to the caller without reading them back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Model


class TransactionRequired(RuntimeError):
    """A function that must share its caller's transaction (row locks, all-or-nothing) was called
    outside one: a programming error, never a shopper's."""


def require_transaction(what: str) -> None:
    """Raise TransactionRequired unless a transaction is open.

    Without it a `select_for_update()` lock ends with its own statement and a multi-row change can
    be half-done, so every function documented as running in the caller's transaction calls this
    first.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionRequired(f"{what} must run inside the caller's transaction")


def attach_prefetched(instance: Model, related_name: str, rows: Iterable[Model]) -> None:
    """Make `instance.<related_name>.all()` answer `rows` without a query, as prefetch_related()
    would have: for rows a service has just written, so the caller can render them without
    reading them back. `rows` must be exactly the related rows (all of them, in display order);
    `related_name` a reverse foreign key's accessor (its prefetch cache is named after it)."""
    queryset: Any = getattr(instance, related_name).all()  # lazy: no query
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[related_name] = queryset
