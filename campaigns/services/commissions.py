"""Commissions (佣金): earned on payment, frozen on receipt, settled when the after-sales window has
closed, reversed exactly by refunds, clawed back after settlement; and the ledger under them.

What the shop calls inside ITS transaction, with plain values (campaigns knows no orders: an
order is its number, a line its id):

    commission_earn_for_order(order_ref=…, buyer_id=…, lines=[PaidLine(…)])         on payment
    commission_freeze_for_order(order_ref=…, received_at=…)                           on receipt
    commission_reverse_for_refund(order_ref=…, refund_ref=…, lines=[RefundedLine(…)])  on a refund

and the clock settles them (campaigns.services.settlement, beat job `distribution.settle-commissions`).

The rules every function here keeps:

- Money moves only through `ledger_move()` (or the settlement's set-based equivalent): one
  CommissionEntry row with a delta per bucket and the same deltas on the Distributor's snapshot,
  in one transaction. Exactly once per (distributor, reason, reference). A CheckConstraint keeps
  every bucket ≥ 0.
- Locks (docs/architecture.md, "Lock order"): the distributors, in id order, then their
  commission and clawback rows, which are written only under their distributor's lock. The
  settlement job claims distributors with SKIP LOCKED, so it never waits for a payment.
- Who earns: level 1 is the buyer's upline (or the buyer, a distributor, when self-purchase
  commission is on), level 2 that distributor's own upline, only if the settings have two
  levels — never a third. A distributor who is not active (frozen, applying) earns nothing at
  their level; the level above still earns.
- How much: the line's paid amount (after member price, 满减, coupon and points; freight
  excluded) × the first rate found of the product's, the category's (nearest ancestor), the
  distributor's grade's and the global, rounded once to the fen. A flash-sale line earns only
  if its session says so; other activities' lines earn nothing until they say so too.
- A refund takes back exactly its share: the commission keeps
  ⌊amount × (base − refunded) / base⌋ after each refund (refunded = everything refunded on the
  line so far), so any sequence of partial refunds ends, at a full refund, with all of it taken
  back. Before settlement it comes off the commission (cancelled at zero); after, it is a
  Clawback: taken from the available balance as far as it goes, the rest owed and offset
  against the distributor's next settlements. The available balance never goes negative.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from campaigns.errors import WithdrawalExceedsAvailable
from campaigns.models import (
    Clawback,
    Commission,
    CommissionEntry,
    CommissionRate,
    Distributor,
    FlashItem,
    GroupBuyItem,
)
from campaigns.models.commissions import (
    CLAWBACK_MACHINE,
    COMMISSION_MACHINE,
    ClawbackAction,
    ClawbackStatus,
    CommissionAction,
    CommissionEvent,
    CommissionStatus,
    EntryReason,
)
from campaigns.models.distribution import DistributionSettings
from campaigns.selectors.distribution import distribution_settings_current, distributor_is_earning, upline_of
from catalog.models import Category
from core.audit import Actor
from core.db import require_transaction
from core.money import apply_rate, yuan

logger = logging.getLogger(__name__)

CS = CommissionStatus
# Activity kinds whose lines may earn when the activity says so (shop passes the kind of the line).
ACTIVITY_FLASH = "flash"
ACTIVITY_GROUP = "group"
ACTIVITY_BARGAIN = "bargain"  # never earns: the friends' cuts are the discount


# --- the ledger ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moves:
    """The change of each bucket of a distributor's money (the snapshot fields, in fen)."""

    pending_fen: int = 0
    frozen_fen: int = 0
    available_fen: int = 0
    withdrawing_fen: int = 0
    withdrawn_fen: int = 0
    owed_fen: int = 0

    def changed(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}




def ledger_move(*, distributor_id: int, reason: str, reference: str, moves: Moves, commission_id: int | None = None,
                withdrawal_id: int | None = None, note: str = "") -> CommissionEntry | None:
    """Change a distributor's money: the snapshot by one conditional UPDATE and one ledger row with
    the same deltas. Returns the row, or None when (distributor, reason, reference) was already
    recorded (a repeat changes nothing).

    Runs in the caller's transaction; the caller holds the distributor's row lock (so the repeat
    check cannot race). A bucket that would go below zero: WithdrawalExceedsAvailable for the
    available balance (a withdrawal asking more than there is), an IntegrityError otherwise (a bug:
    the CheckConstraint)."""
    require_transaction("ledger_move")
    if CommissionEntry.objects.filter(distributor_id=distributor_id, reason=reason, reference=reference).exists():
        return None
    changed = moves.changed()
    if changed:
        rows = Distributor.objects.filter(pk=distributor_id)
        if moves.available_fen < 0:
            rows = rows.filter(available_fen__gte=-moves.available_fen)
        if rows.update(**{name: F(name) + delta for name, delta in changed.items()}) != 1:
            available = Distributor.objects.filter(pk=distributor_id).values_list("available_fen", flat=True).first()
            raise WithdrawalExceedsAvailable(detail={"available_fen": available})
    return CommissionEntry.objects.create(distributor_id=distributor_id, reason=reason, reference=reference[:64],
                                          commission_id=commission_id, withdrawal_id=withdrawal_id,
                                          note=note[:200], **changed)


def lock_distributors(ids: Sequence[int]) -> dict[int, Distributor]:
    """Lock the distributors `ids` in id order (the lock order) and return them by id."""
    require_transaction("lock_distributors")
    rows = (Distributor.objects.select_for_update(of=("self",)).select_related("grade")
            .filter(pk__in=set(ids)).order_by("pk"))
    return {d.pk: d for d in rows}


# --- earning on payment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaidLine:
    """One paid order line, as the shop hands it over."""

    line_id: int
    product_id: int
    category_id: int | None
    sku_id: int
    product_name: str
    paid_fen: int  # what the shopper paid for the line after every discount, freight excluded
    activity: str = ""  # "" (none), "flash", "group", "bargain"
    activity_id: int | None = None  # the flash item, the group-buy item, the bargain


def commission_earn_for_order(*, order_ref: str, buyer_id: int, lines: Sequence[PaidLine],
                              now: dt.datetime | None = None) -> list[Commission]:
    """Commission for a paid order: one Commission per line and earning level (待收货), its audit
    row, its ledger row (pending +amount) and the distributors' snapshots.

    Runs in the caller's transaction (the payment's); locks the earning distributors in id order.
    Idempotent per order: an order that already earned returns its commissions and writes
    nothing. Nothing is earned when distribution is off, when nobody earns for the buyer, or on a
    line whose amount rounds to 0.
    """
    require_transaction("commission_earn_for_order")
    now = now or timezone.now()
    rules = distribution_settings_current()
    if not rules.enabled or not lines:
        return []
    earners = _earners(buyer_id=buyer_id, rules=rules, now=now)
    if not earners:
        return []  # most orders: two queries and done
    existing = list(Commission.objects.filter(order_ref=order_ref))
    if existing:
        return existing
    locked = lock_distributors([d.pk for d in earners.values()])
    earners = {level: locked[d.pk] for level, d in earners.items() if distributor_is_earning(locked.get(d.pk))}
    if not earners:
        return []
    earning = _lines_that_earn(lines)
    rates = _RateBook(rules, [line for line in lines if line.line_id in earning])
    rows = []
    for line in lines:
        if line.line_id not in earning or line.paid_fen <= 0:
            continue
        for level, distributor in sorted(earners.items()):
            percent = rates.percent(line, level, distributor)
            amount = apply_rate(line.paid_fen, percent / 100)
            if amount <= 0:
                continue
            rows.append(Commission(distributor=distributor, level=level, buyer_id=buyer_id, order_ref=order_ref,
                                   line_ref=line.line_id, product_id=line.product_id,
                                   product_name=line.product_name[:100], sku_id=line.sku_id, base_fen=line.paid_fen,
                                   percent=percent, amount_fen=amount))
    if not rows:
        return []
    created = Commission.objects.bulk_create(rows)
    CommissionEvent.objects.bulk_create([
        CommissionEvent(commission=c, action=CommissionAction.EARNED, from_status="", to_status=CS.PENDING,
                        actor=Actor.SYSTEM, note=f"订单 {order_ref}", data={"amount_fen": c.amount_fen})
        for c in created])
    by_distributor: dict[int, int] = defaultdict(int)
    for c in created:
        by_distributor[c.distributor_id] += c.amount_fen
    CommissionEntry.objects.bulk_create([
        CommissionEntry(distributor_id=c.distributor_id, reason=EntryReason.EARNED, reference=f"commission:{c.pk}",
                        commission=c, pending_fen=c.amount_fen, note=f"订单 {order_ref}") for c in created])
    for distributor_id, amount in sorted(by_distributor.items()):
        Distributor.objects.filter(pk=distributor_id).update(pending_fen=F("pending_fen") + amount)
    return created


def commission_preview_percent(*, distributor: Distributor, product_id: int, category_id: int | None) -> Decimal:
    """The level-1 rate `distributor` would earn on the product (分享赚 ¥x on the product page)."""
    rules = distribution_settings_current()
    line = PaidLine(line_id=0, product_id=product_id, category_id=category_id, sku_id=0, product_name="", paid_fen=0)
    return _RateBook(rules, [line]).percent(line, 1, distributor)


def _earners(*, buyer_id: int, rules: DistributionSettings, now: dt.datetime) -> dict[int, Distributor]:
    """Level → distributor for a purchase by `buyer_id` (any status; the caller filters). Two levels
    at most whatever the chain's length: the third is never looked up."""
    earners: dict[int, Distributor] = {}
    own = None
    if rules.self_purchase:
        own = Distributor.objects.filter(member_id=buyer_id).select_related("grade").first()
    first = own if distributor_is_earning(own) else upline_of(member_id=buyer_id, now=now)
    if first is None:
        return earners
    earners[1] = first
    if rules.levels >= 2:
        second = upline_of(member_id=first.member_id, now=now)
        if second is not None and second.member_id != buyer_id and second.pk != first.pk:
            earners[2] = second
    return earners


def _lines_that_earn(lines: Sequence[PaidLine]) -> set[int]:
    """The lines that may earn: every line outside an activity, and activity lines whose activity
    says so (a flash-sale session, a group-buy activity with commission on); bargain lines never."""
    flash_ids = {line.activity_id for line in lines if line.activity == ACTIVITY_FLASH and line.activity_id}
    flash_on = set(FlashItem.objects.filter(pk__in=flash_ids, session__commission_enabled=True)
                   .values_list("pk", flat=True)) if flash_ids else set()
    group_ids = {line.activity_id for line in lines if line.activity == ACTIVITY_GROUP and line.activity_id}
    group_on = set(GroupBuyItem.objects.filter(pk__in=group_ids, activity__commission_enabled=True)
                   .values_list("pk", flat=True)) if group_ids else set()
    return {line.line_id for line in lines
            if not line.activity or (line.activity == ACTIVITY_FLASH and line.activity_id in flash_on)
            or (line.activity == ACTIVITY_GROUP and line.activity_id in group_on)}


class _RateBook:
    """The rate of a line at a level: product → category (nearest ancestor) → grade → global.
    Reads every product rate and every category rate once (operators set a handful of each)."""

    def __init__(self, rules: DistributionSettings, lines: Sequence[PaidLine]) -> None:
        self.rules = rules
        self.by_product: dict[int, CommissionRate] = {}
        self.by_category: dict[int, CommissionRate] = {}
        product_ids = {line.product_id for line in lines}
        for rate in CommissionRate.objects.filter(product_id__in=product_ids) | CommissionRate.objects.filter(
                category__isnull=False):
            if rate.product_id is not None:
                self.by_product[rate.product_id] = rate
            elif rate.category_id is not None:
                self.by_category[rate.category_id] = rate
        self.parents: dict[int, int | None] = {}
        if self.by_category:
            wanted = {line.category_id for line in lines if line.category_id}
            while wanted - set(self.parents):
                rows = dict(Category.objects.filter(pk__in=wanted - set(self.parents)).values_list("pk", "parent_id"))
                self.parents.update(rows)
                self.parents.update({pk: None for pk in wanted - set(self.parents)})  # gone: stop there
                wanted = {parent for parent in rows.values() if parent is not None}

    def percent(self, line: PaidLine, level: int, distributor: Distributor) -> Decimal:
        field = "level1_percent" if level == 1 else "level2_percent"
        rate = self.by_product.get(line.product_id)
        if rate is not None:
            return Decimal(getattr(rate, field))
        category = line.category_id
        seen: set[int] = set()
        while category is not None and category not in seen:
            seen.add(category)
            rate = self.by_category.get(category)
            if rate is not None:
                return Decimal(getattr(rate, field))
            category = self.parents.get(category)
        grade = distributor.grade
        if grade is not None and getattr(grade, field) is not None:
            return Decimal(getattr(grade, field))
        return Decimal(getattr(self.rules, field))


# --- receipt: frozen until the after-sales window closes ----------------------------------------------------


def commission_freeze_for_order(*, order_ref: str, received_at: dt.datetime) -> int:
    """The order was received: its pending commissions become frozen (冻结中) until
    `received_at` + the settle days (the after-sales window), each with its audit row and ledger
    row (pending → frozen). Returns how many moved.

    Runs in the caller's transaction (the receipt's, order row locked); locks the distributors in
    id order, then the commissions. Idempotent: a commission already frozen is left alone.
    """
    require_transaction("commission_freeze_for_order")
    pending = list(Commission.objects.filter(order_ref=order_ref, status=CS.PENDING)
                   .values_list("pk", "distributor_id"))
    if not pending:
        return 0
    settle_at = received_at + dt.timedelta(days=distribution_settings_current().settle_days)
    lock_distributors([distributor_id for _, distributor_id in pending])
    moved = 0
    note = f"可提现时间 {timezone.localtime(settle_at):%Y-%m-%d %H:%M}"
    for pk, _ in sorted(pending):
        commission, changed = COMMISSION_MACHINE.transition(pk=pk, to=CS.FROZEN, action=CommissionAction.FROZEN,
                                                            allowed_from=[CS.PENDING], fields={"settle_at": settle_at},
                                                            note=note)
        if changed:
            net = commission.net_fen
            ledger_move(distributor_id=commission.distributor_id, reason=EntryReason.FROZEN,
                        reference=f"commission:{pk}", commission_id=pk,
                        moves=Moves(pending_fen=-net, frozen_fen=net), note=f"订单 {order_ref} 确认收货")
            moved += 1
    return moved


# --- refunds -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundedLine:
    """A refunded order line: everything refunded on it so far, this refund included."""

    line_id: int
    refunded_fen: int


def commission_reverse_for_refund(*, order_ref: str, refund_ref: str, lines: Sequence[RefundedLine]) -> int:
    """Take back the refunded share of the order's commissions (both levels), exactly.

    For each commission of a refunded line, the commission keeps ⌊amount × (base − refunded) /
    base⌋, where refunded is the line's refunded total including this refund; what it gave beyond
    that (minus earlier reversals) is taken back now:

    - pending or frozen: off the commission and that bucket (冻结/待结算); cancelled at zero;
    - available or withdrawn: a Clawback — from the available balance as far as it goes, the rest
      owed (待扣回), offset against later settlements.

    Runs in the caller's transaction (the refund's, order row locked); locks the distributors in id
    order, then the commissions. Idempotent per (commission, refund_ref), and since each reversal is
    computed from the cumulative refunded amount, a repeated or late refund can never take more
    than the commission gave. Returns the fen taken back.
    """
    require_transaction("commission_reverse_for_refund")
    refunded = {line.line_id: line.refunded_fen for line in lines if line.refunded_fen > 0}
    if not refunded:
        return 0
    candidates = list(Commission.objects.filter(order_ref=order_ref, line_ref__in=list(refunded))
                      .exclude(status=CS.CANCELLED).values_list("distributor_id", flat=True))
    if not candidates:
        return 0
    lock_distributors(candidates)
    commissions = list(Commission.objects.select_for_update().filter(order_ref=order_ref, line_ref__in=list(refunded))
                       .exclude(status=CS.CANCELLED).order_by("pk"))
    taken = 0
    for commission in commissions:
        want = _share_to_take_back(commission, refunded[commission.line_ref])
        if want <= 0:
            continue
        reference = f"refund:{refund_ref}:{commission.pk}"
        if commission.status in (CS.PENDING, CS.FROZEN):
            taken += _reverse_unsettled(commission, want, reference=reference, refund_ref=refund_ref)
        else:
            taken += _claw_back(commission, want, reference=reference, refund_ref=refund_ref)
    return taken


def _share_to_take_back(commission: Commission, line_refunded_fen: int) -> int:
    base = commission.base_fen
    if base <= 0:
        return 0
    refunded = min(max(line_refunded_fen, 0), base)
    kept = commission.amount_fen * (base - refunded) // base
    return commission.amount_fen - kept - commission.refunded_fen


def _reverse_unsettled(commission: Commission, want: int, *, reference: str, refund_ref: str) -> int:
    bucket = "pending_fen" if commission.status == CS.PENDING else "frozen_fen"
    entry = ledger_move(distributor_id=commission.distributor_id, reason=EntryReason.REVERSED, reference=reference,
                        commission_id=commission.pk, moves=Moves(**{bucket: -want}), note=f"退款 {refund_ref}")
    if entry is None:
        return 0
    refunded = commission.refunded_fen + want
    data = {"refund_ref": refund_ref, "taken_fen": want}
    if refunded == commission.amount_fen:
        COMMISSION_MACHINE.transition(pk=commission.pk, to=CS.CANCELLED, action=CommissionAction.CANCELLED,
                                      note=f"退款 {refund_ref}，佣金全部扣减", data=data,
                                      fields={"refunded_fen": refunded})
    else:
        Commission.objects.filter(pk=commission.pk).update(refunded_fen=refunded)
        commission.refunded_fen = refunded
        COMMISSION_MACHINE.record(commission, action=CommissionAction.REVERSED,
                                  note=f"退款 {refund_ref}，扣减 ¥{yuan(want)}", data=data)
    return want


def _claw_back(commission: Commission, want: int, *, reference: str, refund_ref: str) -> int:
    available = Distributor.objects.filter(pk=commission.distributor_id).values_list("available_fen", flat=True).get()
    from_available = min(available, want)
    owed = want - from_available
    entry = ledger_move(distributor_id=commission.distributor_id, reason=EntryReason.CLAWBACK, reference=reference,
                        commission_id=commission.pk, moves=Moves(available_fen=-from_available, owed_fen=owed),
                        note=f"退款 {refund_ref}")
    if entry is None:
        return 0
    Commission.objects.filter(pk=commission.pk).update(refunded_fen=F("refunded_fen") + want)
    commission.refunded_fen += want
    clawback = Clawback.objects.create(
        distributor_id=commission.distributor_id, commission=commission, refund_ref=refund_ref[:64], amount_fen=want,
        from_available_fen=from_available, owed_fen=owed,
        status=ClawbackStatus.OWED if owed else ClawbackStatus.RECOVERED,
        recovered_at=None if owed else timezone.now())
    CLAWBACK_MACHINE.record(clawback, action=ClawbackAction.CREATED, from_status="",
                            note=f"退款 {refund_ref}：可提现扣除 ¥{yuan(from_available)}，待后续佣金抵扣 ¥{yuan(owed)}",
                            data={"amount_fen": want, "from_available_fen": from_available, "owed_fen": owed})
    COMMISSION_MACHINE.record(commission, action=CommissionAction.CLAWED_BACK, note=f"退款 {refund_ref}",
                              data={"refund_ref": refund_ref, "clawback_id": clawback.pk, "amount_fen": want})
    return want
