"""Purchase facts the shop reports with plain values: members knows nothing of orders.

Member.paid_order_count, paid_total_fen and last_paid_at are what RFM groups, segments and the
new-customer checks read. They move inside the payment's or the refund's transaction (the member
row is locked there anyway, after the order's rows: docs/architecture.md, "Lock order"), and the
shop's nightly counters reconcile recomputes them from the orders (member_purchase_totals_repair).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from core.counters import CounterDrift, counters_repair
from core.db import require_transaction
from members.models import Member, MemberPurchaseRefund


def member_record_purchase(*, member_id: int, paid_fen: int, paid_at: dt.datetime) -> None:
    """Count a paid order in the member's purchase facts (new-customer checks, segments).

    Called by the shop inside the payment's transaction, once per order. A conditional-free
    F() update: concurrent payments of one member both count.
    """
    require_transaction("member_record_purchase")
    # PostgreSQL's GREATEST ignores NULL, so the first payment sets last_paid_at too.
    Member.objects.filter(pk=member_id).update(
        paid_order_count=F("paid_order_count") + 1, paid_total_fen=F("paid_total_fen") + paid_fen,
        last_paid_at=Greatest(F("last_paid_at"), Value(paid_at)),
    )


def member_record_refund(*, member_id: int, refunded_fen: int, order_refunded_in_full: bool,
                         reference: str) -> bool:
    """Take a refund out of the member's purchase facts: paid_total_fen goes down by the amount
    refunded, and paid_order_count by one when this refund completes the order's full refund
    (a partial refund leaves the order counted). Neither goes below zero; last_paid_at stays.

    Called by the shop inside the refund's transaction. Exactly once per (member, reference =
    the refund number): a MemberPurchaseRefund row is inserted first, so a repeat — even a
    concurrent one — returns False and changes nothing. Locks the member row by its UPDATE.
    """
    require_transaction("member_record_refund")
    if refunded_fen < 0 or not reference:
        raise ValueError("a refund needs a reference and an amount of at least zero")
    try:
        with transaction.atomic():
            MemberPurchaseRefund.objects.create(member_id=member_id, reference=reference, refunded_fen=refunded_fen,
                                                order_refunded_in_full=order_refunded_in_full)
    except IntegrityError:
        return False
    orders = 1 if order_refunded_in_full else 0
    Member.objects.filter(pk=member_id).update(
        paid_total_fen=Greatest(F("paid_total_fen") - refunded_fen, Value(0)),
        paid_order_count=Greatest(F("paid_order_count") - orders, Value(0)),
    )
    return True


def member_purchase_totals_repair(*, member_id: int, recorded: tuple[int, int],
                                  expected: tuple[int, int]) -> list[CounterDrift]:
    """Set a member's (paid_order_count, paid_total_fen) to `expected` if they still are `recorded`
    (the shop's nightly counters reconcile, which computes both from the orders in the same
    statement that read them). Returns the drifts, empty when there were none."""
    return counters_repair(Member, pk=member_id, values={
        "paid_order_count": (recorded[0], expected[0]), "paid_total_fen": (recorded[1], expected[1])})
