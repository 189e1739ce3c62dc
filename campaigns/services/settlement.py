"""Settlement (结算): the set-based jobs over many commissions at once, and the nightly balance check.

    commissions_settle_due()            the hourly job: frozen → available once the after-sales window closed
    commissions_mark_withdrawn(…)       after a payout: the oldest available commissions → withdrawn
    commission_balances_reconcile()     the nightly check: each distributor's snapshot against its ledger

Each statement moves every row of its chunk at once and writes the same audit rows (CommissionEvent,
ClawbackEvent) and ledger rows (CommissionEntry) the one-row paths in campaigns.services.commissions
write — so 100,000 commissions settle in seconds, not in 100,000 transitions. Locks: the
distributors first (SKIP LOCKED in the job; the caller's lock after a payout), then their rows, as
everywhere (docs/architecture.md, "Lock order").
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Clawback, Commission, CommissionEntry, Distributor
from campaigns.models.commissions import (
    BALANCE_BUCKETS,
    CLAWBACK_MACHINE,
    ClawbackAction,
    ClawbackStatus,
    CommissionAction,
    CommissionEvent,
    CommissionStatus,
    EntryReason,
)
from core.audit import Actor
from core.db import require_transaction

logger = logging.getLogger(__name__)

CS = CommissionStatus


# --- the settlement job ------------------------------------------------------------------------------------


@dataclass
class SettleReport:
    commissions: int = 0
    distributors: int = 0
    settled_fen: int = 0
    offset_fen: int = 0
    clawbacks_recovered: int = 0


def commissions_settle_due(*, now: dt.datetime | None = None, batch_size: int | None = None) -> SettleReport:
    """The settlement job: every frozen commission whose after-sales window has closed
    (settle_at ≤ now) becomes available (可提现), with its audit row and ledger row; what a
    distributor owes from clawbacks is offset first, oldest commission first, and the clawbacks
    it pays off become recovered.

    Set-based: per chunk of `batch_size` distributors, one statement moves all their due
    commissions (window functions compute each commission's offset), one marks the clawbacks.
    Each chunk is its own transaction and claims its distributors with SKIP LOCKED: a distributor
    in the middle of a payment or a withdrawal is left for the next run. Safe to run twice.
    """
    now = now or timezone.now()
    batch = batch_size or settings.DISTRIBUTION_SETTLE_BATCH
    report = SettleReport()
    after = 0
    while True:
        ids = list(Commission.objects.filter(status=CS.FROZEN, settle_at__lte=now, distributor_id__gt=after)
                   .order_by("distributor_id").values_list("distributor_id", flat=True).distinct()[:batch])
        if not ids:
            return report
        after = ids[-1]
        with transaction.atomic(durable=True):
            claimed = list(Distributor.objects.select_for_update(skip_locked=True).filter(pk__in=ids)
                           .order_by("pk").values_list("pk", flat=True))
            if not claimed:
                continue
            count, settled, offset, offset_ids = _settle_sql(claimed, now)
            report.commissions += count
            report.settled_fen += settled
            report.offset_fen += offset
            report.distributors += len(claimed)
            if offset_ids:
                report.clawbacks_recovered += _recover_clawbacks_sql(offset_ids, now)


def _settle_sql(distributor_ids: list[int], now: dt.datetime) -> tuple[int, int, int, list[int]]:
    """Move the due frozen commissions of `distributor_ids` (locked by the caller) to available, in
    one statement. Returns (commissions, fen settled, fen offset against clawbacks, distributors
    that offset)."""
    commission, distributor = Commission._meta.db_table, Distributor._meta.db_table
    event, entry = CommissionEvent._meta.db_table, CommissionEntry._meta.db_table
    sql = f"""
    WITH due AS (
        SELECT c.id, c.distributor_id, c.amount_fen - c.refunded_fen AS net,
               SUM(c.amount_fen - c.refunded_fen) OVER (PARTITION BY c.distributor_id ORDER BY c.id)
                   - (c.amount_fen - c.refunded_fen) AS before
        FROM {commission} c
        WHERE c.status = %(frozen)s AND c.settle_at <= %(now)s AND c.distributor_id = ANY(%(ids)s)
    ), parts AS (
        SELECT due.id, due.distributor_id, due.net,
               LEAST(due.net, GREATEST(d.owed_fen - due.before, 0)) AS offset_fen
        FROM due JOIN {distributor} d ON d.id = due.distributor_id
    ), moved AS (
        UPDATE {commission} c SET status = %(available)s, available_at = %(now)s
        FROM parts WHERE c.id = parts.id
        RETURNING c.id
    ), audit AS (
        INSERT INTO {event} (commission_id, action, from_status, to_status, actor, operator_id, note, data, created_at)
        SELECT parts.id, %(settled_action)s, %(frozen)s, %(available)s, %(actor)s, NULL,
               CASE WHEN parts.offset_fen > 0
                    THEN '抵扣待扣回佣金 ¥' || to_char(parts.offset_fen / 100.0, 'FM999999990.00') ELSE '' END,
               jsonb_build_object('amount_fen', parts.net, 'offset_fen', parts.offset_fen), %(now)s
        FROM parts
    ), ledger AS (
        INSERT INTO {entry} (distributor_id, reason, reference, commission_id, withdrawal_id, pending_fen, frozen_fen,
                             available_fen, withdrawing_fen, withdrawn_fen, owed_fen, note, created_at)
        SELECT parts.distributor_id, %(reason)s, 'commission:' || parts.id, parts.id, NULL, 0, -parts.net,
               parts.net - parts.offset_fen, 0, 0, -parts.offset_fen, '', %(now)s
        FROM parts
    ), totals AS (
        SELECT distributor_id, SUM(net) AS net, SUM(offset_fen) AS offset_fen, COUNT(*) AS n
        FROM parts GROUP BY distributor_id
    ), snapshot AS (
        UPDATE {distributor} d
        SET frozen_fen = d.frozen_fen - totals.net,
            available_fen = d.available_fen + totals.net - totals.offset_fen,
            owed_fen = d.owed_fen - totals.offset_fen
        FROM totals WHERE d.id = totals.distributor_id
        RETURNING d.id, totals.net, totals.offset_fen, totals.n
    )
    SELECT id, net, offset_fen, n FROM snapshot
    """
    params: dict[str, Any] = {"ids": distributor_ids, "now": now, "frozen": CS.FROZEN, "available": CS.AVAILABLE,
                              "settled_action": CommissionAction.SETTLED, "actor": Actor.SYSTEM,
                              "reason": EntryReason.SETTLED}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    count = sum(int(n) for _, _, _, n in rows)
    settled = sum(int(net) for _, net, _, _ in rows)
    offset = sum(int(off) for _, _, off, _ in rows)
    return count, settled, offset, [int(pk) for pk, _, off, _ in rows if off]


def _recover_clawbacks_sql(distributor_ids: list[int], now: dt.datetime) -> int:
    """Mark recovered the owed clawbacks of `distributor_ids` that settlements have paid off: they
    are paid oldest first, so the ones still owed are the newest whose owed parts add up to the
    distributor's owed balance. Returns how many were marked."""
    clawback, distributor = Clawback._meta.db_table, Distributor._meta.db_table
    event = CLAWBACK_MACHINE.event_model._meta.db_table
    sql = f"""
    WITH ranked AS (
        SELECT c.id, c.distributor_id,
               SUM(c.owed_fen) OVER (PARTITION BY c.distributor_id ORDER BY c.id DESC) - c.owed_fen AS newer
        FROM {clawback} c
        WHERE c.status = %(owed)s AND c.distributor_id = ANY(%(ids)s)
    ), paid_off AS (
        SELECT ranked.id FROM ranked JOIN {distributor} d ON d.id = ranked.distributor_id
        WHERE ranked.newer >= d.owed_fen
    ), moved AS (
        UPDATE {clawback} c SET status = %(recovered)s, recovered_at = %(now)s
        FROM paid_off WHERE c.id = paid_off.id
        RETURNING c.id
    )
    INSERT INTO {event} (clawback_id, action, from_status, to_status, actor, operator_id, note, data, created_at)
    SELECT moved.id, %(action)s, %(owed)s, %(recovered)s, %(actor)s, NULL, '已从后续佣金扣回', '{{}}'::jsonb, %(now)s
    FROM moved
    """
    params: dict[str, Any] = {"ids": distributor_ids, "now": now, "owed": ClawbackStatus.OWED,
                              "recovered": ClawbackStatus.RECOVERED, "action": ClawbackAction.RECOVERED,
                              "actor": Actor.SYSTEM}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# --- withdrawn --------------------------------------------------------------------------------------------


def commissions_mark_withdrawn(*, distributor_id: int, now: dt.datetime | None = None) -> int:
    """After a payout: the distributor's oldest available commissions become withdrawn (已提现),
    keeping available the newest ones that still make up the available and withdrawing balances.
    A display state: the money itself is the ledger's. Runs in the caller's transaction with the
    distributor locked; one statement. Returns how many moved."""
    require_transaction("commissions_mark_withdrawn")
    now = now or timezone.now()
    commission, distributor = Commission._meta.db_table, Distributor._meta.db_table
    event = CommissionEvent._meta.db_table
    sql = f"""
    WITH ranked AS (
        SELECT c.id, c.distributor_id,
               SUM(c.amount_fen - c.refunded_fen) OVER (ORDER BY c.available_at DESC, c.id DESC)
                   - (c.amount_fen - c.refunded_fen) AS newer
        FROM {commission} c
        WHERE c.status = %(available)s AND c.distributor_id = %(id)s
    ), gone AS (
        SELECT ranked.id FROM ranked JOIN {distributor} d ON d.id = ranked.distributor_id
        WHERE ranked.newer >= d.available_fen + d.withdrawing_fen
    ), moved AS (
        UPDATE {commission} c SET status = %(withdrawn)s, withdrawn_at = %(now)s
        FROM gone WHERE c.id = gone.id
        RETURNING c.id
    )
    INSERT INTO {event} (commission_id, action, from_status, to_status, actor, operator_id, note, data, created_at)
    SELECT moved.id, %(action)s, %(available)s, %(withdrawn)s, %(actor)s, NULL, '', '{{}}'::jsonb, %(now)s FROM moved
    """
    params: dict[str, Any] = {"id": distributor_id, "now": now, "available": CS.AVAILABLE, "withdrawn": CS.WITHDRAWN,
                              "action": CommissionAction.WITHDRAWN, "actor": Actor.SYSTEM}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# --- the nightly check ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceDrift:
    """A distributor whose snapshot disagrees with the sum of its ledger (bucket → (snapshot, ledger))."""

    distributor_id: int
    buckets: dict[str, tuple[int, int]]


def commission_balances_reconcile(*, batch_size: int | None = None) -> list[BalanceDrift]:
    """Every distributor's snapshot against the sums of their ledger, bucket by bucket. Reports each
    drift (a warning in the log) and returns them; never fixes anything — a drift is a bug to look
    at, not a number to overwrite. Reads in primary-key chunks, each one statement (one snapshot)."""
    batch = batch_size or settings.DISTRIBUTION_SETTLE_BATCH
    distributor, entry = Distributor._meta.db_table, CommissionEntry._meta.db_table
    columns = ", ".join(f"d.{b}, COALESCE(l.{b}, 0)" for b in BALANCE_BUCKETS)
    sums = ", ".join(f"SUM({b}) AS {b}" for b in BALANCE_BUCKETS)
    sql = f"""
    SELECT d.id, {columns}
    FROM {distributor} d
    LEFT JOIN (SELECT distributor_id, {sums} FROM {entry} WHERE distributor_id = ANY(%(ids)s) GROUP BY distributor_id) l
      ON l.distributor_id = d.id
    WHERE d.id = ANY(%(ids)s) ORDER BY d.id
    """
    drifts: list[BalanceDrift] = []
    after = 0
    while True:
        ids = list(Distributor.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        after = ids[-1]
        with connection.cursor() as cursor:
            cursor.execute(sql, {"ids": ids})
            rows = cursor.fetchall()
        for row in rows:
            pairs = {b: (int(row[1 + 2 * i]), int(row[2 + 2 * i])) for i, b in enumerate(BALANCE_BUCKETS)}
            wrong = {b: pair for b, pair in pairs.items() if pair[0] != pair[1]}
            if wrong:
                logger.warning("commission balance drift: distributor %s %s", row[0], wrong)
                drifts.append(BalanceDrift(distributor_id=int(row[0]), buckets=wrong))
    if drifts:
        logger.error("commission reconcile: %d distributor(s) drifted", len(drifts))
    return drifts
