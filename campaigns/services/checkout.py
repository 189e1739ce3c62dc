"""Coupons and flash stock through an order's life: locked at placement, used at payment, given
back when an unpaid order is cancelled, returned on a full refund when the template says so.

Shop calls these inside its own transactions (placement, cancel, payment, refund) with plain
values — campaigns never imports shop. Every coupon change is a conditional UPDATE on the
coupon's current status (and order), checked by its row count, plus one CouponEvent whose
(coupon, action, reference=order_no) is unique: so each step happens exactly once per order
however often, or however concurrently, it is asked for.

Coupons are locked in id order, before any other campaign row (docs/architecture.md, "Lock
order"). A template's used_count and redeemed_value_fen are hot counters: every payment with a
popular coupon would queue on the template's row, so they move after the payment or refund
commits, and `coupon_template_counts_reconcile` recomputes them every night.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from campaigns.errors import CouponUnavailable
from campaigns.models import Coupon, CouponEvent, CouponStatus, CouponTemplate, FlashItem
from campaigns.selectors.flash import FlashOffer
from campaigns.services.flash import FlashWant, flash_release, flash_reserve
from core.counters import CounterDrift, counters_repair
from core.db import require_transaction

Action = CouponEvent.Action


@dataclass(frozen=True)
class CouponUse:
    """A coupon an order uses and what it takes off (goods or freight), as priced."""

    coupon_id: int
    discount_fen: int


def campaign_reserve(*, member_id: int, order_id: int, order_no: str, coupons: Sequence[CouponUse],
                     flash: Sequence[FlashWant], now: dt.datetime | None = None,
                     flash_offers: Mapping[int, FlashOffer] | None = None) -> int | None:
    """Lock the order's coupons and take its flash allowance and stock. Returns the unpaid timeout
    in minutes the order must use (the shortest of its flash sessions'), or None for no constraint.

    Runs in the caller's (placement) transaction, before product stock is taken. Each coupon:
    AVAILABLE → LOCKED by a conditional UPDATE that also requires the member and `now` within
    its validity, with the order and its discount; a LOCKED event. A coupon taken meanwhile by
    another order raises CouponUnavailable (409 coupon_unavailable) and the caller rolls the
    whole order back. Then campaigns.services.flash.flash_reserve() (FlashNotActive,
    FlashSoldOut, FlashLimitExceeded, FlashBudgetExhausted), with the `flash_offers` the caller
    priced with when it has them (no second read of the items and their sessions). Not
    idempotent by itself: the order's idempotency key makes placement idempotent.
    """
    require_transaction("campaign_reserve")
    now = now or timezone.now()
    for use in sorted(coupons, key=lambda u: u.coupon_id):
        locked = Coupon.objects.filter(
            pk=use.coupon_id, member_id=member_id, status=CouponStatus.AVAILABLE, valid_from__lte=now,
            valid_until__gt=now,
        ).update(status=CouponStatus.LOCKED, order_id=order_id, discount_fen=use.discount_fen)
        if locked != 1:
            raise CouponUnavailable(detail={"coupon_id": use.coupon_id})
        CouponEvent.objects.create(coupon_id=use.coupon_id, action=Action.LOCKED, reference=order_no,
                                   amount_fen=use.discount_fen)
    if not flash:
        return None
    flash_reserve(member_id=member_id, order_id=order_id, wants=list(flash), offers=flash_offers)
    if flash_offers is not None and all(w.item_id in flash_offers for w in flash):
        return min(flash_offers[w.item_id].unpaid_timeout_minutes for w in flash)
    timeouts = FlashItem.objects.filter(pk__in=[w.item_id for w in flash]).values_list(
        "session__unpaid_timeout_minutes", flat=True)
    return min(timeouts, default=None)


def campaign_release(*, order_id: int, order_no: str, now: dt.datetime | None = None) -> int:
    """Give back what a cancelled unpaid order held: its coupons and its flash stock. Returns the
    number of coupons released.

    Runs in the caller's (cancel) transaction. Each LOCKED coupon of the order goes back to
    AVAILABLE — or to EXPIRED when its validity has ended: an expired coupon is not revived —
    with a RELEASED event (and an EXPIRED one). Exactly once: a conditional UPDATE on
    (order, LOCKED), so a second call, even concurrent, finds nothing. Then
    campaigns.services.flash.flash_release(), itself exactly once per reservation.
    """
    require_transaction("campaign_release")
    now = now or timezone.now()
    released = 0
    held = Coupon.objects.filter(order_id=order_id, status=CouponStatus.LOCKED).order_by("id")
    for pk, valid_until, discount_fen in held.values_list("pk", "valid_until", "discount_fen"):
        expired = valid_until <= now
        changed = Coupon.objects.filter(pk=pk, order_id=order_id, status=CouponStatus.LOCKED).update(
            status=CouponStatus.EXPIRED if expired else CouponStatus.AVAILABLE, order=None, discount_fen=0)
        if changed != 1:
            continue
        CouponEvent.objects.create(coupon_id=pk, action=Action.RELEASED, reference=order_no, amount_fen=discount_fen)
        if expired:
            CouponEvent.objects.create(coupon_id=pk, action=Action.EXPIRED, reference=order_no)
        released += 1
    flash_release(order_id=order_id)
    return released


@dataclass(frozen=True)
class PaidCoupons:
    used: list[int]  # coupons now USED by the order
    not_retaken: list[int]  # a revived order's coupons that were no longer there to take


def campaign_confirm_paid(*, order_id: int, order_no: str, now: dt.datetime | None = None) -> PaidCoupons:
    """Consume the coupons of an order that was just paid. Never fails the payment.

    Runs in the caller's (payment) transaction. Each coupon the order locked at placement:
    LOCKED → USED (conditional on the order), a USED event, and — after the transaction commits
    (_template_counts_after_commit) — its template's used_count + 1 and redeemed_value_fen + its
    discount. A revived order (cancelled, then paid late) had its
    coupons released: each is taken again if it is still AVAILABLE; otherwise (used by another
    order since, or expired) it is reported in `not_retaken` for the caller to record — the
    shopper has paid, so the payment stands. Idempotent: a coupon already USED is left alone.
    """
    require_transaction("campaign_confirm_paid")
    now = now or timezone.now()
    used: list[int] = []
    missing: list[int] = []
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    locks = CouponEvent.objects.filter(action=Action.LOCKED, reference=order_no).order_by("coupon_id")
    for coupon_id, amount_fen, template_id, status, holder in locks.values_list(
            "coupon_id", "amount_fen", "coupon__template_id", "coupon__status", "coupon__order_id"):
        if status == CouponStatus.USED and holder == order_id:
            continue  # done by an earlier call
        taken = Coupon.objects.filter(pk=coupon_id, order_id=order_id, status=CouponStatus.LOCKED).update(
            status=CouponStatus.USED, used_at=now)
        if not taken:
            taken = Coupon.objects.filter(pk=coupon_id, status=CouponStatus.AVAILABLE).update(
                status=CouponStatus.USED, used_at=now, order_id=order_id, discount_fen=amount_fen)
        if not taken:
            missing.append(coupon_id)
            continue
        CouponEvent.objects.create(coupon_id=coupon_id, action=Action.USED, reference=order_no, amount_fen=amount_fen)
        counts[template_id][0] += 1
        counts[template_id][1] += amount_fen
        used.append(coupon_id)
    _template_counts_after_commit(counts)
    return PaidCoupons(used=used, not_retaken=missing)


def campaign_refund(*, order_id: int, order_no: str, full: bool, now: dt.datetime | None = None) -> int:
    """After a refund of an order: on a full refund, return the coupons whose template says so
    (return_on_full_refund). Returns how many were returned; a partial refund returns none.

    Runs in the caller's (refund) transaction. USED → AVAILABLE, or EXPIRED when its validity has
    ended, with a RETURNED event; after the transaction commits, the template's used_count and
    redeemed_value_fen go back down (never below zero). Once per order: a conditional UPDATE on
    (order, USED).
    """
    require_transaction("campaign_refund")
    if not full:
        return 0
    now = now or timezone.now()
    returned = 0
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (Coupon.objects.filter(order_id=order_id, status=CouponStatus.USED, template__return_on_full_refund=True)
            .order_by("id").values_list("pk", "template_id", "valid_until", "discount_fen"))
    for pk, template_id, valid_until, discount_fen in rows:
        expired = valid_until <= now
        changed = Coupon.objects.filter(pk=pk, order_id=order_id, status=CouponStatus.USED).update(
            status=CouponStatus.EXPIRED if expired else CouponStatus.AVAILABLE, order=None, discount_fen=0,
            used_at=None)
        if changed != 1:
            continue
        CouponEvent.objects.create(coupon_id=pk, action=Action.RETURNED, reference=order_no, amount_fen=discount_fen)
        if expired:
            CouponEvent.objects.create(coupon_id=pk, action=Action.EXPIRED, reference=order_no)
        counts[template_id][0] -= 1
        counts[template_id][1] -= discount_fen
        returned += 1
    _template_counts_after_commit(counts)
    return returned


def _template_counts_after_commit(counts: dict[int, list[int]]) -> None:
    """template_id -> [used, redeemed fen] to add to the templates' counters after the commit."""
    changes = {template_id: (used, fen) for template_id, (used, fen) in counts.items() if used or fen}
    if changes:
        transaction.on_commit(partial(_template_counts_add, changes), robust=True)


def _template_counts_add(changes: dict[int, tuple[int, int]]) -> None:
    # One short UPDATE per template, in id order, outside any payment's transaction.
    for template_id in sorted(changes):
        used, fen = changes[template_id]
        CouponTemplate.objects.filter(pk=template_id).update(
            used_count=Greatest(F("used_count") + used, Value(0)),
            redeemed_value_fen=Greatest(F("redeemed_value_fen") + fen, Value(0)))


def coupon_template_counts_reconcile(*, quiet_since: dt.datetime,
                                     batch_size: int | None = None) -> tuple[list[CounterDrift], int]:
    """The nightly check of the templates' hot counters: used_count is the number of the
    template's coupons that are USED, redeemed_value_fen the sum of their discounts. Repairs and
    returns the drifts (core.counters.counters_repair) and the number of templates left for the
    next run.

    A template with a coupon used or returned since `quiet_since` is left for the next run: its
    after-commit change may not have landed yet, and "repairing" it now would count that change
    twice. Reads templates in primary-key chunks, each one statement (one snapshot of templates
    and coupons); no row is locked.
    """
    batch = batch_size or settings.COUNTERS_RECONCILE_BATCH
    used = Coupon.objects.filter(template=OuterRef("pk"), status=CouponStatus.USED).order_by().values("template")
    busy = set(CouponEvent.objects.filter(action__in=[Action.USED, Action.RETURNED], created_at__gte=quiet_since)
               .values_list("coupon__template_id", flat=True).distinct())
    drifts: list[CounterDrift] = []
    skipped = 0
    after = 0
    while True:
        rows = list(CouponTemplate.objects.filter(pk__gt=after).order_by("pk").annotate(
            expected_used=Coalesce(Subquery(used.annotate(n=Count("pk")).values("n")), Value(0)),
            expected_fen=Coalesce(Subquery(used.annotate(fen=Sum("discount_fen")).values("fen")), Value(0)),
        ).values_list("pk", "used_count", "redeemed_value_fen", "expected_used", "expected_fen")[:batch])
        if not rows:
            return drifts, skipped
        after = rows[-1][0]
        for pk, used_count, redeemed_fen, expected_used, expected_fen in rows:
            if pk in busy:
                skipped += 1
                continue
            drifts += counters_repair(CouponTemplate, pk=pk, values={
                "used_count": (used_count, expected_used), "redeemed_value_fen": (redeemed_fen, expected_fen)})
