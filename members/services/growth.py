"""Growth (成长值) and tiers: award, reverse, adjust; the tier follows the growth at once.

Every change is one `GrowthEntry` row and the matching change of the `Member.growth` snapshot,
in the same transaction. These functions run in the CALLER's transaction (a savepoint, never
durable): the shop awards growth inside its payment transaction and reverses it inside its
refund transaction, so the growth and the payment commit or roll back together.

Locks: the member row (`SELECT … FOR UPDATE`) first, then the ledger. Every growth change of
one member is therefore serialised, which is what makes "exactly once per reference" and
"a reversal never takes back more than was awarded" hold when retries and partial refunds
race each other.

Tiers follow growth both ways: an award that reaches a tier's threshold upgrades at once, and
a reversal (or an operator's deduction) that drops below it downgrades at once. The tier is
the highest `Tier` whose `min_growth` <= growth; every change leaves a `TierChange` row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Sum

from core.errors import NotFound, ValidationFailed
from core.operators import operator_id
from core.tracking import track
from members.models import GrowthEntry, GrowthReason, GrowthRule, Member, Tier, TierChange

# Reasons growth_award() accepts. REFUND rows are written by growth_reverse() only.
AWARD_REASONS = frozenset({GrowthReason.PURCHASE, GrowthReason.REVIEW, GrowthReason.SIGNIN, GrowthReason.ADJUST})


@dataclass(frozen=True)
class GrowthChange:
    member_id: int
    delta: int  # what the growth actually changed by (0 when nothing changed)
    growth: int  # the member's growth afterwards
    tier_id: int | None
    tier_changed: bool
    created: bool  # False: nothing new was written (a repeat of the reference, or nothing to do)
    entry_id: int | None


# ---------------------------------------------------------------------------------------------
# Rules (reads)


def growth_rule_current() -> GrowthRule:
    """The operators' growth rules (the one row; created with the defaults if missing)."""
    rule, _ = GrowthRule.objects.get_or_create(pk=1)
    return rule


def growth_for_payment(*, paid_fen: int) -> int:
    """Growth earned by paying `paid_fen`: whole yuan × the rule's per-yuan growth (¥99.99 → 99)."""
    if paid_fen <= 0:
        return 0
    return (paid_fen // 100) * growth_rule_current().per_yuan


def growth_for_review() -> int:
    """Growth earned by one review (the rule's per-review growth)."""
    return growth_rule_current().per_review


def tier_for_growth(*, growth: int) -> Tier | None:
    """The highest tier whose threshold `growth` reaches (None only if no tier is configured)."""
    return Tier.objects.filter(min_growth__lte=max(growth, 0)).order_by("-min_growth").first()


def member_tier(*, member_id: int) -> Tier | None:
    """The member's tier; a member who never earned growth yet has the tier their growth gives."""
    member = Member.objects.select_related("tier").filter(pk=member_id).first()
    if member is None:
        return None
    return member.tier or tier_for_growth(growth=member.growth)


def member_may_buy_early(*, member_id: int, required_tier_level: int | None) -> bool:
    """Whether the member may buy a product during its early-access (新品优先购) window.

    True when the member's tier has the early-access benefit (Tier.early_access) and, if the
    product names a minimum tier level, the member's tier level is at least that. A product
    with no early-access window needs no check (the shop only asks inside the window).
    """
    tier = member_tier(member_id=member_id)
    return tier_may_buy_early(tier_level=tier.level if tier else None,
                              tier_early_access=bool(tier and tier.early_access),
                              required_tier_level=required_tier_level)


def tier_may_buy_early(*, tier_level: int | None, tier_early_access: bool, required_tier_level: int | None) -> bool:
    """member_may_buy_early()'s rule on facts already read: a tier with the early-access benefit,
    at least at the product's minimum level when it names one."""
    if tier_level is None or not tier_early_access:
        return False
    return required_tier_level is None or tier_level >= required_tier_level


@dataclass(frozen=True)
class GrowthOverview:
    growth: int
    tier: Tier | None
    next_tier: Tier | None
    growth_to_next: int | None
    tiers: list[Tier]
    recent: list[GrowthEntry]


def member_growth_overview(*, member: Member, recent: int = 20) -> GrowthOverview:
    """The member's growth, tier, the next tier and how far it is, all tiers, the latest entries.
    Two queries (tiers, entries), whatever the member."""
    tiers = list(Tier.objects.order_by("min_growth"))
    growth = member.growth
    current = next((t for t in reversed(tiers) if t.min_growth <= growth), None)
    if member.tier_id is not None:
        current = next((t for t in tiers if t.pk == member.tier_id), current)
    following = next((t for t in tiers if t.min_growth > growth), None)
    entries = list(GrowthEntry.objects.filter(member=member).order_by("-id")[:recent])
    return GrowthOverview(growth=growth, tier=current, next_tier=following,
                          growth_to_next=following.min_growth - growth if following else None,
                          tiers=tiers, recent=entries)


# ---------------------------------------------------------------------------------------------
# Writes


def growth_award(*, member_id: int, amount: int, reason: str, reference: str,
                 operator: AbstractBaseUser | None = None, note: str = "") -> GrowthChange:
    """Add `amount` growth to the member for `reason`/`reference`, and upgrade the tier at once.

    Exactly once per (reason, reference, member): a repeat returns the first award's result with
    created=False and changes nothing. amount 0 writes nothing (an order under ¥1). Runs in the
    caller's transaction if there is one (a savepoint), else its own; locks the member row.
    Raises NotFound for an unknown member and ValidationFailed for a negative amount or a reason
    that is not an award.
    """
    if reason not in AWARD_REASONS:
        raise ValidationFailed("不支持的成长值来源", code="invalid_growth_reason", detail={"reason": reason})
    if amount < 0:
        raise ValidationFailed("成长值奖励不能为负数", code="invalid_growth_amount", detail={"amount": amount})
    reference = reference or ""
    with transaction.atomic():
        growth, tier_id = _member_lock(member_id)
        if reference:
            first = GrowthEntry.objects.filter(member_id=member_id, reason=reason, reference=reference).first()
            if first is not None:
                return GrowthChange(member_id, first.delta, growth, tier_id, False, False, first.pk)
        if amount == 0:
            return GrowthChange(member_id, 0, growth, tier_id, False, False, None)
        return _growth_apply(member_id=member_id, growth=growth, tier_id=tier_id, delta=amount, reason=reason,
                             reference=reference, operator=operator, note=note)


def growth_reverse(*, member_id: int, reference: str, amount: int | None, reversal_reference: str,
                   operator: AbstractBaseUser | None = None, note: str = "") -> GrowthChange:
    """Take back up to `amount` of the growth awarded under `reference` (None: all that is left).

    For refunds: `reference` is what the award used (the order number), `reversal_reference`
    identifies this reversal (the refund number). Exactly once per reversal_reference: a repeat
    changes nothing and returns the first result. Several partial reversals of one reference
    never take back more than was awarded under it in total, and the growth never goes below 0
    (what could not be taken is simply not taken). A reference that awarded nothing writes
    nothing. The tier drops at once if the growth falls below its threshold. Runs in the
    caller's transaction if there is one (a savepoint), else its own; locks the member row.
    """
    if not reference or not reversal_reference:
        raise ValidationFailed("缺少关联单号", code="invalid_growth_reference")
    if amount is not None and amount < 0:
        raise ValidationFailed("扣回的成长值不能为负数", code="invalid_growth_amount", detail={"amount": amount})
    return _growth_take_back(member_id=member_id, reference=reference, reversal_reference=reversal_reference,
                             wanted=lambda awarded, left: left if amount is None else amount,
                             reasons=AWARD_REASONS, operator=operator, note=note)


def growth_reverse_for_refund(*, member_id: int, reference: str, paid_fen: int, refunded_total_fen: int,
                              reversal_reference: str) -> GrowthChange:
    """Take back the refunded share of what an order's payment awarded: the shop's refund path.

    `paid_fen` is what the order paid, `refunded_total_fen` everything refunded on it so far
    INCLUDING this refund. The member keeps ⌊award × (paid − refunded_total) / paid⌋, so any
    sequence of partial refunds ends, at a full refund, with the whole award taken back, and
    the split does not depend on the rule in force when the refund happens. Same guarantees
    as growth_reverse(): once per reversal_reference, never more than awarded, never below 0,
    a savepoint of the caller's transaction (or its own), the tier follows at once.
    """
    if not reference or not reversal_reference:
        raise ValidationFailed("缺少关联单号", code="invalid_growth_reference")
    if paid_fen <= 0 or not 0 < refunded_total_fen:
        raise ValidationFailed("退款金额有误", code="invalid_growth_amount",
                               detail={"paid_fen": paid_fen, "refunded_total_fen": refunded_total_fen})

    def wanted(awarded: int, left: int) -> int:
        keep = awarded * max(paid_fen - refunded_total_fen, 0) // paid_fen
        return left - keep

    return _growth_take_back(member_id=member_id, reference=reference, reversal_reference=reversal_reference,
                             wanted=wanted, reasons=frozenset({GrowthReason.PURCHASE}), operator=None, note="")


def _growth_take_back(*, member_id: int, reference: str, reversal_reference: str,
                      wanted: Callable[[int, int], int], reasons: frozenset[str],
                      operator: AbstractBaseUser | None, note: str) -> GrowthChange:
    """The one reversal path: `wanted(awarded, left)` says how much to take; it is capped by what
    is left of the awards (of `reasons`) under `reference` and by the member's growth."""
    with transaction.atomic():
        growth, tier_id = _member_lock(member_id)
        first = GrowthEntry.objects.filter(member_id=member_id, reason=GrowthReason.REFUND,
                                           reference=reversal_reference).first()
        if first is not None:
            return GrowthChange(member_id, first.delta, growth, tier_id, False, False, first.pk)
        awarded = _sum(GrowthEntry.objects.filter(member_id=member_id, reference=reference, delta__gt=0,
                                                  reason__in=reasons))
        reversed_already = -_sum(GrowthEntry.objects.filter(member_id=member_id, reverses_reference=reference))
        left = awarded - reversed_already
        take = min(wanted(awarded, left), left, growth)
        if take <= 0:
            return GrowthChange(member_id, 0, growth, tier_id, False, False, None)
        return _growth_apply(member_id=member_id, growth=growth, tier_id=tier_id, delta=-take,
                             reason=GrowthReason.REFUND, reference=reversal_reference,
                             reverses_reference=reference, operator=operator, note=note)


def growth_adjust(*, member_id: int, delta: int, note: str, operator: AbstractBaseUser | None) -> GrowthChange:
    """An operator adds (delta > 0) or deducts (delta < 0) growth, with a note (后台调整).

    Refuses a deduction below 0 (ValidationFailed, nothing changes). Not idempotent by itself:
    each call is one adjustment. Outermost use case of the console; works in a caller's
    transaction too. The tier follows at once, either way.
    """
    if delta == 0:
        raise ValidationFailed("调整值不能为 0", code="invalid_growth_amount")
    if not note.strip():
        raise ValidationFailed("请填写调整原因", code="growth_adjust_note_required")
    with transaction.atomic():
        growth, tier_id = _member_lock(member_id)
        if growth + delta < 0:
            raise ValidationFailed(f"该会员当前成长值为 {growth}，扣减后不能为负数", code="growth_would_be_negative",
                                   detail={"growth": growth, "delta": delta})
        return _growth_apply(member_id=member_id, growth=growth, tier_id=tier_id, delta=delta,
                             reason=GrowthReason.ADJUST, reference="", operator=operator, note=note.strip())


# ---------------------------------------------------------------------------------------------
# Internals


def _member_lock(member_id: int) -> tuple[int, int | None]:
    row = Member.objects.select_for_update().filter(pk=member_id).values_list("growth", "tier_id").first()
    if row is None:
        raise NotFound("会员不存在", code="member_not_found", detail={"member_id": member_id})
    return row


def _sum(entries: object) -> int:
    return int(entries.aggregate(total=Sum("delta"))["total"] or 0)  # type: ignore[attr-defined]


def _growth_apply(*, member_id: int, growth: int, tier_id: int | None, delta: int, reason: str, reference: str,
                  operator: AbstractBaseUser | None, note: str, reverses_reference: str = "") -> GrowthChange:
    """Write the ledger row and move the snapshot (member row already locked), then the tier."""
    after = growth + delta
    entry = GrowthEntry.objects.create(
        member_id=member_id, delta=delta, reason=reason, reference=reference, reverses_reference=reverses_reference,
        growth_after=after, note=note[:200], operator_id=operator_id(operator))
    # The WHERE clause is the guard: the snapshot moves only from the value the row was written
    # against, and never below zero (a row count of 0 would mean the lock was not held).
    updated = Member.objects.filter(pk=member_id, growth=growth, growth__gte=-delta).update(
        growth=F("growth") + delta)
    if updated != 1:
        raise RuntimeError(f"growth snapshot of member {member_id} moved under a held lock")
    new_tier = tier_for_growth(growth=after)
    changed = new_tier is not None and new_tier.pk != tier_id
    if changed:
        assert new_tier is not None
        Member.objects.filter(pk=member_id).update(tier=new_tier)
        TierChange.objects.create(member_id=member_id, from_tier_id=tier_id, to_tier=new_tier, growth=after,
                                  entry=entry)
        track("member_tier_changed", member_id=member_id,
              properties={"from_tier_id": tier_id, "to_tier_id": new_tier.pk, "growth": after})
    return GrowthChange(member_id, delta, after, new_tier.pk if new_tier else tier_id, changed, True, entry.pk)


def member_tiers_recompute(*, batch_size: int = 1000) -> int:
    """Put every member in the tier their growth gives now (after operators changed thresholds),
    with a TierChange row each. Returns how many members moved.

    Batches of `batch_size` members per durable transaction, claimed with
    SELECT … FOR UPDATE SKIP LOCKED: a member in the middle of a growth change is skipped (that
    change re-tiers them itself), and two runs never fight. Safe to run again at any time.
    """
    tiers = list(Tier.objects.order_by("min_growth"))
    moved = 0
    for i, tier in enumerate(tiers):
        upper = tiers[i + 1].min_growth if i + 1 < len(tiers) else None
        while True:
            with transaction.atomic(durable=True):
                due = Member.objects.filter(growth__gte=tier.min_growth).exclude(tier_id=tier.pk)
                if upper is not None:
                    due = due.filter(growth__lt=upper)
                rows = list(due.select_for_update(skip_locked=True).order_by("id")
                            .values_list("id", "tier_id", "growth")[:batch_size])
                if not rows:
                    break
                Member.objects.filter(pk__in=[member_id for member_id, _, _ in rows]).update(tier=tier)
                TierChange.objects.bulk_create([
                    TierChange(member_id=member_id, from_tier_id=from_tier_id, to_tier=tier, growth=growth)
                    for member_id, from_tier_id, growth in rows])
                moved += len(rows)
            if len(rows) < batch_size:
                break
    return moved
