"""Points at checkout: whole points, at most 50% of the goods amount, 100 points = ¥1, exact fen."""

from __future__ import annotations

import pytest

from members.pricing_points import (
    points_checkout_limit,
    points_for_purchase,
    points_pro_rata,
    points_step,
    points_value_fen,
)


def test_the_defaults_100_points_a_yuan_and_half_the_goods():
    assert points_checkout_limit(balance=100_000, goods_payable_fen=3999) == (1999, 1999)
    assert points_checkout_limit(balance=700, goods_payable_fen=3999) == (700, 700)
    assert points_checkout_limit(balance=100_000, goods_payable_fen=1) == (0, 0)
    assert points_checkout_limit(balance=0, goods_payable_fen=10_000) == (0, 0)
    assert points_checkout_limit(balance=-5, goods_payable_fen=10_000) == (0, 0)
    assert points_checkout_limit(balance=50, goods_payable_fen=0) == (0, 0)


def test_other_rates_use_only_points_worth_whole_fen(settings):
    settings.POINTS_PER_YUAN = 200  # a point is half a fen: only even numbers of points
    assert points_step() == 2
    assert points_checkout_limit(balance=1001, goods_payable_fen=10_000) == (1000, 500)
    assert points_checkout_limit(balance=100_000, goods_payable_fen=3999) == (3998, 1999)

    settings.POINTS_PER_YUAN = 50  # a point is 2 fen
    assert points_checkout_limit(balance=100_000, goods_payable_fen=3999) == (999, 1998)
    assert points_value_fen(points=999) == 1998

    settings.POINTS_MAX_PERCENT_OF_GOODS = 100
    settings.POINTS_PER_YUAN = 100
    assert points_checkout_limit(balance=100_000, goods_payable_fen=3999) == (3999, 3999)


@pytest.mark.parametrize("rate", [1, 3, 7, 10, 33, 100, 150, 200, 250, 1000])
@pytest.mark.parametrize("goods", [1, 99, 100, 101, 3999, 12345, 99999])
@pytest.mark.parametrize("balance", [0, 1, 37, 5000, 10**9])
def test_the_limit_is_exact_whole_and_within_every_bound(rate, goods, balance):
    points, fen = points_checkout_limit(balance=balance, goods_payable_fen=goods, points_per_yuan=rate)

    assert 0 <= points <= max(balance, 0)
    assert fen * 2 <= goods  # at most 50%
    assert points_value_fen(points=points, points_per_yuan=rate) == fen  # exact
    assert points * 100 == fen * rate
    # no larger usable amount was left on the table
    step = points_step(points_per_yuan=rate)
    bigger = points + step
    assert bigger > balance or (bigger * 100 // rate) * 2 > goods


def test_a_value_that_is_not_whole_fen_is_refused():
    with pytest.raises(ValueError):
        points_value_fen(points=3, points_per_yuan=200)
    with pytest.raises(ValueError):
        points_value_fen(points=-1)
    with pytest.raises(ValueError):
        points_checkout_limit(balance=1, goods_payable_fen=1, max_percent=101)


def test_purchase_points_are_whole_yuan_times_rate_and_multiplier():
    assert points_for_purchase(paid_fen=12999) == 129
    assert points_for_purchase(paid_fen=12999, multiplier_percent=150) == 193
    assert points_for_purchase(paid_fen=99) == 0
    assert points_for_purchase(paid_fen=10000, per_yuan=2, multiplier_percent=110) == 220
    assert points_for_purchase(paid_fen=-100) == 0


def test_pro_rata_shares_add_up_to_the_total_over_partial_refunds():
    total, paid = 301, 9999
    refunds = [1234, 3000, 1, 5764]  # in all, the whole payment
    done = 0
    shares = []
    refunded = 0
    for part in refunds:
        refunded += part
        share = points_pro_rata(total=total, part_fen=refunded, whole_fen=paid, done=done)
        shares.append(share)
        done += share

    assert sum(shares) == total
    assert shares == [37, 90, 0, 174]
    assert points_pro_rata(total=total, part_fen=paid + 50, whole_fen=paid, done=total) == 0
    assert points_pro_rata(total=0, part_fen=100, whole_fen=paid) == 0
