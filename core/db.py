"""Transaction guards for functions whose contract is "runs in the caller's transaction"."""

from __future__ import annotations

from django.db import transaction


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
