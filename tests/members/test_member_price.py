"""Member price: tier × card (折上折) or the better of the two (取优), never below cost × floor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from members.models import CardPlan, MemberCard, MemberPriceSettings, StackingPolicy, Tier
from members.pricing import MemberPricingContext, member_pricing_context, member_unit_price
from tests.factories import MemberFactory

STACK, BEST = StackingPolicy.STACK, StackingPolicy.BEST


# --- must be true #5 ---------------------------------------------------------------------------


def test_stacked_tier_95_and_card_90_is_85_5_percent():
    assert member_unit_price(list_price_fen=10000, cost_fen=0, tier_percent=95, card_percent=90, policy=STACK,
                             floor=Decimal("1.0")) == (8550, "stacked")


def test_the_better_of_tier_95_and_card_90_is_90_percent():
    assert member_unit_price(list_price_fen=10000, cost_fen=0, tier_percent=95, card_percent=90, policy=BEST,
                             floor=Decimal("1.0")) == (9000, "card")


def test_cost_at_88_percent_with_floor_1_prices_the_line_at_cost():
    assert member_unit_price(list_price_fen=10000, cost_fen=8800, tier_percent=95, card_percent=90, policy=STACK,
                             floor=Decimal("1.0")) == (8800, "floor")


# --- which discount applied ------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "card", "policy", "expected"), [
    (100, None, STACK, (10000, None)),
    (100, 100, BEST, (10000, None)),
    (95, None, STACK, (9500, "tier")),
    (95, 100, BEST, (9500, "tier")),
    (100, 90, STACK, (9000, "card")),
    (100, 90, BEST, (9000, "card")),
    (90, 95, BEST, (9000, "tier")),
    (90, 90, BEST, (9000, "tier")),  # a tie counts as the tier's
])
def test_applied_names_the_discount_that_priced_the_unit(tier, card, policy, expected):
    assert member_unit_price(list_price_fen=10000, cost_fen=0, tier_percent=tier, card_percent=card, policy=policy,
                             floor=Decimal("1.0")) == expected


def test_rounding_is_once_half_up_to_the_fen_on_the_exact_stacked_rate():
    # 1999 × 0.855 = 1709.145 → 1709; 1990 × 0.855 = 1701.45 → 1701; 1 × 0.855 → 1 (no discount left)
    price = [member_unit_price(list_price_fen=p, cost_fen=0, tier_percent=95, card_percent=90, policy=STACK,
                               floor=Decimal(1)) for p in (1999, 1990, 1, 3)]
    assert price == [(1709, "stacked"), (1701, "stacked"), (1, None), (3, None)]
    # 10 × 0.95 = 9.5 → 10 (half up): the member pays the list price, and no discount is claimed.
    assert member_unit_price(list_price_fen=10, cost_fen=0, tier_percent=95, card_percent=None, policy=STACK,
                             floor=Decimal(1)) == (10, None)


def test_the_floor_rounds_up_to_the_fen_and_never_lifts_above_the_list_price():
    # cost 999 × 1.05 = 1048.95 → 1049 (never a fraction of a fen below cost × floor)
    assert member_unit_price(list_price_fen=1200, cost_fen=999, tier_percent=80, card_percent=None, policy=STACK,
                             floor=Decimal("1.05")) == (1049, "floor")
    # already selling below cost: the member discount does not apply, the price stays the list price
    assert member_unit_price(list_price_fen=1000, cost_fen=1200, tier_percent=80, card_percent=None, policy=STACK,
                             floor=Decimal("1.0")) == (1000, None)
    # floor 0: no floor
    assert member_unit_price(list_price_fen=1000, cost_fen=1000, tier_percent=80, card_percent=None, policy=STACK,
                             floor=Decimal("0")) == (800, "tier")


@pytest.mark.parametrize("kwargs", [
    {"tier_percent": 0}, {"tier_percent": 101}, {"card_percent": 0}, {"policy": "min"}, {"floor": Decimal("-1")},
    {"list_price_fen": -1}, {"cost_fen": -1},
])
def test_nonsense_inputs_are_refused(kwargs):
    args = {"list_price_fen": 1000, "cost_fen": 500, "tier_percent": 95, "card_percent": 90, "policy": STACK,
            "floor": Decimal(1), **kwargs}
    with pytest.raises(ValueError):
        member_unit_price(**args)


# --- properties --------------------------------------------------------------------------------

percents = st.integers(min_value=1, max_value=100)
cards = st.one_of(st.none(), percents)
floors = st.decimals(min_value=0, max_value=3, places=2)
prices = st.integers(min_value=0, max_value=10**9)


def _floor_fen(cost: int, floor: Decimal) -> int:
    exact = Decimal(cost) * floor
    return int(exact) + (1 if exact != int(exact) else 0)


@given(list_price=prices, cost=prices, tier=percents, card=cards, floor=floors, policy=st.sampled_from([STACK, BEST]))
def test_never_above_list_price_never_below_the_floor(list_price, cost, tier, card, floor, policy):
    price, applied = member_unit_price(list_price_fen=list_price, cost_fen=cost, tier_percent=tier,
                                       card_percent=card, policy=policy, floor=floor)
    assert price <= list_price
    assert price >= min(list_price, _floor_fen(cost, floor))
    assert Decimal(price) >= Decimal(cost) * floor or price == list_price
    assert (applied is None) == (price == list_price)
    if applied == "floor":
        assert price == _floor_fen(cost, floor)


@given(list_price=prices, cost=prices, tier=percents, card=cards, floor=floors)
def test_stacking_is_never_dearer_than_the_better_of_the_two(list_price, cost, tier, card, floor):
    stacked, _ = member_unit_price(list_price_fen=list_price, cost_fen=cost, tier_percent=tier, card_percent=card,
                                   policy=STACK, floor=floor)
    best, _ = member_unit_price(list_price_fen=list_price, cost_fen=cost, tier_percent=tier, card_percent=card,
                                policy=BEST, floor=floor)
    alone = [member_unit_price(list_price_fen=list_price, cost_fen=cost, tier_percent=p, card_percent=None,
                               policy=STACK, floor=floor)[0] for p in (tier, card or 100)]
    assert stacked <= best == min(alone)


@given(list_price=prices, tier=percents, card=cards, policy=st.sampled_from([STACK, BEST]))
def test_without_a_floor_the_price_is_the_rounded_rate(list_price, tier, card, policy):
    price, _ = member_unit_price(list_price_fen=list_price, cost_fen=0, tier_percent=tier, card_percent=card,
                                 policy=policy, floor=Decimal(0))
    c = card or 100
    rate = Decimal(tier * c) / 10000 if policy == STACK else Decimal(min(tier, c)) / 100
    assert abs(Decimal(price) - Decimal(list_price) * rate) <= Decimal("0.5")


# --- the context the shop's member stage reads --------------------------------------------------------


@pytest.mark.django_db
def test_pricing_context_reads_tier_active_card_and_the_operators_settings():
    gold = Tier.objects.get(name="黄金会员")
    member = MemberFactory.create(growth=6000, tier=gold)
    plan = CardPlan.objects.create(name="测试年卡", price_fen=16800, days=366, discount_percent=90,
                                   points_multiplier=Decimal("2.00"))
    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    MemberCard.objects.create(member=member, plan=plan, starts_at=now - dt.timedelta(days=1),
                              ends_at=now + dt.timedelta(days=10))
    MemberPriceSettings.objects.update_or_create(pk=1, defaults={"policy": BEST, "floor": Decimal("1.10")})

    context = member_pricing_context(member_id=member.pk, at=now)
    later = member_pricing_context(member_id=member.pk, at=now + dt.timedelta(days=10))

    assert context == MemberPricingContext(95, 90, BEST, Decimal("1.10"), Decimal("2.00"))
    assert later == MemberPricingContext(95, 100, BEST, Decimal("1.10"), Decimal(1))


@pytest.mark.django_db
def test_pricing_context_defaults_stack_floor_1_and_a_new_member_is_in_the_lowest_tier():
    member = MemberFactory.create()  # never earned growth: no tier stored yet
    context = member_pricing_context(member_id=member.pk, at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    guest = member_pricing_context(member_id=None, at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert context == MemberPricingContext(100, 100, STACK, Decimal("1.00"), Decimal(1))
    assert guest == context
