"""Flash sales (秒杀): taking and giving back activity stock, allowance and subsidy; daily sessions.

Checkout (shop) prices a flash line with `campaigns.selectors.flash.flash_offers()` and, inside
its order-placement transaction, calls `flash_reserve()`; cancelling an unpaid order calls
`flash_release()`. Every counter moves by a conditional UPDATE whose row count is checked (the
limit is the WHERE clause, never read-modify-write), backed by the tables' CheckConstraints.

Lock order, the same in reserve and release so two orders never deadlock: the member's
allowance rows (FlashPurchase), then FlashItem rows, then FlashSession rows, each group in id
order. Checkout should call `flash_reserve()` before it takes the product's own stock, and
`flash_release()` before it gives that stock back, so the product's Stock row always comes last.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from campaigns.errors import (
    FlashBudgetExhausted,
    FlashItemNotFound,
    FlashLimitExceeded,
    FlashNotActive,
    FlashSoldOut,
)
from campaigns.models import FlashItem, FlashPurchase, FlashReservation, FlashSession
from campaigns.selectors.flash import FlashOffer
from campaigns.services.flash_gate import flash_gate_forget
from core.db import require_transaction
from core.errors import ValidationFailed


@dataclass(frozen=True)
class FlashWant:
    """Units of a flash item an order line wants, with the SKU's list price (for the subsidy)."""

    item_id: int
    quantity: int
    list_price_fen: int


def flash_precheck(*, member_id: int, wants: Sequence[FlashWant], offers: Mapping[int, FlashOffer]) -> None:
    """Refuse, before anything is written, what the offers just read already show cannot sell:
    FlashLimitExceeded when the member's units plus these pass the limit, FlashSoldOut when fewer
    units are left (the same checks, in the same order, as flash_reserve).

    A read only, so a rush's losers are answered at read speed; it may let through an order that
    flash_reserve's conditional UPDATEs then refuse, and never refuses one they would take,
    except one racing a cancellation that gives units back at that very moment.
    Offers read without the units left or the holdings (flash_offers without member_id) are skipped.
    """
    merged = _merge(list(wants))
    for item_id in sorted(merged):
        offer = offers.get(item_id)
        if offer is None:
            continue
        units = merged[item_id][0]
        held = offer.member_bought
        if units > offer.per_member_limit or (held is not None and held + units > offer.per_member_limit):
            raise FlashLimitExceeded(detail={"flash_item_id": item_id, "per_member_limit": offer.per_member_limit})
        if offer.stock_left is not None and offer.stock_left < units:
            raise FlashSoldOut(detail={"flash_item_id": item_id})


def flash_reserve(*, member_id: int, order_id: int, wants: list[FlashWant],
                  offers: Mapping[int, FlashOffer] | None = None) -> None:
    """Take allowance, activity stock and session subsidy for an order's flash lines; all or nothing.

    Runs in the caller's transaction (a savepoint of it: on any refusal nothing of this call
    remains). In order, each a conditional UPDATE with its row count checked:
    (a) the member's allowance: FlashPurchase.quantity + n <= per_member_limit, else
        FlashLimitExceeded (the row is inserted first if missing);
    (b) activity stock: FlashItem.stock_left >= n, else FlashSoldOut;
    (c) the session's subsidy, (list price - flash price) x n, within budget_fen when one is set,
        else FlashBudgetExhausted;
    then one FlashReservation per item (unique per item and order). Items of a session that is
    disabled or not running now: FlashNotActive; unknown items: FlashItemNotFound.
    Locks: allowance rows, then items, then sessions, each in id order. Not idempotent by
    itself: the caller's order row (unique idempotency key) makes placement idempotent.
    `offers` (campaigns.selectors.flash.flash_offers, read by the caller's pricing moments ago)
    spares reading the items again when it has them all; their sessions' times are still checked
    against now.
    """
    require_transaction("flash_reserve")
    merged = _merge(wants)
    if not merged:
        return
    now = timezone.now()
    if offers is not None and all(item_id in offers for item_id in merged):
        items: dict[int, dict[str, Any]] = {
            item_id: {"pk": item_id, "session_id": o.session_id, "flash_price_fen": o.flash_price_fen,
                      "per_member_limit": o.per_member_limit, "session__is_active": True,
                      "session__starts_at": o.starts_at, "session__ends_at": o.ends_at}
            for item_id, o in offers.items() if item_id in merged}
    else:
        items = {row["pk"]: dict(row) for row in FlashItem.objects.filter(pk__in=list(merged)).values(
            "pk", "session_id", "flash_price_fen", "per_member_limit",
            "session__is_active", "session__starts_at", "session__ends_at")}
    missing = sorted(set(merged) - set(items))
    if missing:
        raise FlashItemNotFound(detail={"flash_item_ids": missing})
    for item_id in sorted(merged):
        row = items[item_id]
        if not (row["session__is_active"] and row["session__starts_at"] <= now < row["session__ends_at"]):
            raise FlashNotActive(detail={"flash_item_id": item_id})
    subsidy = {item_id: max(merged[item_id][1] - items[item_id]["flash_price_fen"], 0) * merged[item_id][0]
               for item_id in merged}
    with transaction.atomic():
        _take(member_id=member_id, units={item_id: merged[item_id][0] for item_id in merged},
              limits={item_id: items[item_id]["per_member_limit"] for item_id in merged},
              subsidies=_per_session((items[item_id]["session_id"], subsidy[item_id]) for item_id in merged))
        FlashReservation.objects.bulk_create(
            FlashReservation(item_id=item_id, member_id=member_id, order_id=order_id,
                             quantity=merged[item_id][0], subsidy_fen=subsidy[item_id])
            for item_id in sorted(merged)
        )


def _merge(wants: list[FlashWant]) -> dict[int, tuple[int, int]]:
    """item_id -> (units, list price); two lines of the same item count together."""
    merged: dict[int, tuple[int, int]] = {}
    for want in wants:
        if want.quantity < 1 or want.list_price_fen < 0:
            raise ValidationFailed("秒杀商品数量有误", code="invalid_quantity",
                                   detail={"flash_item_id": want.item_id})
        units = merged.get(want.item_id, (0, want.list_price_fen))[0]
        merged[want.item_id] = (units + want.quantity, want.list_price_fen)
    return merged


def _per_session(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for session_id, amount in pairs:
        totals[session_id] += amount
    return totals


_PURCHASE = FlashPurchase._meta.db_table
_ALLOWANCE_TAKE = (
    f"INSERT INTO {_PURCHASE} (item_id, member_id, quantity) VALUES (%s, %s, %s) "
    f"ON CONFLICT (item_id, member_id) DO UPDATE SET quantity = {_PURCHASE}.quantity + EXCLUDED.quantity "
    f"WHERE {_PURCHASE}.quantity + EXCLUDED.quantity <= %s RETURNING 1")


def _take(*, member_id: int, units: dict[int, int], limits: dict[int, int], subsidies: dict[int, int]) -> None:
    """Allowance, then activity stock, then session subsidy: conditional UPDATEs in the global lock order.

    Must run in a savepoint of the caller's: a refusal part-way leaves what was already taken.
    """
    for item_id in sorted(units):
        quantity, limit = units[item_id], limits[item_id]
        if quantity > limit:
            raise FlashLimitExceeded(detail={"flash_item_id": item_id, "per_member_limit": limit})
        # The allowance row is created or added to in one statement; the limit is its WHERE.
        with connection.cursor() as cursor:
            cursor.execute(_ALLOWANCE_TAKE, [item_id, member_id, quantity, limit])
            if cursor.fetchone() is None:
                raise FlashLimitExceeded(detail={"flash_item_id": item_id, "per_member_limit": limit})
    for item_id in sorted(units):
        quantity = units[item_id]
        if FlashItem.objects.filter(pk=item_id, stock_left__gte=quantity).update(
                stock_left=F("stock_left") - quantity) != 1:
            raise FlashSoldOut(detail={"flash_item_id": item_id})
    for session_id in sorted(subsidies):
        amount = subsidies[session_id]
        if amount == 0:
            continue
        # With no budget the subsidy is still counted (已用补贴), just not capped.
        within = Q(budget_fen__isnull=True) | Q(subsidy_fen__lte=F("budget_fen") - amount)
        if FlashSession.objects.filter(within, pk=session_id).update(subsidy_fen=F("subsidy_fen") + amount) != 1:
            raise FlashBudgetExhausted(detail={"session_id": session_id})


def flash_release(*, order_id: int) -> int:
    """Give back the activity stock, allowance and subsidy an order holds. Returns units released.

    For a cancelled unpaid order. Exactly once per reservation, even when called twice or
    concurrently: each reservation is claimed by a conditional UPDATE (released_at IS NULL) and
    only the call that claimed it gives anything back; a later call returns 0. Runs in the
    caller's transaction if there is one (a savepoint), else its own. Locks the order's
    reservations, then allowance rows, items and sessions in id order (as flash_reserve).
    """
    with transaction.atomic():
        now = timezone.now()
        pending = list(FlashReservation.objects.filter(order_id=order_id, released_at__isnull=True)
                       .order_by("item_id").values("pk", "item_id", "member_id", "quantity", "subsidy_fen",
                                                   "item__session_id"))
        mine = [r for r in pending
                if FlashReservation.objects.filter(pk=r["pk"], released_at__isnull=True).update(released_at=now)]
        for r in mine:
            FlashPurchase.objects.filter(item_id=r["item_id"], member_id=r["member_id"]).update(
                quantity=Greatest(F("quantity") - r["quantity"], Value(0)))
        for r in mine:
            # An operator may have lowered stock_total meanwhile: never above it (the CheckConstraint).
            FlashItem.objects.filter(pk=r["item_id"]).update(
                stock_left=Least(F("stock_left") + r["quantity"], F("stock_total")))
        per_session = _per_session((r["item__session_id"], r["subsidy_fen"]) for r in mine)
        for session_id in sorted(per_session):
            if per_session[session_id]:
                FlashSession.objects.filter(pk=session_id).update(
                    subsidy_fen=Greatest(F("subsidy_fen") - per_session[session_id], Value(0)))
        if mine:
            # The units are PostgreSQL's again: the Redis gate re-reads them (after the commit).
            freed = sorted({r["item_id"] for r in mine})
            transaction.on_commit(lambda: flash_gate_forget(item_ids=freed), robust=True)
        return sum(r["quantity"] for r in mine)


def flash_reclaim(*, order_id: int) -> int:
    """Take back what a cancelled order's flash lines released, when a late payment revives it.

    For checkout's revive path (paid after the auto-cancel): the order holds its flash units
    again only if the member's allowance, the activity stock and the session budget still allow
    it — the session may have ended, a late payment is honoured at the price it was placed at.
    All or nothing in a savepoint of the caller's transaction; raises FlashLimitExceeded /
    FlashSoldOut / FlashBudgetExhausted with nothing changed, for the caller to decide (refund,
    or let the payment stand and record it). Returns the units taken back; 0 when nothing was
    released (already reclaimed, or never cancelled), so a repeat is a no-op. Same lock order
    as flash_reserve, after the order's reservations.
    """
    require_transaction("flash_reclaim")
    with transaction.atomic():
        released = list(FlashReservation.objects.filter(order_id=order_id, released_at__isnull=False)
                        .order_by("item_id").values("pk", "item_id", "member_id", "quantity", "subsidy_fen",
                                                    "item__session_id", "item__per_member_limit"))
        mine = [r for r in released
                if FlashReservation.objects.filter(pk=r["pk"], released_at__isnull=False).update(released_at=None)]
        if not mine:
            return 0
        _take(member_id=mine[0]["member_id"], units={r["item_id"]: r["quantity"] for r in mine},
              limits={r["item_id"]: r["item__per_member_limit"] for r in mine},
              subsidies=_per_session((r["item__session_id"], r["subsidy_fen"]) for r in mine))
        return sum(r["quantity"] for r in mine)


# Serialises concurrent runs of the daily job (two beat schedulers, an operator's click).
_SESSIONS_LOCK_KEY = 0x464C415348  # "FLASH"


def flash_sessions_create_for_day(*, day: dt.date | None = None) -> list[FlashSession]:
    """Create the default sessions (settings.FLASH_SALE_SLOTS) of a Shanghai day; default tomorrow.

    Returns the sessions created. Idempotent: a slot whose start already has a session (made by
    an earlier run or by an operator, enabled or not) is skipped, so a second run creates
    nothing. One durable transaction holding a transaction-level advisory lock, so two runs at
    the same moment cannot both create a slot.
    """
    day = day or timezone.localdate() + dt.timedelta(days=1)
    slots = []
    for hour, hours in settings.FLASH_SALE_SLOTS:
        starts_at = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
        slots.append((starts_at, starts_at + dt.timedelta(hours=hours), f"{day.month}月{day.day}日 {hour:02d}:00 场"))
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SESSIONS_LOCK_KEY])
        taken = set(FlashSession.objects.filter(starts_at__in=[s[0] for s in slots])
                    .values_list("starts_at", flat=True))
        return [
            FlashSession.objects.create(name=name, starts_at=starts_at, ends_at=ends_at,
                                        unpaid_timeout_minutes=settings.FLASH_SALE_UNPAID_TIMEOUT_MINUTES)
            for starts_at, ends_at, name in slots if starts_at not in taken
        ]
