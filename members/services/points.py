"""Points (积分): award, spend, give back, take back, expire, remind, reconcile.

Operator adjustments with maker-checker are in members.services.points_adjustments.

What the shop and campaigns call inside THEIR transaction, with plain values (members knows no
orders; a reference is an order number, a refund number, "mall:17"…):

    points_award(member_id=…, points=…, kind=PointsKind.PURCHASE, reference=order_no)      on payment
    points_spend(member_id=…, points=…, kind=PointsKind.SPEND, reference=order_no)          at placement
    points_refund_spent(member_id=…, reference=order_no, points=…, refund_reference=…)      cancel / refund
    points_reverse_award(member_id=…, reference=order_no, points=…, reversal_reference=…)  refund
    points_return_for_refund / points_reverse_for_refund(…, paid_fen=…, refunded_total_fen=…)
                            the same two for a refund, the proportion computed here from money

The rules every function here keeps:

- One change = one PointsEntry row + the same delta on Member.points_balance + the lot moves
  (PointsLot.remaining, one PointsAllocation row each), in one transaction. The balance changes
  only by a conditional UPDATE whose row count is checked (spending: `points_balance >= n`);
  a CheckConstraint keeps it ≥ 0 whatever happens. So sum(delta) = sum(remaining) = balance.
- Exactly once: (member, kind, reference) is unique on the ledger. Award, return, reverse and
  expiry run at most once per reference (a repeat returns None); a repeated spend returns the
  first row.
- Locks: the member row first (the conditional UPDATE, or SELECT … FOR UPDATE), then lots in
  spending order. The jobs claim members with skip_locked, so they never wait for a checkout
  and never deadlock with one.
- FIFO: spending takes the lot that expires first. Every lot lives POINTS_EXPIRE_MONTHS from
  when it was earned, so that is the oldest lot. Expiry takes only what a lot has left.
- A lot past its expiry is never spent: a spend or a reversal first expires the member's overdue
  lots (the rows the job would have written), in the same transaction.
- Returning spent points (points_refund_spent): they go back to the lots they were taken from,
  as long as those lots have not expired — last taken, first returned, so the member keeps the
  longest-lived points; what came from lots that have expired meanwhile comes back as a new lot
  that expires POINTS_EXPIRE_MONTHS from now (the member lost nothing to the cancelled order).
  Never more than the spend took, summed over every return of it.
- Taking back earned points (points_reverse_award): from the award's own lot first, then from
  the member's other lots oldest first, never below zero. What the balance cannot cover (the
  points were spent meanwhile) is recorded on the row as its shortfall and is not owed later.
  Never more than the award gave, summed over every reversal of it (taken + shortfall).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.operators import operator_id
from members.errors import (
    PointsInsufficient,
    PointsReferenceReused,
)
from members.models import (
    Member,
    PointsAllocation,
    PointsEntry,
    PointsKind,
    PointsLot,
)
from members.models.points import EARNING_KINDS, RETURN_KINDS, SPENDING_KINDS
from wechat.messages import subscribe_message_queue

logger = logging.getLogger(__name__)

REMIND_TEMPLATE = "points_expiring"
REMIND_REMARK = "积分即将过期，快去积分商城兑换吧"
LOT_CHUNK = 200
# Far above any real balance, far below BIGINT: a bigger number is a bug in the caller.
MAX_POINTS = 10**12


class PointsLedgerDrift(RuntimeError):
    """The lots of a member hold less than the balance says: a bug or a hand edit, never a
    shopper's mistake. The change is refused (rolled back); points_reconcile reports the drift."""


def points_expires_at(earned_at: dt.datetime) -> dt.datetime:
    """When points earned at `earned_at` expire: POINTS_EXPIRE_MONTHS later, to the second
    (in Shanghai local time, so 31 March + 1 month is 30 April)."""
    local = timezone.localtime(earned_at)
    month_index = local.month - 1 + settings.POINTS_EXPIRE_MONTHS
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])  # 29 Feb + 12 months = 28 Feb
    return local.replace(year=year, month=month, day=day)


# --- earning --------------------------------------------------------------------------------------


def points_award(*, member_id: int, points: int, kind: str, reference: str, operator: AbstractBaseUser | None = None,
                 note: str = "", now: dt.datetime | None = None) -> PointsEntry | None:
    """Give a member `points` earned for `kind` (签到, 购物, 评价, 邀请, 活动, 后台调整) as a new lot
    that expires POINTS_EXPIRE_MONTHS after `now`.

    Idempotent per (member, kind, reference) when `reference` is given: a repeat (also a
    concurrent one) returns None and changes nothing. 0 points returns None. Runs in the
    caller's transaction (a savepoint) or its own; takes the member row by its UPDATE.
    """
    if kind not in EARNING_KINDS:
        raise ValueError(f"{kind!r} is not an earning kind")
    _check_points(points, allow_zero=True)
    if points == 0:
        return None
    now = now or timezone.now()
    if reference and _entry(member_id, kind, reference) is not None:
        return None
    try:
        with transaction.atomic():
            balance = _balance_add(member_id, points)
            entry = PointsEntry(member_id=member_id, kind=kind, delta=points, balance_after=balance,
                                reference=reference, operator_id=operator_id(operator), note=note[:200],
                                created_at=now)
            _entry_with_new_lot(entry, points, now)
    except IntegrityError:
        if reference and _entry(member_id, kind, reference) is not None:
            return None  # a concurrent twin committed first
        raise
    return entry


# --- spending -------------------------------------------------------------------------------------


def points_spend(*, member_id: int, points: int, kind: str = PointsKind.SPEND, reference: str,
                 note: str = "", now: dt.datetime | None = None) -> PointsEntry:
    """Take `points` from a member to pay for `reference` (下单抵扣 an order, 积分兑换 a mall item).

    Raises PointsInsufficient (409 points_insufficient) and changes nothing when the balance is
    short. The balance is the WHERE clause of one conditional UPDATE (`points_balance >= n`), so
    two orders spending the same points at once cannot both succeed. Then the lots are taken
    oldest first, with the ledger row and the allocations, in one statement (the member row that
    UPDATE locked is taken first by every writer of lots, so they stay still meanwhile). Overdue
    lots are expired first.

    Idempotent per (member, kind, reference): a repeat returns the first row; a repeat with a
    different number of points raises PointsReferenceReused. Runs in the caller's transaction
    (a savepoint) or its own.
    """
    if kind not in SPENDING_KINDS:
        raise ValueError(f"{kind!r} is not a spending kind")
    if not reference:
        raise ValueError("a spend needs a reference")
    return _deduct(member_id=member_id, points=points, kind=kind, reference=reference, note=note,
                   operator=None, now=now or timezone.now())


def _deduct(*, member_id: int, points: int, kind: str, reference: str, note: str,
            operator: AbstractBaseUser | None, now: dt.datetime) -> PointsEntry:
    _check_points(points)
    entry = PointsEntry(member_id=member_id, kind=kind, delta=-points, reference=reference,
                        operator_id=operator_id(operator), note=note[:200], created_at=now)
    first = _deduct_at_once(entry, points)
    if first is not None:
        return first if first is entry else _same_spend(first, points)
    # Short, a lot overdue, or no such member: the careful path below decides and answers.
    existing_id, overdue = _entry_and_overdue(member_id, kind, reference, now)
    if existing_id is not None:
        return _same_spend(PointsEntry.objects.get(pk=existing_id), points)
    try:
        with transaction.atomic():
            if overdue:
                _expire_overdue(member_id, now)
            balance = _balance_add(member_id, -points, at_least=points)
            entry = PointsEntry(member_id=member_id, kind=kind, delta=-points, balance_after=balance,
                                reference=reference, operator_id=operator_id(operator), note=note[:200],
                                created_at=now)
            _entry_taken_from_lots(entry, points)
    except (IntegrityError, PointsInsufficient):
        # A concurrent spend of the same reference may have committed first: it took the points
        # we were waiting for, or made our insert fail. The caller gets the first row.
        existing = _entry(member_id, kind, reference)
        if existing is not None:
            return _same_spend(existing, points)
        raise
    return entry


def _deduct_at_once(entry: PointsEntry, points: int) -> PointsEntry | None:
    """The common deduction in two statements and no savepoint: _SPEND_AT_ONCE (the balance where
    it suffices and no lot is overdue, and the ledger row unless the reference was spent already),
    then, the member row locked by it, _SPEND_LOTS_OF_ENTRY. Returns `entry` saved; the first
    entry of the reference when it exists (the balance given back); None when the balance UPDATE
    matched nothing, having written nothing. Its own transaction when called outside one."""
    params: dict[str, Any] = {"member": entry.member_id, "kind": entry.kind, "points": points,
                              "reference": entry.reference, "operator": entry.operator_id, "note": entry.note,
                              "now": entry.created_at}
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_SPEND_AT_ONCE, params)
        row = cursor.fetchone()
        if row is None:
            return None
        balance, entry_id = row
        if entry_id is None:
            # Spent already (a repeat, or a concurrent twin committed while this waited for the
            # member row): the UPDATE is undone under the lock it holds.
            _balance_add(entry.member_id, points)
            return _entry(entry.member_id, entry.kind, entry.reference)
        cursor.execute(_SPEND_LOTS_OF_ENTRY, {"member": entry.member_id, "entry": entry_id, "points": points})
        (taken,) = cursor.fetchone()
        if taken != points:
            raise PointsLedgerDrift(f"member {entry.member_id}: lots hold {taken} points, {points} to take")
    entry.pk, entry.balance_after = entry_id, int(balance)
    entry._state.adding = False
    return entry


def _same_spend(existing: PointsEntry, points: int) -> PointsEntry:
    if existing.delta != -points:
        raise PointsReferenceReused(detail={"reference": existing.reference, "points": -existing.delta})
    return existing


# --- giving back and taking back -------------------------------------------------------------------


def points_refund_spent(*, member_id: int, reference: str, points: int, refund_reference: str,
                        spent_kind: str = PointsKind.SPEND, kind: str = PointsKind.REFUND_RETURN,
                        now: dt.datetime | None = None) -> PointsEntry | None:
    """Give back `points` of what the spend (spent_kind, reference) took — an order cancelled
    (kind=CANCEL_RETURN) or refunded in part or in full (REFUND_RETURN). The caller computes the
    amount (the points allocated to the refunded lines, or points_return_for_refund does the
    proportion).

    Returned points go back to the lots they came from while those have not expired (last
    taken, first returned); points whose lot has expired come back as a new lot expiring
    POINTS_EXPIRE_MONTHS from now. Capped at what the spend took minus earlier returns.

    Exactly once per (member, kind, refund_reference): a repeat returns None and changes nothing.
    None too when there is no such spend or nothing is left to return. Runs in the caller's
    transaction (a savepoint) or its own; locks the member row, then the lots.
    """
    _check_points(points, allow_zero=True)
    return _give_back(member_id=member_id, reference=reference, refund_reference=refund_reference,
                      spent_kind=spent_kind, kind=kind, now=now, wanted=lambda spent, returned: points)


def points_return_for_refund(*, member_id: int, reference: str, paid_fen: int, refunded_total_fen: int,
                             refund_reference: str, now: dt.datetime | None = None) -> PointsEntry | None:
    """Give back the refunded share of the points an order spent: the shop's refund path when it
    returns points in proportion to money.

    `paid_fen` is what the order paid, `refunded_total_fen` everything refunded on it so far
    INCLUDING this refund. After this call the member has had ⌊spent × refunded_total / paid⌋
    points back in all (computed under the member's lock from what earlier returns gave), so
    any sequence of partial refunds returns every point at the full refund, to the point. Same
    guarantees as points_refund_spent (kind 退款退回).
    """
    if paid_fen <= 0 or refunded_total_fen <= 0:
        raise ValidationFailed("退款金额有误", code="invalid_points_refund_amount",
                               detail={"paid_fen": paid_fen, "refunded_total_fen": refunded_total_fen})
    share = min(refunded_total_fen, paid_fen)
    return _give_back(member_id=member_id, reference=reference, refund_reference=refund_reference,
                      spent_kind=PointsKind.SPEND, kind=PointsKind.REFUND_RETURN, now=now,
                      wanted=lambda spent, returned: spent * share // paid_fen - returned)


def _give_back(*, member_id: int, reference: str, refund_reference: str, spent_kind: str, kind: str,
               now: dt.datetime | None, wanted: Callable[[int, int], int]) -> PointsEntry | None:
    """The one return path: `wanted(spent, returned so far)` says how many points to give back; it
    is capped by what the spend took minus earlier returns."""
    if kind not in RETURN_KINDS or spent_kind not in SPENDING_KINDS:
        raise ValueError(f"{kind!r} / {spent_kind!r} is not a return / spending kind")
    if not refund_reference or not reference:
        raise ValueError("a return needs the spend's reference and a refund_reference")
    now = now or timezone.now()
    with transaction.atomic():
        _lock_member(member_id)
        if _entry(member_id, kind, refund_reference) is not None:
            return None
        spend = _entry(member_id, spent_kind, reference)
        if spend is None:
            return None
        returned = _sum(spend.reversals.filter(kind__in=RETURN_KINDS), "delta")
        give = min(wanted(-spend.delta, returned), -spend.delta - returned)
        if give <= 0:
            return None
        balance = _balance_add(member_id, give)
        entry = PointsEntry.objects.create(member_id=member_id, kind=kind, delta=give, balance_after=balance,
                                           reference=refund_reference, origin=spend, created_at=now)
        _return_to_lots(entry, spend, give, now)
    return entry


def points_reverse_award(*, member_id: int, reference: str, points: int, reversal_reference: str,
                         award_kind: str = PointsKind.PURCHASE, note: str = "",
                         now: dt.datetime | None = None) -> PointsEntry | None:
    """Take back `points` of what the award (award_kind, reference) gave — an order refunded in
    part or in full. The caller computes the amount (or points_reverse_for_refund does).

    Never below zero: from the award's own lot first, then the other lots oldest first; what the
    balance cannot cover is recorded as the row's `shortfall` (delta + shortfall = asked). Capped
    at what the award gave minus earlier reversals (taken + shortfall).

    Exactly once per (member, reversal_reference): a repeat returns None and changes nothing.
    None too when there is no such award or nothing is left to reverse. Runs in the caller's
    transaction (a savepoint) or its own; locks the member row, then the lots.
    """
    _check_points(points, allow_zero=True)
    return _take_back(member_id=member_id, reference=reference, reversal_reference=reversal_reference,
                      award_kind=award_kind, note=note, now=now, wanted=lambda awarded, reversed_: points)


def points_reverse_for_refund(*, member_id: int, reference: str, paid_fen: int, refunded_total_fen: int,
                              reversal_reference: str, now: dt.datetime | None = None) -> PointsEntry | None:
    """Take back the refunded share of the points an order's payment earned (购物): the shop's
    refund path.

    `paid_fen` is what the order paid, `refunded_total_fen` everything refunded on it so far
    INCLUDING this refund. The member keeps ⌊awarded × (paid − refunded_total) / paid⌋, so any
    sequence of partial refunds ends, at a full refund, with the whole award taken back (less
    any shortfall). Same guarantees as points_reverse_award.
    """
    if paid_fen <= 0 or refunded_total_fen <= 0:
        raise ValidationFailed("退款金额有误", code="invalid_points_refund_amount",
                               detail={"paid_fen": paid_fen, "refunded_total_fen": refunded_total_fen})
    kept = max(paid_fen - refunded_total_fen, 0)
    return _take_back(member_id=member_id, reference=reference, reversal_reference=reversal_reference,
                      award_kind=PointsKind.PURCHASE, note="", now=now,
                      wanted=lambda awarded, reversed_: awarded - awarded * kept // paid_fen - reversed_)


def _take_back(*, member_id: int, reference: str, reversal_reference: str, award_kind: str, note: str,
               now: dt.datetime | None, wanted: Callable[[int, int], int]) -> PointsEntry | None:
    """The one reversal path: `wanted(awarded, reversed so far)` says how many points to take back;
    it is capped by what the award gave minus earlier reversals (taken + shortfall)."""
    if award_kind not in EARNING_KINDS:
        raise ValueError(f"{award_kind!r} is not an earning kind")
    if not reversal_reference or not reference:
        raise ValueError("a reversal needs the award's reference and a reversal_reference")
    now = now or timezone.now()
    with transaction.atomic():
        _lock_member(member_id)
        if _entry(member_id, PointsKind.REVERSAL, reversal_reference) is not None:
            return None
        award = _entry(member_id, award_kind, reference)
        if award is None:
            return None
        earlier = award.reversals.filter(kind=PointsKind.REVERSAL).aggregate(
            taken=Coalesce(Sum("delta"), 0), short=Coalesce(Sum("shortfall"), 0))
        reversed_ = -earlier["taken"] + earlier["short"]
        want = min(wanted(award.delta, reversed_), award.delta - reversed_)
        if want <= 0:
            return None
        _expire_overdue(member_id, now, locked=True)
        balance_before = Member.objects.filter(pk=member_id).values_list("points_balance", flat=True).get()
        take = min(want, balance_before)
        balance = _balance_add(member_id, -take, at_least=take) if take else balance_before
        entry = PointsEntry.objects.create(member_id=member_id, kind=PointsKind.REVERSAL, delta=-take,
                                           shortfall=want - take, balance_after=balance,
                                           reference=reversal_reference, origin=award, note=note[:200],
                                           created_at=now)
        if take:
            own_lot = PointsLot.objects.filter(entry=award).values_list("pk", flat=True).first()
            _take_from_lots(entry, member_id, take, first_lot_id=own_lot)
    return entry


# --- jobs -----------------------------------------------------------------------------------------


def points_expire_due(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """The expiry job: for every lot whose expiry has come, an 过期 row taking what it has left
    (only that: spent points are long gone), the lot emptied and stamped. Returns the number of
    lots expired.

    Works through members in chunks, one short transaction each, claiming members with
    SELECT … FOR UPDATE SKIP LOCKED: a member in the middle of a checkout is left for the next
    run, and two workers never expire the same lot (the ledger's unique (kind, reference =
    "lot:<id>") would refuse it anyway). Safe to run twice.
    """
    now = now or timezone.now()
    batch = batch_size or settings.POINTS_JOB_BATCH
    expired = 0
    after = 0
    while True:
        member_ids = list(PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now, member_id__gt=after)
                          .order_by("member_id").values_list("member_id", flat=True).distinct()[:batch])
        if not member_ids:
            return expired
        after = member_ids[-1]
        with transaction.atomic(durable=True):
            claimed = list(Member.objects.select_for_update(skip_locked=True).filter(pk__in=member_ids)
                           .order_by("pk").values_list("pk", flat=True))
            for member_id in claimed:
                try:
                    with transaction.atomic():
                        expired += _expire_overdue(member_id, now, locked=True)
                except PointsLedgerDrift:
                    logger.exception("points expiry skipped member %s: lots and balance disagree", member_id)


def points_remind_expiring(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """The reminder job: a `points_expiring` subscribe message for lots that expire within
    POINTS_REMIND_DAYS and still have points left — once per lot (reminded_at), one message per
    member per run (the points of all their newly due lots, the earliest date). Returns the
    number of members messages were queued for.

    Messages are queued in the transaction that stamps the lots and sent after it commits (the
    member's subscribe credit decides whether WeChat is called). Lots are claimed with SKIP
    LOCKED; members are not locked. Safe to run twice: a reminded lot is never reminded again.
    """
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=settings.POINTS_REMIND_DAYS)
    batch = batch_size or settings.POINTS_JOB_BATCH
    due = Q(remaining__gt=0, reminded_at__isnull=True, expires_at__gt=now, expires_at__lte=horizon)
    queued = 0
    after = 0
    while True:
        member_ids = list(PointsLot.objects.filter(due, member_id__gt=after).order_by("member_id")
                          .values_list("member_id", flat=True).distinct()[:batch])
        if not member_ids:
            return queued
        after = member_ids[-1]
        with transaction.atomic(durable=True):
            lots = list(PointsLot.objects.select_for_update(skip_locked=True, of=("self",))
                        .filter(due, member_id__in=member_ids).select_related("member")
                        .order_by("member_id", "expires_at", "id"))
            by_member: dict[int, list[PointsLot]] = defaultdict(list)
            for lot in lots:
                by_member[lot.member_id].append(lot)
            PointsLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(reminded_at=now)
            for member_lots in by_member.values():
                member = member_lots[0].member
                if not member.is_active or member.deleted_at is not None:
                    continue
                values = {"points": sum(lot.remaining for lot in member_lots),
                          "expires_on": timezone.localtime(member_lots[0].expires_at).date(),
                          "remark": REMIND_REMARK}
                try:
                    with transaction.atomic():
                        subscribe_message_queue(member_id=member.pk, openid=member.openid,
                                                template_key=REMIND_TEMPLATE, values=values,
                                                reference=f"points_lot:{member_lots[0].pk}")
                except Exception:  # a message must never stop the job or undo the stamps
                    logger.exception("points expiry reminder for member %s was not queued", member.pk)
                    continue
                queued += 1


@dataclass(frozen=True)
class PointsDrift:
    """A member whose ledger, lots and balance snapshot disagree."""

    member_id: int
    balance: int
    ledger_sum: int
    lots_remaining: int


def points_reconcile(*, batch_size: int | None = None) -> list[PointsDrift]:
    """The nightly check: for every member, the ledger's sum and the lots' remaining points
    against Member.points_balance. Reports each drift (a warning in the log) and returns them;
    never fixes anything — a drift is a bug to look at, not a number to overwrite.

    Reads members in primary-key chunks; each chunk is one statement, so it sees one consistent
    snapshot of ledger, lots and balance.
    """
    batch = batch_size or settings.POINTS_JOB_BATCH
    ledger = (PointsEntry.objects.filter(member=OuterRef("pk")).order_by().values("member")
              .annotate(total=Sum("delta")).values("total"))
    lots = (PointsLot.objects.filter(member=OuterRef("pk")).order_by().values("member")
            .annotate(total=Sum("remaining")).values("total"))
    drifts: list[PointsDrift] = []
    after = 0
    while True:
        rows = list(Member.objects.filter(pk__gt=after).order_by("pk")
                    .annotate(ledger_sum=Coalesce(Subquery(ledger), Value(0)),
                              lots_remaining=Coalesce(Subquery(lots), Value(0)))
                    .values_list("pk", "points_balance", "ledger_sum", "lots_remaining")[:batch])
        if not rows:
            break
        after = rows[-1][0]
        for member_id, balance, ledger_sum, lots_remaining in rows:
            if balance != ledger_sum or balance != lots_remaining:
                drift = PointsDrift(member_id=member_id, balance=balance, ledger_sum=ledger_sum,
                                    lots_remaining=lots_remaining)
                logger.warning("points drift: member %s balance %s, ledger sum %s, lots remaining %s",
                               member_id, balance, ledger_sum, lots_remaining)
                drifts.append(drift)
    if drifts:
        logger.error("points reconcile: %d member(s) drifted", len(drifts))
    return drifts


def points_operator_deduct(*, member_id: int, points: int, reference: str, note: str,
                           operator: AbstractBaseUser | None, now: dt.datetime) -> PointsEntry:
    """Take points away for an operator's adjustment (后台调整), oldest lots first.

    Like points_spend (conditional UPDATE on the balance; PointsInsufficient when short; one row
    per reference), for the maker-checker flow in members.services.points_adjustments.
    """
    return _deduct(member_id=member_id, points=points, kind=PointsKind.ADJUSTMENT, reference=reference,
                   note=note, operator=operator, now=now)


# --- the ledger's moving parts ---------------------------------------------------------------------


def _check_points(points: Any, *, allow_zero: bool = False) -> None:
    if (not isinstance(points, int) or isinstance(points, bool) or points < 0 or points > MAX_POINTS
            or (points == 0 and not allow_zero)):
        raise ValidationFailed("积分须为正整数", code="invalid_points", detail={"points": str(points)})


def _entry_and_overdue(member_id: int, kind: str, reference: str, now: dt.datetime) -> tuple[int | None, bool]:
    """(the id of the entry for (member, kind, reference), whether the member has lots overdue to
    expire): what a deduction asks before it writes, in one round trip."""
    entry = PointsEntry.objects.filter(member_id=member_id, kind=kind, reference=reference).values("pk")[:1]
    due = PointsLot.objects.filter(member_id=member_id, remaining__gt=0, expires_at__lte=now)
    row = Member.objects.filter(pk=member_id).values_list(Subquery(entry), Exists(due)).first()
    if row is None:  # no such member: the conditional UPDATE reports it
        return None, False
    return row[0], bool(row[1])


# The member's open lots taken oldest-to-expire first, each for what it has up to what is still
# to take (`plan`, `taken`): the common part of the two spend statements below.
_TAKE_LOTS = f"""plan AS (
    SELECT id, LEAST(remaining, %(points)s - (running - remaining)) AS part
    FROM (SELECT id, remaining, SUM(remaining) OVER (ORDER BY expires_at, id) AS running
          FROM {PointsLot._meta.db_table} WHERE member_id = %(member)s AND remaining > 0) AS open_lots
    WHERE running - remaining < %(points)s),
taken AS (
    UPDATE {PointsLot._meta.db_table} AS lot SET remaining = lot.remaining - plan.part
    FROM plan WHERE lot.id = plan.id RETURNING plan.part),"""

# One statement, after the member row is locked by the balance UPDATE (every writer of a member's
# lots takes that row first, so they are read as committed and nobody moves them meanwhile): the
# ledger row, then the member's open lots taken oldest-to-expire first, each for what it has up to
# what is still to take, and one allocation per lot taken. Returns the entry's id and the points
# the lots gave.
_SPEND_FROM_LOTS = f"""
WITH entry AS (
    INSERT INTO {PointsEntry._meta.db_table}
        (member_id, kind, delta, balance_after, reference, origin_id, shortfall, operator_id, note, created_at)
    VALUES (%(member)s, %(kind)s, %(delta)s, %(balance)s, %(reference)s, NULL, 0, %(operator)s, %(note)s, %(now)s)
    RETURNING id),
{_TAKE_LOTS}
allocated AS (
    INSERT INTO {PointsAllocation._meta.db_table} (entry_id, lot_id, points)
    SELECT entry.id, plan.id, -plan.part FROM plan CROSS JOIN entry RETURNING id)
SELECT (SELECT id FROM entry), (SELECT COALESCE(SUM(part), 0) FROM taken), (SELECT COUNT(*) FROM allocated)
"""


# A spend's first statement: the balance taken where it suffices and no lot is overdue (else no
# row: the careful path decides), and the ledger row inserted unless (member, kind, reference) has
# one already (then no entry id, the balance to be given back). The lots are taken by the next
# statement, which reads them after this one has locked the member row.
_SPEND_AT_ONCE = f"""
WITH balance AS (
    UPDATE {Member._meta.db_table} SET points_balance = points_balance - %(points)s
    WHERE id = %(member)s AND points_balance >= %(points)s
      AND NOT EXISTS (SELECT 1 FROM {PointsLot._meta.db_table}
                      WHERE member_id = %(member)s AND remaining > 0 AND expires_at <= %(now)s)
    RETURNING points_balance),
entry AS (
    INSERT INTO {PointsEntry._meta.db_table}
        (member_id, kind, delta, balance_after, reference, origin_id, shortfall, operator_id, note, created_at)
    SELECT %(member)s, %(kind)s, -%(points)s, points_balance, %(reference)s, NULL, 0, %(operator)s, %(note)s,
           %(now)s
    FROM balance
    ON CONFLICT DO NOTHING
    RETURNING id)
SELECT points_balance, (SELECT id FROM entry) FROM balance
"""

# _SPEND_FROM_LOTS for an entry already inserted: the lots taken and allocated to it.
_SPEND_LOTS_OF_ENTRY = f"""
WITH {_TAKE_LOTS}
allocated AS (
    INSERT INTO {PointsAllocation._meta.db_table} (entry_id, lot_id, points)
    SELECT %(entry)s, plan.id, -plan.part FROM plan RETURNING id)
SELECT COALESCE(SUM(part), 0) FROM taken
"""


# The earning counterpart: the ledger row, its lot and the lot's allocation in one statement.
_EARN_INTO_LOT = f"""
WITH entry AS (
    INSERT INTO {PointsEntry._meta.db_table}
        (member_id, kind, delta, balance_after, reference, origin_id, shortfall, operator_id, note, created_at)
    VALUES (%(member)s, %(kind)s, %(delta)s, %(balance)s, %(reference)s, NULL, 0, %(operator)s, %(note)s, %(now)s)
    RETURNING id),
lot AS (
    INSERT INTO {PointsLot._meta.db_table} (member_id, entry_id, earned, remaining, earned_at, expires_at)
    SELECT %(member)s, entry.id, %(points)s, %(points)s, %(now)s, %(expires)s FROM entry
    RETURNING id, entry_id)
INSERT INTO {PointsAllocation._meta.db_table} (entry_id, lot_id, points)
SELECT entry_id, id, %(points)s FROM lot RETURNING entry_id
"""


def _entry_with_new_lot(entry: PointsEntry, points: int, now: dt.datetime) -> None:
    """Insert the earning `entry` (unsaved) with its new lot, expiring POINTS_EXPIRE_MONTHS after
    `now`, and the lot's allocation: _new_lot() for a new entry, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(_EARN_INTO_LOT, {
            "member": entry.member_id, "kind": entry.kind, "delta": entry.delta, "balance": entry.balance_after,
            "reference": entry.reference, "operator": entry.operator_id, "note": entry.note, "now": now,
            "points": points, "expires": points_expires_at(now)})
        (entry_id,) = cursor.fetchone()
    entry.pk = entry_id
    entry._state.adding = False


def _entry_taken_from_lots(entry: PointsEntry, points: int) -> None:
    """Insert the deduction `entry` (unsaved) and take its points from the member's lots, in one
    statement (_SPEND_FROM_LOTS); the caller has locked the member row. PointsLedgerDrift when the
    lots hold fewer points than the balance said."""
    with connection.cursor() as cursor:
        cursor.execute(_SPEND_FROM_LOTS, {
            "member": entry.member_id, "kind": entry.kind, "delta": entry.delta, "balance": entry.balance_after,
            "reference": entry.reference, "operator": entry.operator_id, "note": entry.note, "now": entry.created_at,
            "points": points})
        entry_id, taken, _ = cursor.fetchone()
    if taken != points:
        raise PointsLedgerDrift(f"member {entry.member_id}: lots hold {taken} points, {points} to take")
    entry.pk = entry_id
    entry._state.adding = False


def _entry(member_id: int, kind: str, reference: str) -> PointsEntry | None:
    return PointsEntry.objects.filter(member_id=member_id, kind=kind, reference=reference).first()


def _sum(rows: Any, field: str) -> int:
    return int(rows.aggregate(total=Coalesce(Sum(field), 0))["total"])


def _lock_member(member_id: int) -> None:
    if not Member.objects.select_for_update().filter(pk=member_id).exists():
        raise NotFound("会员不存在", code="member_not_found")


def _balance_add(member_id: int, delta: int, *, at_least: int | None = None) -> int:
    """Add `delta` to the balance with one UPDATE … RETURNING; with `at_least`, only where the
    balance is at least that (PointsInsufficient otherwise). Returns the new balance."""
    table = Member._meta.db_table
    sql = f'UPDATE "{table}" SET "points_balance" = "points_balance" + %s WHERE "id" = %s'
    params: list[int] = [delta, member_id]
    if at_least is not None:
        sql += ' AND "points_balance" >= %s'
        params.append(at_least)
    with connection.cursor() as cursor:
        cursor.execute(sql + ' RETURNING "points_balance"', params)
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    balance = Member.objects.filter(pk=member_id).values_list("points_balance", flat=True).first()
    if balance is None:
        raise NotFound("会员不存在", code="member_not_found")
    raise PointsInsufficient(detail={"required": at_least, "balance": balance})


def _new_lot(entry: PointsEntry, points: int, now: dt.datetime) -> PointsLot:
    lot = PointsLot.objects.create(member_id=entry.member_id, entry=entry, earned=points, remaining=points,
                                   earned_at=now, expires_at=points_expires_at(now))
    PointsAllocation.objects.create(entry=entry, lot=lot, points=points)
    return lot


def _open_lots(member_id: int, *, first_lot_id: int | None) -> Iterable[PointsLot]:
    """The member's lots with points left, locked, in spending order (the one to expire first
    first), `first_lot_id` before all; fetched in chunks so a member with hundreds of sign-in
    lots does not lock them all for a small spend."""
    if first_lot_id is not None:
        first = PointsLot.objects.select_for_update().filter(pk=first_lot_id, remaining__gt=0).first()
        if first is not None:
            yield first
    seen_expiry: dt.datetime | None = None
    seen_id = 0
    while True:
        rows = PointsLot.objects.select_for_update().filter(member_id=member_id, remaining__gt=0)
        if first_lot_id is not None:
            rows = rows.exclude(pk=first_lot_id)
        if seen_expiry is not None:
            rows = rows.filter(Q(expires_at__gt=seen_expiry) | Q(expires_at=seen_expiry, id__gt=seen_id))
        chunk = list(rows.order_by("expires_at", "id")[:LOT_CHUNK])
        yield from chunk
        if len(chunk) < LOT_CHUNK:
            return
        seen_expiry, seen_id = chunk[-1].expires_at, chunk[-1].pk


def _take_from_lots(entry: PointsEntry, member_id: int, points: int, *, first_lot_id: int | None = None) -> None:
    left = points
    taken: list[PointsLot] = []
    allocations: list[PointsAllocation] = []
    for lot in _open_lots(member_id, first_lot_id=first_lot_id):
        part = min(lot.remaining, left)
        lot.remaining -= part
        left -= part
        taken.append(lot)
        allocations.append(PointsAllocation(entry=entry, lot=lot, points=-part))
        if left == 0:
            break
    if left:
        raise PointsLedgerDrift(f"member {member_id}: lots hold {points - left} points, {points} to take")
    PointsLot.objects.bulk_update(taken, ["remaining"])
    PointsAllocation.objects.bulk_create(allocations)


def _return_to_lots(entry: PointsEntry, spend: PointsEntry, points: int, now: dt.datetime) -> None:
    """Put `points` of `spend` back where they came from (see the module's rules)."""
    outstanding: dict[int, int] = defaultdict(int)
    moves = PointsAllocation.objects.filter(Q(entry=spend) | Q(entry__origin=spend, entry__kind__in=RETURN_KINDS))
    for lot_id, moved in moves.exclude(entry=entry).values_list("lot_id", "points"):
        outstanding[lot_id] -= moved  # taken (negative) raises it, given back (positive) lowers it
    lots = list(PointsLot.objects.select_for_update().filter(pk__in=[k for k, v in outstanding.items() if v > 0])
                .order_by("expires_at", "id"))
    left = points
    refilled: list[PointsLot] = []
    allocations: list[PointsAllocation] = []
    for lot in reversed(lots):  # last taken, first returned: the longest-lived lot first
        if left == 0:
            break
        if lot.expires_at <= now or lot.expired_at is not None:
            continue
        part = min(outstanding[lot.pk], left)
        lot.remaining += part
        left -= part
        refilled.append(lot)
        allocations.append(PointsAllocation(entry=entry, lot=lot, points=part))
    PointsLot.objects.bulk_update(refilled, ["remaining"])
    PointsAllocation.objects.bulk_create(allocations)
    if left:
        _new_lot(entry, left, now)


def _expire_overdue(member_id: int, now: dt.datetime, *, locked: bool = False) -> int:
    """Expire the member's lots whose time has come: one 过期 row per lot, for what it has left.
    Takes the member row first unless the caller holds it. Returns the number of lots expired."""
    due = PointsLot.objects.filter(member_id=member_id, remaining__gt=0, expires_at__lte=now)
    if not locked:
        if not due.exists():
            return 0
        _lock_member(member_id)
    lots = list(due.select_for_update().order_by("expires_at", "id"))
    if not lots:
        return 0
    total = sum(lot.remaining for lot in lots)
    try:
        balance = _balance_add(member_id, -total, at_least=total)
    except PointsInsufficient as exc:
        raise PointsLedgerDrift(f"member {member_id}: {total} points to expire, balance {exc.detail}") from exc
    running = balance + total
    entries = []
    for lot in lots:
        running -= lot.remaining
        entries.append(PointsEntry(member_id=member_id, kind=PointsKind.EXPIRY, delta=-lot.remaining,
                                   balance_after=running, reference=f"lot:{lot.pk}", created_at=now))
    PointsEntry.objects.bulk_create(entries)
    PointsAllocation.objects.bulk_create(
        [PointsAllocation(entry=e, lot=lot, points=e.delta) for e, lot in zip(entries, lots, strict=True)])
    for lot in lots:
        lot.remaining = 0
        lot.expired_at = now
    PointsLot.objects.bulk_update(lots, ["remaining", "expired_at"])
    return len(lots)
