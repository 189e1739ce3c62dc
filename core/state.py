"""The one state-machine primitive: a transition table in code and one locked transition function.

Every aggregate with a lifecycle (order, payment, after-sale, refund, review, card purchase…)
declares a `StateMachine` next to its model and changes its status only through
`machine.transition()`, which

- refuses to run outside a transaction (the row lock would end with its own statement),
- locks the row (`SELECT … FOR UPDATE`),
- treats a repeat — the row is already in the target state — as a no-op (`changed=False`),
- optionally ignores a move backwards (`progress`: a late "processing" answer after "succeeded"),
- checks the table, narrowed by the caller's `allowed_from` when a use case needs it, and raises
  the machine's error with a Chinese message naming the current state otherwise,
- sets the status, its timestamp and the caller's extra fields, saves with `update_fields`,
- writes one audit row (a `core.audit.AuditEvent` subclass) in the same transaction.

The console asks `machine.can(obj, to)` whether a button applies instead of comparing statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.utils import timezone

from core.audit import Actor, AuditEvent
from core.db import require_transaction
from core.errors import Conflict, DomainError, NotFound
from core.operators import operator_id

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "当前状态不允许该操作"


@dataclass(frozen=True)
class StateMachine(Generic[M]):
    """A lifecycle: which status may follow which, and how a change is recorded.

    - `table`: status → the statuses it may move to.
    - `event_model` / `event_subject`: the audit model and the name of its foreign key to `model`.
    - `timestamps`: target status → the model's datetime field set when it is reached.
    - `verbs`: target status → the Chinese verb for refusals ("不能发货"); `noun` names the thing.
    - `error`: the DomainError raised for a refused transition (its stable code is the API's).
    - `progress`: status → rank; a move to a lower-or-equal rank outside the table is ignored
      (logged, changed=False) instead of refused. For lifecycles fed by out-of-order messages.
    - `status_field`: the field holding the state (a model may carry two machines).
    """

    model: type[M]
    table: Mapping[str, Iterable[str]]
    event_model: type[AuditEvent]
    event_subject: str
    noun: str
    error: type[DomainError] = InvalidTransition
    not_found: type[DomainError] = NotFound
    timestamps: Mapping[str, str] = field(default_factory=dict)
    verbs: Mapping[str, str] = field(default_factory=dict)
    progress: Mapping[str, int] | None = None
    status_field: str = "status"

    def __post_init__(self) -> None:
        choices = self._choices()
        for source, targets in self.table.items():
            unknown = ({source} | set(targets)) - set(choices)
            if unknown:
                raise ValueError(f"{self.model.__name__}: unknown statuses in the transition table: {unknown}")

    # --- questions the console and the services ask --------------------------------------------

    def targets(self, status: str) -> frozenset[str]:
        """The statuses `status` may move to."""
        return frozenset(self.table.get(status, ()))

    def sources(self, to: str) -> frozenset[str]:
        """The statuses that may move to `to` (a bulk action filters its rows by them)."""
        return frozenset(s for s, targets in self.table.items() if to in targets)

    def can(self, obj: M, to: str, *, allowed_from: Iterable[str] | None = None) -> bool:
        """Whether `obj` (as loaded, unlocked) may move to `to` now: the check transition() makes,
        narrowed by the same `allowed_from` as the use case behind the button."""
        return self._allows(getattr(obj, self.status_field), to, allowed_from)

    def label(self, status: str) -> str:
        return str(self._choices().get(status, status))

    # --- the one transition function -------------------------------------------------------------

    def transition(self, *, pk: Any, to: str, action: str, actor: str = Actor.SYSTEM,
                   operator: AbstractBaseUser | None = None, note: str = "",
                   data: dict[str, Any] | None = None,
                   allowed_from: Iterable[str] | None = None,
                   fields: Mapping[str, Any] | None = None,
                   on_change: Callable[[M], Iterable[str]] | None = None) -> tuple[M, bool]:
        """Move the row `pk` to `to`. Returns (obj, changed); a repeat is a no-op.

        Runs in the caller's transaction and locks the row. `allowed_from` narrows the table for
        a use case (a shopper may cancel only an unpaid order). `fields` are set in the same save;
        `on_change(obj)` may set more and returns their names (e.g. hiding a review un-features it).
        """
        require_transaction(f"{self.model.__name__} transition")
        obj = self.model._default_manager.select_for_update().filter(pk=pk).first()
        if obj is None:
            raise self.not_found(detail={"id": pk})
        current = getattr(obj, self.status_field)
        if current == to:
            return obj, False
        if not self._allows(current, to, allowed_from):
            if self.progress is not None and self.progress.get(to, 0) <= self.progress.get(current, 0):
                logger.info("%s %s: %s after %s ignored", self.noun, pk, to, current)
                return obj, False
            verb = self.verbs.get(to) or f"变为「{self.label(to)}」"
            raise self.error(f"{self.noun}当前状态为「{self.label(current)}」，不能{verb}", detail={"status": current})
        setattr(obj, self.status_field, to)
        update = [self.status_field]
        stamp = self.timestamps.get(to)
        if stamp:
            setattr(obj, stamp, timezone.now())
            update.append(stamp)
        for name, value in (fields or {}).items():
            setattr(obj, name, value)
            update.append(name)
        if on_change is not None:
            update.extend(on_change(obj))
        update.extend(f.name for f in obj._meta.concrete_fields
                      if getattr(f, "auto_now", False) and f.name not in update)
        obj.save(update_fields=list(dict.fromkeys(update)))
        self._write(obj, action=action, from_status=current, to_status=to, actor=actor, operator=operator,
                    note=note, data=data)
        return obj, True

    def record(self, obj: M, *, action: str, actor: str = Actor.SYSTEM, operator: AbstractBaseUser | None = None,
               note: str = "", data: dict[str, Any] | None = None, from_status: str | None = None,
               to_status: str | None = None) -> AuditEvent:
        """An audit row for a decision that does not change the status (a remark, a restock).

        The row shows the status the decision was taken in. A creation passes from_status=""; a step
        beside the lifecycle (a package of a partly shipped order, a shipping upload) passes "" for both.
        """
        status = getattr(obj, self.status_field)
        return self._write(obj, action=action, from_status=status if from_status is None else from_status,
                           to_status=status if to_status is None else to_status, actor=actor,
                           operator=operator, note=note, data=data)

    def _allows(self, current: str, to: str, allowed_from: Iterable[str] | None) -> bool:
        sources = self.sources(to) if allowed_from is None else frozenset(allowed_from)
        return current in sources and to in self.targets(current)

    def _write(self, obj: M, *, action: str, from_status: str, to_status: str, actor: str,
               operator: AbstractBaseUser | None, note: str, data: dict[str, Any] | None) -> AuditEvent:
        return self.event_model._default_manager.create(
            **{self.event_subject: obj}, action=action, from_status=from_status, to_status=to_status,
            actor=actor, operator_id=operator_id(operator), note=note[:300], data=data or {})

    def _choices(self) -> dict[str, str]:
        status = self.model._meta.get_field(self.status_field)
        assert isinstance(status, models.Field)
        return {str(value): str(label) for value, label in status.flatchoices}
