from hypothesis import given
from hypothesis import strategies as st

from core.money import allocate, fen_from_yuan, yuan


def test_yuan_renders_two_decimals():
    assert yuan(1999) == "19.99"
    assert yuan(5) == "0.05"
    assert yuan(-105) == "-1.05"


def test_fen_from_yuan_refuses_fractions_of_a_fen():
    assert fen_from_yuan("19.9") == 1990
    try:
        fen_from_yuan("0.001")
    except ValueError:
        pass
    else:
        raise AssertionError("0.001 yuan must be refused")


def test_allocate_gives_leftover_fen_to_largest_remainders():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [300, 100]) == [8, 2]  # 7.5/2.5 -> tie broken by index


@given(st.integers(min_value=0, max_value=10**9),
       st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30))
def test_allocate_parts_sum_exactly_and_stay_proportional(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights) or len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        exact = total * weight / weight_sum
        assert abs(part - exact) < 1 + 1e-9
