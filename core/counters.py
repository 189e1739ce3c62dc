"""Denormalised counters and their repair: one shape for every nightly counters reconcile.

A counter kept on a row for fast reads (a product's sales count, a coupon template's used count,
a member's paid total) is recomputed at night from the rows it counts. The repair is a
conditional UPDATE on the values that were read, so a counter that moved between the check and
the repair (a payment committed meanwhile) is left alone for the next run instead of being
overwritten with a number that is already stale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import models

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CounterDrift:
    """A counter that disagreed with the rows it counts."""

    counter: str  # "<app>.<Model>.<field>"
    row_id: int
    recorded: int
    expected: int
    repaired: bool  # False: the row changed between the check and the repair; the next run looks again


def counters_repair(model: type[models.Model], *, pk: int, values: Mapping[str, tuple[int, int]]) -> list[CounterDrift]:
    """Check the counters of row `pk` (`values`: field -> (recorded, expected)) and repair the
    ones that drifted. Returns the drifts, each logged as a warning; empty when all were right.

    One UPDATE of the drifted fields, conditional on every field of `values` still holding its
    recorded value: all or nothing, never over a change made since the values were read.
    """
    drifted = {name: pair for name, pair in values.items() if pair[0] != pair[1]}
    if not drifted:
        return []
    recorded = {name: pair[0] for name, pair in values.items()}
    repaired = model._default_manager.filter(pk=pk, **recorded).update(
        **{name: pair[1] for name, pair in drifted.items()}) == 1
    label = f"{model._meta.app_label}.{model.__name__}"
    drifts = [CounterDrift(counter=f"{label}.{name}", row_id=pk, recorded=was, expected=should, repaired=repaired)
              for name, (was, should) in drifted.items()]
    for drift in drifts:
        logger.warning("counter drift: %s of %s was %s, expected %s (%s)", drift.counter, pk, drift.recorded,
                       drift.expected, "repaired" if repaired else "changed meanwhile, left for the next run")
    return drifts
