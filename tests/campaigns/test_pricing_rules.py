"""campaigns.pricing rules on small, exact examples: rounding, ladders, the coupon pick's tie-breaks,
and the greedy assignment used when overlapping 满减 activities share too many lines to try all."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns import pricing
from campaigns.errors import FlashLimitExceeded, FlashNotActive
from campaigns.models import CouponKind, FullReduction, Scope
from campaigns.pricing import (
    CouponOffer,
    LineSnapshot,
    ReductionOffer,
    ReductionStep,
    ScopeRule,
    coupon_evaluate,
    coupon_pick,
    flash_discounts,
    full_reductions_apply,
    percent_off,
)
from campaigns.selectors.flash import FlashOffer

NOW = dt.datetime(2026, 6, 18, 12, 0, tzinfo=dt.UTC)
STORE_WIDE = ScopeRule()


def line(sku_id: int, payable: int, quantity: int = 1, *, product_id: int | None = None, categories=(1,),
         activity: bool = False) -> LineSnapshot:
    return LineSnapshot(sku_id=sku_id, product_id=product_id or sku_id, category_ids=frozenset(categories),
                        unit_price_fen=payable // quantity, cost_fen=0, quantity=quantity, payable_fen=payable,
                        activity_discounted=activity)


def coupon(coupon_id: int, *, kind=CouponKind.FULL_REDUCTION, threshold=0, amount=0, pay_percent=None, cap=None,
           stacks=False, scope=STORE_WIDE, days=3) -> CouponOffer:
    return CouponOffer(coupon_id=coupon_id, template_id=coupon_id, name=f"券{coupon_id}", kind=kind,
                       threshold_fen=threshold, amount_fen=amount, pay_percent=pay_percent, max_discount_fen=cap,
                       valid_from=NOW - dt.timedelta(days=1), valid_until=NOW + dt.timedelta(days=days),
                       stacks_with_activities=stacks, scope=scope)


def test_percent_off_rounds_half_up_once():
    assert percent_off(2010, 5) == 101  # 100.5 fen → 101: the shopper gets the half fen
    assert percent_off(2009, 5) == 100  # 100.45 → 100
    assert percent_off(0, 50) == 0


def test_a_discount_coupon_takes_its_percent_capped_and_never_more_than_the_goods():
    lines = [line(1, 9999), line(2, 1)]
    assert coupon_evaluate(coupon(1, kind=CouponKind.DISCOUNT, pay_percent=85), lines, now=NOW).discount_fen == 1500
    capped = coupon_evaluate(coupon(2, kind=CouponKind.DISCOUNT, pay_percent=85, cap=1000), lines, now=NOW)
    assert (capped.discount_fen, capped.parts) == (1000, (1000, 0))
    big = coupon_evaluate(coupon(3, kind=CouponKind.NO_THRESHOLD, threshold=99999, amount=50000), lines, now=NOW)
    assert (big.usable, big.discount_fen, sum(big.parts)) == (True, 10000, 10000)  # 无门槛 ignores a threshold


def test_the_best_coupon_ties_go_to_the_one_expiring_soonest_then_the_older():
    lines = [line(1, 10000)]
    verdicts = [coupon_evaluate(c, lines, now=NOW) for c in (
        coupon(5, amount=500, days=3), coupon(4, amount=500, days=2), coupon(3, amount=500, days=2),
        coupon(2, amount=400, days=1))]
    picked = coupon_pick(verdicts)
    assert picked is not None and picked.coupon.coupon_id == 3
    assert coupon_pick([coupon_evaluate(coupon(9, amount=0), lines, now=NOW)]) is None  # nothing off: not picked


def test_the_best_rung_reached_wins_even_on_a_ladder_set_up_out_of_order():
    offer = ReductionOffer(1, "乱序", FullReduction.Kind.AMOUNT, ScopeRule(),
                           (ReductionStep(threshold_fen=20000, discount_fen=1500),
                            ReductionStep(threshold_fen=10000, discount_fen=2000)))
    [result] = full_reductions_apply([line(1, 25000)], [offer])
    assert (result.discount_fen, result.step.threshold_fen) == (2000, 10000)


def test_flash_prices_refuse_items_not_on_sale_or_of_another_sku_or_over_the_limit():
    offer = FlashOffer(item_id=7, session_id=1, sku_id=1, flash_price_fen=4900, per_member_limit=2,
                       unpaid_timeout_minutes=15, starts_at=NOW, ends_at=NOW)
    assert flash_discounts([line(1, 19800, 2), line(2, 100)], [7, None], {7: offer}) == (10000, 0)
    with pytest.raises(FlashNotActive):
        flash_discounts([line(1, 9900)], [8], {7: offer})
    with pytest.raises(FlashNotActive):
        flash_discounts([line(2, 9900)], [7], {7: offer})
    with pytest.raises(FlashLimitExceeded):
        flash_discounts([line(1, 29700, 3)], [7], {7: offer})


def test_when_too_many_shared_lines_to_try_every_way_the_local_search_still_closes():
    # given three activities over ten lines, seven of them in the 满折's category: 3^7 × 2^3 ways,
    # more than MAX_ASSIGNMENTS
    offers = [ReductionOffer(1, "甲", FullReduction.Kind.AMOUNT, ScopeRule(), (ReductionStep(10000, 1000),)),
              ReductionOffer(2, "乙", FullReduction.Kind.AMOUNT, ScopeRule(), (ReductionStep(20000, 3000),)),
              ReductionOffer(3, "丙", FullReduction.Kind.QUANTITY, ScopeRule(Scope.CATEGORIES, frozenset({1})),
                             (ReductionStep(threshold_count=3, pay_percent=90),))]
    lines = [line(i, 3000 + 1000 * i, categories=(1,) if i <= 7 else (2,)) for i in range(1, 11)]
    assert 3**7 * 2**3 > pricing.MAX_ASSIGNMENTS

    results = full_reductions_apply(lines, offers)

    # then each line joins one activity, parts close exactly, and every activity pays its rung
    per_line = [sum(1 for r in results if r.parts[i]) for i in range(len(lines))]
    assert max(per_line) == 1
    for r in results:
        assert sum(r.parts) == r.discount_fen
        assert all(0 <= part <= ln.payable_fen for part, ln in zip(r.parts, lines, strict=True))
    assert full_reductions_apply(lines, offers) == results  # deterministic
    # and the answer is no worse than the best single activity (满折 on the seven lines of its
    # category: 10% of ¥490), and here better: 满折 keeps those, the three large lines (¥110, ¥120,
    # ¥130) first go to 满 200 减 30, then moving one of them to 满 100 减 10 adds ¥10 (any of the
    # three would: the earliest line moves)
    alone = max(pricing.reduction_discount(o, [ln for ln in lines if o.scope.covers(ln)])[0] for o in offers)
    assert alone == 4900
    assert [(r.activity_id, r.discount_fen) for r in results] == [(1, 1000), (2, 3000), (3, 4900)]
    assert [i for i, _ in enumerate(lines) if results[0].parts[i]] == [7]
