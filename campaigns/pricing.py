"""Campaign pricing: what flash prices, 满减 / 满折 activities and coupons take off a cart.

Pure functions over immutable snapshots: no database, no clock (callers pass `now`), and no
import of shop. Checkout (shop.pricing) turns its priced lines into `LineSnapshot`s, loads the
offers with campaigns.selectors.checkout, calls these functions and turns their per-line parts
back into its own adjustments. Every result that takes money off goods carries `parts`, one
integer per input line, summing exactly to the discount (largest remainder, core.money.allocate,
weighted by what each eligible line still costs), so no line goes below zero and a refund of
one line is exact.

Rules, in the shopper's words:
- 秒杀: a line bought through a flash item pays the flash price (never more than the list price).
- 拼团: a line bought through a group-buy item pays the group price (the leader opening a group:
  the leader price when there is one), never more than the list price.
- 满减 / 满折: an activity applies to the lines in its scope that no activity price touched. The
  best rung its lines reach applies (满 X 减 Y on their payable; 满 N 件 pay P% of their
  payable). A line joins at most one activity; when activities overlap, the lines they share
  are assigned so the total discount is largest: an exhaustive search while there are at most
  MAX_ASSIGNMENTS ways (ties: the lower activity id); beyond that, a local search — the activity
  giving most on its own takes the shared lines it covers, then the next, then single lines move
  while that raises the total — which may miss the very best split but never gives less than
  the best single activity would.
- Coupons: a goods coupon applies to the lines in its scope, and — unless its template stacks
  with activities — only those no flash price or 满减 touched. Amount coupons take
  min(amount, eligible payable); 折扣券 take (100 − pay_percent)% of the eligible payable,
  capped by max_discount_fen. 运费券 take amount_fen off the freight (0 = all of it), with the
  threshold on the eligible lines' payable. By default the goods coupon with the largest
  discount is chosen (tie: the one expiring soonest, then the older coupon), and the freight
  coupon likewise.
- Rounding: a percentage discount is rounded once, half up, to the fen (core.money.apply_rate):
  the shopper gets the half fen.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from campaigns.errors import FlashLimitExceeded, FlashNotActive, GroupBuyLimitExceeded, GroupBuyNotActive
from campaigns.models import CouponKind, FullReduction, Scope
from core.money import allocate, apply_rate, yuan

# Overlapping 满减 activities: try every assignment of the shared lines up to this many; beyond,
# improve a first assignment by single moves for at most this many rounds.
MAX_ASSIGNMENTS = 1024
MAX_MOVE_ROUNDS = 50


@dataclass(frozen=True)
class LineSnapshot:
    """One cart line as campaigns see it, after the stages that ran before."""

    sku_id: int
    product_id: int
    category_ids: frozenset[int]  # the line's category and its ancestors
    unit_price_fen: int
    cost_fen: int
    quantity: int
    payable_fen: int  # what the line still costs now
    activity_discounted: bool = False  # a flash price or a 满减 already applies to it


@dataclass(frozen=True)
class ScopeRule:
    """What an offer applies to: the whole store, categories (a parent covers its children) or
    products; excluded products never."""

    scope: str = Scope.ALL
    category_ids: frozenset[int] = frozenset()
    product_ids: frozenset[int] = frozenset()
    excluded_product_ids: frozenset[int] = frozenset()

    def covers(self, line: LineSnapshot) -> bool:
        if line.product_id in self.excluded_product_ids:
            return False
        if self.scope == Scope.CATEGORIES:
            return bool(self.category_ids & line.category_ids)
        if self.scope == Scope.PRODUCTS:
            return line.product_id in self.product_ids
        return True


def percent_off(amount_fen: int, percent: int) -> int:
    """`percent`% of an amount, rounded once, half up (the shopper gets the half fen)."""
    return apply_rate(amount_fen, Decimal(percent) / 100)


def spread(discount_fen: int, lines: Sequence[LineSnapshot], eligible: Sequence[bool]) -> tuple[int, ...]:
    """Allocate a discount to the eligible lines by what each still costs (largest remainder).

    The discount must not exceed the eligible lines' payable; then no part exceeds its line.
    """
    weights = [line.payable_fen if ok else 0 for line, ok in zip(lines, eligible, strict=True)]
    assert 0 <= discount_fen <= sum(weights), (discount_fen, weights)
    if discount_fen == 0:
        return (0,) * len(lines)
    return tuple(allocate(discount_fen, weights))


# --- 秒杀 -------------------------------------------------------------------------------------------


class FlashPriceOffer(Protocol):
    """What pricing needs of campaigns.selectors.flash.FlashOffer."""

    @property
    def sku_id(self) -> int: ...

    @property
    def flash_price_fen(self) -> int: ...

    @property
    def per_member_limit(self) -> int: ...


def flash_discounts(lines: Sequence[LineSnapshot], item_ids: Sequence[int | None],
                    offers: Mapping[int, FlashPriceOffer]) -> tuple[int, ...]:
    """Per line: (list price − flash price) × quantity for lines bought through a flash item.

    `offers` holds the items of sessions running now. A line whose item is not there, or is an
    item of another SKU, raises FlashNotActive; more units than one member may buy raises
    FlashLimitExceeded (what the member already holds is checked when the order takes it).
    """
    parts = []
    for line, item_id in zip(lines, item_ids, strict=True):
        if item_id is None:
            parts.append(0)
            continue
        offer = offers.get(item_id)
        if offer is None or offer.sku_id != line.sku_id:
            raise FlashNotActive(detail={"flash_item_id": item_id, "sku_id": line.sku_id})
        if line.quantity > offer.per_member_limit:
            raise FlashLimitExceeded(detail={"flash_item_id": item_id, "per_member_limit": offer.per_member_limit})
        parts.append(max(line.unit_price_fen - offer.flash_price_fen, 0) * line.quantity)
    return tuple(parts)


# --- 拼团 ---------------------------------------------------------------------------------------------


class GroupBuyPriceOffer(Protocol):
    """What pricing needs of campaigns.selectors.groupbuy.GroupBuyOffer."""

    @property
    def sku_id(self) -> int: ...

    @property
    def group_price_fen(self) -> int: ...

    @property
    def leader_price_fen(self) -> int | None: ...

    @property
    def per_member_limit(self) -> int: ...


def groupbuy_discounts(lines: Sequence[LineSnapshot], picks: Sequence[tuple[int, bool] | None],
                       offers: Mapping[int, GroupBuyPriceOffer]) -> tuple[int, ...]:
    """Per line: (list price − group price) × quantity for a line bought through a group-buy item;
    the leader opening a group pays the leader price when the item has one.

    `picks` holds per line (item id, opens a group) or None; `offers` the items of activities
    running now. A line whose item is not there, or is an item of another SKU, raises
    GroupBuyNotActive; more units than one member may buy raises GroupBuyLimitExceeded.
    """
    parts = []
    for line, pick in zip(lines, picks, strict=True):
        if pick is None:
            parts.append(0)
            continue
        item_id, leader = pick
        offer = offers.get(item_id)
        if offer is None or offer.sku_id != line.sku_id:
            raise GroupBuyNotActive(detail={"group_item_id": item_id, "sku_id": line.sku_id})
        if line.quantity > offer.per_member_limit:
            raise GroupBuyLimitExceeded(detail={"group_item_id": item_id, "per_member_limit": offer.per_member_limit})
        price = offer.leader_price_fen if leader and offer.leader_price_fen is not None else offer.group_price_fen
        parts.append(max(line.unit_price_fen - price, 0) * line.quantity)
    return tuple(parts)


# --- 满减 / 满折 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReductionStep:
    """满 threshold_fen 减 discount_fen (amount ladders), or 满 threshold_count 件 pay pay_percent%."""

    threshold_fen: int = 0
    discount_fen: int = 0
    threshold_count: int = 0
    pay_percent: int | None = None


@dataclass(frozen=True)
class ReductionOffer:
    activity_id: int
    name: str
    kind: str  # FullReduction.Kind
    scope: ScopeRule
    steps: tuple[ReductionStep, ...]


@dataclass(frozen=True)
class ReductionResult:
    activity_id: int
    name: str
    discount_fen: int
    parts: tuple[int, ...]  # per input line; sums to discount_fen
    step: ReductionStep


def reduction_discount(offer: ReductionOffer, lines: Sequence[LineSnapshot]) -> tuple[int, ReductionStep | None]:
    """The best rung `lines` reach together, and its discount (never above their payable)."""
    payable = sum(line.payable_fen for line in lines)
    count = sum(line.quantity for line in lines)
    best: tuple[int, ReductionStep | None] = (0, None)
    if not lines:
        return best
    for step in offer.steps:
        if offer.kind == FullReduction.Kind.QUANTITY:
            if step.pay_percent is None or count < step.threshold_count:
                continue
            discount = percent_off(payable, 100 - step.pay_percent)
        else:
            if payable < step.threshold_fen:
                continue
            discount = step.discount_fen
        discount = max(0, min(discount, payable))
        if discount > best[0]:
            best = (discount, step)
    return best


def full_reductions_apply(lines: Sequence[LineSnapshot], offers: Sequence[ReductionOffer]) -> list[ReductionResult]:
    """The 满减 / 满折 activities that take something off `lines`, in activity-id order.

    Lines an activity price touched take no part. Each line joins at most one activity; see the
    module docstring for how shared lines are assigned.
    """
    offers = sorted(offers, key=lambda o: o.activity_id)
    candidates = [[k for k, offer in enumerate(offers) if not line.activity_discounted and offer.scope.covers(line)]
                  for line in lines]
    assignment = _assign(lines, offers, candidates)
    results = []
    for k, offer in enumerate(offers):
        members = [assignment[i] == k for i in range(len(lines))]
        discount, step = reduction_discount(offer, [line for line, m in zip(lines, members, strict=True) if m])
        if discount > 0 and step is not None:
            results.append(ReductionResult(offer.activity_id, offer.name, discount, spread(discount, lines, members),
                                           step))
    return results


def _total(lines: Sequence[LineSnapshot], offers: Sequence[ReductionOffer], assignment: Sequence[int | None]) -> int:
    return sum(reduction_discount(offer, [line for line, a in zip(lines, assignment, strict=True) if a == k])[0]
               for k, offer in enumerate(offers))


def _assign(lines: Sequence[LineSnapshot], offers: Sequence[ReductionOffer],
            candidates: list[list[int]]) -> list[int | None]:
    # A rung's discount never falls when a line joins (more payable, more pieces), so a line
    # one activity covers always joins it, and only lines several cover are a choice.
    assignment: list[int | None] = [c[0] if c else None for c in candidates]
    shared = [i for i, c in enumerate(candidates) if len(c) > 1]
    if not shared:
        return assignment
    ways = 1
    for i in shared:
        ways *= len(candidates[i])
    if ways <= MAX_ASSIGNMENTS:
        best, best_total = list(assignment), -1
        for choice in itertools.product(*(candidates[i] for i in shared)):
            trial = list(assignment)
            for i, k in zip(shared, choice, strict=True):
                trial[i] = k
            total = _total(lines, offers, trial)
            if total > best_total:
                best, best_total = trial, total
        return best
    return _assign_locally(lines, offers, candidates, assignment, shared)


def _assign_locally(lines: Sequence[LineSnapshot], offers: Sequence[ReductionOffer], candidates: list[list[int]],
                    assignment: list[int | None], shared: list[int]) -> list[int | None]:
    """Too many ways to try them all: the activity giving most on its own takes the shared lines
    it covers, then the next; then single lines move to another activity while that raises the
    total (the largest raise first; ties to the earlier line and the lower activity id)."""
    alone = {k: reduction_discount(offer, [ln for ln, c in zip(lines, candidates, strict=True) if k in c])[0]
             for k, offer in enumerate(offers)}
    for i in shared:
        assignment[i] = None
    for k in sorted(alone, key=lambda k: (-alone[k], k)):
        for i in shared:
            if assignment[i] is None and k in candidates[i]:
                assignment[i] = k
    total = _total(lines, offers, assignment)
    for _ in range(MAX_MOVE_ROUNDS):
        best: tuple[int, int, int] | None = None
        for i in shared:
            for k in candidates[i]:
                if k == assignment[i]:
                    continue
                trial = list(assignment)
                trial[i] = k
                gain = _total(lines, offers, trial)
                if gain > total and (best is None or gain > best[0]):
                    best = (gain, i, k)
        if best is None:
            break
        total, i, k = best
        assignment[i] = k
    return assignment


# --- coupons -----------------------------------------------------------------------------------------


COUPON_REASONS: dict[str, str] = {
    "coupon_not_started": "未到使用时间",
    "coupon_expired": "已过期",
    "coupon_not_applicable": "不适用于这些商品",
    "coupon_not_stackable": "不可与活动同享",
    "coupon_threshold_not_met": "门槛未达到",
    "coupon_no_freight": "本单无需运费",
}


@dataclass(frozen=True)
class CouponOffer:
    """A coupon a member holds, with what its template says about using it."""

    coupon_id: int
    template_id: int
    name: str
    kind: str  # CouponKind
    threshold_fen: int
    amount_fen: int
    pay_percent: int | None
    max_discount_fen: int | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    stacks_with_activities: bool
    scope: ScopeRule
    status: str = "available"

    @property
    def is_freight(self) -> bool:
        return self.kind == CouponKind.FREIGHT


@dataclass(frozen=True)
class CouponVerdict:
    """Whether a coupon can be used on this cart, why not, and what it takes off."""

    coupon: CouponOffer
    reason_code: str  # "" when usable
    reason: str
    discount_fen: int
    parts: tuple[int, ...] = ()  # goods coupons: per input line, sums to discount_fen

    @property
    def usable(self) -> bool:
        return not self.reason_code


def coupon_evaluate(coupon: CouponOffer, lines: Sequence[LineSnapshot], *, now: dt.datetime,
                    freight_fen: int = 0) -> CouponVerdict:
    """Judge one coupon against the lines as they are now (for a freight coupon: and the freight).

    Reasons, first that applies: not started, expired, no line in scope, every line in scope
    already under an activity and the template does not stack, threshold not reached (the
    message says how much more is needed), and for a freight coupon, no freight to pay.
    """
    def refuse(code: str, message: str | None = None) -> CouponVerdict:
        return CouponVerdict(coupon, code, message or COUPON_REASONS[code], 0, (0,) * len(lines))

    if now < coupon.valid_from:
        return refuse("coupon_not_started")
    if now >= coupon.valid_until:
        return refuse("coupon_expired")
    in_scope = [coupon.scope.covers(line) for line in lines]
    if not any(in_scope):
        return refuse("coupon_not_applicable")
    eligible = [ok and (coupon.stacks_with_activities or not line.activity_discounted)
                for line, ok in zip(lines, in_scope, strict=True)]
    if not any(eligible):
        return refuse("coupon_not_stackable")
    base = sum(line.payable_fen for line, ok in zip(lines, eligible, strict=True) if ok)
    threshold = 0 if coupon.kind == CouponKind.NO_THRESHOLD else coupon.threshold_fen
    if base < threshold:
        return refuse("coupon_threshold_not_met",
                      f"门槛未达到：满¥{yuan(threshold)}可用，还差¥{yuan(threshold - base)}")
    if coupon.is_freight:
        if freight_fen <= 0:
            return refuse("coupon_no_freight")
        off = freight_fen if coupon.amount_fen == 0 else min(coupon.amount_fen, freight_fen)
        return CouponVerdict(coupon, "", "", off, (0,) * len(lines))
    if coupon.kind == CouponKind.DISCOUNT:
        off = percent_off(base, 100 - (coupon.pay_percent or 100))
        if coupon.max_discount_fen is not None:
            off = min(off, coupon.max_discount_fen)
    else:
        off = coupon.amount_fen
    off = max(0, min(off, base))
    return CouponVerdict(coupon, "", "", off, spread(off, lines, eligible))


def coupon_pick(verdicts: Sequence[CouponVerdict]) -> CouponVerdict | None:
    """The best usable coupon: largest discount; tie → expiring soonest; then the older coupon."""
    usable = [v for v in verdicts if v.usable and v.discount_fen > 0]
    if not usable:
        return None
    return min(usable, key=lambda v: (-v.discount_fen, v.coupon.valid_until, v.coupon.coupon_id))
