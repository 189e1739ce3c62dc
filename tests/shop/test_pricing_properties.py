"""Property tests of the pricing pipeline: allocations close to the fen, nothing goes negative."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop import pricing
from shop.pricing import CartLine, PricingContext, allocate_discount, quote

line_strategy = st.builds(
    lambda i, price, qty: CartLine(sku_id=i, product_id=i, category_id=1, product_name=f"p{i}", sku_code=f"s{i}",
                                   spec_text="", image_url="", unit_price_fen=price, cost_fen=0, quantity=qty,
                                   freight_template_id=None),
    st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=1, max_value=999),
)
carts = st.lists(line_strategy, min_size=1, max_size=8, unique_by=lambda line: line.sku_id)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=carts, first=st.integers(min_value=0, max_value=10**9), second=st.integers(min_value=0, max_value=10**9))
def test_stage_allocations_sum_exactly_and_never_exceed_what_is_left(monkeypatch, lines, first, second):
    def full_reduction(priced, ctx, run):
        return allocate_discount(priced, first, stage="full_reduction", label="满减")

    def coupon(priced, ctx, run):
        return allocate_discount(priced, second, stage="coupon", label="优惠券")

    stages = dict(pricing.GOODS_STAGES)
    stages.update(full_reduction=full_reduction, coupon=coupon)
    monkeypatch.setattr(pricing, "GOODS_STAGES", list(stages.items()))

    q = quote(lines, PricingContext(member_id=None, province=""))

    goods = sum(line.goods_total_fen for line in lines)
    by_stage = {s.stage: -s.amount_fen for s in q.stages}
    assert by_stage.get("full_reduction", 0) == min(first, goods)
    assert by_stage.get("coupon", 0) == min(second, goods - min(first, goods))
    for stage in ("full_reduction", "coupon"):
        allocated = -sum(a.amount_fen for pl in q.lines for a in pl.adjustments if a.stage == stage)
        assert allocated == by_stage.get(stage, 0)
    assert all(pl.payable_fen >= 0 for pl in q.lines)
    assert q.payable_fen == goods - q.discount_fen + q.freight_fen >= 0
    assert q.discount_fen <= goods
