"""满减 / 满折 through the checkout preview API: ladders, pieces, scope, overlaps, and allocations
exact per line so that refunding one line gives back exactly its share."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import CouponKind, FullReduction, Scope
from shop.models import OrderLine
from tests.builders import pay, requested_after_sale
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import CategoryFactory, SkuFactory, default_freight


@pytest.fixture
def ladder(db):
    """满 199 减 20, 满 299 减 40, store-wide."""
    default_freight()
    return full_reduction(name="夏日满减", steps=[(19900, 2000), (29900, 4000)])


def preview(shopper, *pairs):
    response = shopper.client.post("/api/v1/checkout/preview",
                                   {"items": [{"sku_id": s.pk, "quantity": q} for s, q in pairs]}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def stage_lines(body) -> list[tuple[str, str, int]]:
    return [(s["stage"], s["label"], s["amount_fen"]) for s in body["stages"] if s["stage"] != "freight"]


@pytest.mark.parametrize(("price", "expected"), [(19899, []), (19900, [("full_reduction", "满减：夏日满减", -2000)]),
                                                 (29899, [("full_reduction", "满减：夏日满减", -2000)]),
                                                 (29900, [("full_reduction", "满减：夏日满减", -4000)]),
                                                 (99900, [("full_reduction", "满减：夏日满减", -4000)])])
def test_the_best_rung_reached_applies_and_shows_as_its_own_stage_line(shopper, ladder, price, expected):
    sku = SkuFactory.create(price_fen=price, stock=5)

    body = preview(shopper, (sku, 1))

    assert stage_lines(body) == expected
    assert body["discount_fen"] == -sum(amount for *_, amount in expected)
    assert body["payable_fen"] == price + sum(amount for *_, amount in expected)


def test_the_discount_is_allocated_to_the_lines_by_largest_remainder_and_a_line_refunds_exactly(
        shopper, ladder, sandbox):
    # given ¥100 + ¥210 = ¥310: 满 299 减 40
    a, b = SkuFactory.create(price_fen=10000, stock=5), SkuFactory.create(price_fen=21000, stock=5)

    body = preview(shopper, (a, 1), (b, 1))

    # then ¥40 × 100/310 = 12.9032 and ¥40 × 210/310 = 27.0967: the floors 12.90 + 27.09 leave one
    # fen, which goes to the larger remainder (the second line's 0.67 fen over the first's 0.32)
    assert [(line["sku_id"], line["payable_fen"], [(x["label"], x["amount_fen"]) for x in line["adjustments"]])
            for line in body["lines"]] == [(a.pk, 10000 - 1290, [("满减：夏日满减", -1290)]),
                                           (b.pk, 21000 - 2710, [("满减：夏日满减", -2710)])]
    # and when the order is paid, refunding the first line alone gives back exactly its share
    order = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": a.pk, "quantity": 1},
                                                              {"sku_id": b.pk, "quantity": 1}]}, format="json")
    assert order.status_code == 201
    placed = pay(shopper.member.orders.get(order_no=order.json()["order_no"]), sandbox=sandbox)
    first = OrderLine.objects.get(order=placed, sku=a)
    assert requested_after_sale(order=placed, lines={first: 1}).amount_fen == 8710 == first.payable_fen


def test_pieces_ladder_two_for_ninety_percent(shopper, db):
    default_freight()
    full_reduction(kind=FullReduction.Kind.QUANTITY, name="满2件9折", steps=[(2, 90)])
    sku = SkuFactory.create(price_fen=5900, stock=5)

    one, two = preview(shopper, (sku, 1)), preview(shopper, (sku, 2))

    assert stage_lines(one) == []
    assert stage_lines(two) == [("full_reduction", "满折：满2件9折", -1180)]
    assert two["payable_fen"] == 11800 - 1180


def test_pieces_ladder_rounds_the_discount_half_up_to_the_fen(shopper, db):
    default_freight()
    full_reduction(kind=FullReduction.Kind.QUANTITY, name="满2件95折", steps=[(2, 95)])
    sku = SkuFactory.create(price_fen=1005, stock=5)  # 2 × 10.05 = 20.10; 5% = 1.005 → 1.01

    assert stage_lines(preview(shopper, (sku, 2))) == [("full_reduction", "满折：满2件95折", -101)]


def test_scope_a_parent_category_covers_its_children_and_exclusions_never_apply(shopper, db):
    default_freight()
    parent = CategoryFactory.create(name="母婴")
    child = CategoryFactory.create(name="奶粉", parent=parent)
    milk = SkuFactory.create(price_fen=15000, stock=5, product__category=child)
    excluded = SkuFactory.create(price_fen=15000, stock=5, product__category=child)
    other = SkuFactory.create(price_fen=15000, stock=5, product__category=CategoryFactory.create(name="家居"))
    full_reduction(name="母婴满减", steps=[(15000, 1500), (30000, 4000)], scope=Scope.CATEGORIES,
                   categories=[parent], excluded=[excluded.product])

    body = preview(shopper, (milk, 1), (excluded, 1), (other, 1))

    # only the milk counts: ¥150 reaches the first rung, not ¥300 with the others
    assert stage_lines(body) == [("full_reduction", "满减：母婴满减", -1500)]
    assert [line["discount_fen"] for line in body["lines"]] == [1500, 0, 0]


def test_activities_out_of_their_window_or_disabled_do_not_apply(shopper, db):
    default_freight()
    now = timezone.now()
    full_reduction(steps=[(100, 50)], starts_at=now + dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=2))
    full_reduction(steps=[(100, 50)], starts_at=now - dt.timedelta(hours=2), ends_at=now - dt.timedelta(seconds=1))
    FullReduction.objects.filter(pk=full_reduction(steps=[(100, 50)]).pk).update(is_active=False)
    sku = SkuFactory.create(price_fen=20000, stock=5)

    assert stage_lines(preview(shopper, (sku, 1))) == []


def test_overlapping_activities_each_line_joins_one_so_the_total_is_largest(shopper, db):
    # given two store-wide activities, 满 100 减 10 twice, and two ¥100 lines: together they would
    # reach one rung of one activity (¥10); one line each reaches a rung of both (¥20)
    default_freight()
    full_reduction(name="甲", steps=[(10000, 1000)])
    full_reduction(name="乙", steps=[(10000, 1000)])
    a, b = SkuFactory.create(price_fen=10000, stock=5), SkuFactory.create(price_fen=10000, stock=5)

    body = preview(shopper, (a, 1), (b, 1))

    assert stage_lines(body) == [("full_reduction", "满减：甲", -1000), ("full_reduction", "满减：乙", -1000)]
    assert [len(line["adjustments"]) for line in body["lines"]] == [1, 1]


def test_full_reduction_runs_before_coupons_and_only_stacking_coupons_join_it(shopper, db):
    # given ¥300 under 满 299 减 40, and two ¥270-threshold coupons
    default_freight()
    full_reduction(name="夏日满减", steps=[(29900, 4000)])
    sku = SkuFactory.create(price_fen=30000, stock=5)
    stacking = give(shopper.member, template(name="叠加券", threshold_fen=26000, amount_fen=1000,
                                             stacks_with_activities=True))
    plain = give(shopper.member, template(name="普通券", threshold_fen=0, amount_fen=2000))
    too_high = give(shopper.member, template(name="高门槛叠加券", threshold_fen=27000, amount_fen=3000,
                                             stacks_with_activities=True, kind=CouponKind.FULL_REDUCTION))

    body = preview(shopper, (sku, 1))

    # the coupon threshold is measured on what remains after 满减: ¥260
    assert body["coupons"]["selected_ids"] == [stacking.pk]
    assert {c["id"]: c["reason_code"] for c in body["coupons"]["unusable"]} == {
        plain.pk: "coupon_not_stackable", too_high.pk: "coupon_threshold_not_met"}
    assert stage_lines(body) == [("full_reduction", "满减：夏日满减", -4000), ("coupon", "优惠券：叠加券", -1000)]
    assert body["payable_fen"] == 30000 - 4000 - 1000
