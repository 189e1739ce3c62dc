"""Member price (会员价) and tier free shipping at checkout, through the preview and order APIs.

Issue 5, must-be-true #5: with tier 95% and card 90%, 折上折 gives 85.5% of the price, 取优 gives
90%, and with cost at 88% and floor 1.0 the line is priced at cost — and the preview says which.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import StackingPolicy
from shop.models import Order, OrderLineAdjustment
from tests.factories import FlashItemFactory, SkuFactory, default_freight
from tests.shop.support_member_price import give_card, price_policy, put_in_tier, tier

pytestmark = pytest.mark.django_db

STACKED = "会员价：等级折扣与会员卡折扣叠加（9.5折×9折=8.55折）"
CARD = "会员价：会员卡折扣（9折）"
GOLD = "会员价：会员等级折扣（黄金会员 9.5折）"
FLOOR = "会员价（已按最低售价）"


@pytest.fixture
def freight(db):
    return default_freight(free_threshold_fen=None)  # ¥10 + ¥5 per extra piece, never free by itself


@pytest.fixture
def gold_with_card(shopper):
    put_in_tier(shopper.member, 2, free_shipping_threshold_fen=None)  # 黄金会员 9.5折
    give_card(shopper.member, discount_percent=90)
    return shopper


def preview(shopper, items, **extra):
    response = shopper.client.post("/api/v1/checkout/preview", {"items": items, **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def member_parts(body):
    return [[(a["label"], a["amount_fen"]) for a in line["adjustments"] if a["stage"] == "member"]
            for line in body["lines"]]


def stage(body, name):
    return [(s["label"], s["amount_fen"]) for s in body["stages"] if s["stage"] == name]


def test_stacked_tier_95_and_card_90_pay_85_5_percent(gold_with_card, freight):
    # given a ¥100 SKU, a 黄金会员 (9.5折) with a 9折 card, and the policy 折上折
    price_policy(StackingPolicy.STACK)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)

    # when two units are previewed
    body = preview(gold_with_card, [{"sku_id": sku.pk, "quantity": 2}])

    # then each unit costs ¥85.50, and the preview says the two discounts were stacked
    assert member_parts(body) == [[(STACKED, -2900)]]
    assert body["lines"][0]["payable_fen"] == 17100 == 2 * 8550
    assert stage(body, "member") == [(STACKED, -2900)]
    assert body["payable_fen"] == 17100 + 1500


def test_the_better_of_tier_95_and_card_90_pays_90_percent(gold_with_card, freight):
    price_policy(StackingPolicy.BEST)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)

    body = preview(gold_with_card, [{"sku_id": sku.pk, "quantity": 1}])

    assert member_parts(body) == [[(CARD, -1000)]]
    assert body["lines"][0]["payable_fen"] == 9000
    assert stage(body, "member") == [(CARD, -1000)]


def test_cost_at_88_percent_with_floor_1_prices_the_line_at_cost(gold_with_card, freight):
    # given cost ¥88 of a ¥100 SKU, 折上折 would be ¥85.50: below cost × 1.0
    price_policy(StackingPolicy.STACK, floor="1.00")
    at_cost = SkuFactory.create(price_fen=10000, cost_fen=8800, stock=5)
    cheap_cost = SkuFactory.create(price_fen=10000, cost_fen=1000, stock=5)

    body = preview(gold_with_card, [{"sku_id": at_cost.pk, "quantity": 1}, {"sku_id": cheap_cost.pk, "quantity": 1}])

    # then that line is priced at cost and says so; the other line is stacked; one stage row each
    by_sku = {line["sku_id"]: line for line in body["lines"]}
    assert by_sku[at_cost.pk]["payable_fen"] == 8800
    assert [(a["label"], a["amount_fen"]) for a in by_sku[at_cost.pk]["adjustments"]] == [(FLOOR, -1200)]
    assert by_sku[cheap_cost.pk]["payable_fen"] == 8550
    assert sorted(stage(body, "member")) == sorted([(FLOOR, -1200), (STACKED, -1450)])


def test_tier_alone_names_the_tier_and_a_member_without_discounts_pays_the_list_price(shopper, other_shopper, freight):
    price_policy(StackingPolicy.STACK)
    put_in_tier(shopper.member, 2)
    put_in_tier(other_shopper.member, 0)  # 普通会员: 100%
    sku = SkuFactory.create(price_fen=9999, cost_fen=0, stock=5)

    gold = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])
    plain = preview(other_shopper, [{"sku_id": sku.pk, "quantity": 1}])

    # 9999 × 0.95 = 9499.05 → 9499 (once, half up)
    assert member_parts(gold) == [[(GOLD, -500)]]
    assert member_parts(plain) == [[]]
    assert stage(plain, "member") == []
    assert plain["payable_fen"] == 9999 + 1000


def test_flash_lines_do_not_get_the_member_price(gold_with_card, freight):
    price_policy(StackingPolicy.STACK)
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=10000, cost_fen=0, stock=5), flash_price_fen=6000)
    other = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)

    body = preview(gold_with_card, [{"sku_id": item.sku_id, "quantity": 1, "flash_item_id": item.pk},
                                    {"sku_id": other.pk, "quantity": 1}])

    by_sku = {line["sku_id"]: line for line in body["lines"]}
    assert [a["stage"] for a in by_sku[item.sku_id]["adjustments"]] == ["activity"]
    assert by_sku[item.sku_id]["payable_fen"] == 6000
    assert by_sku[other.pk]["payable_fen"] == 8550


def test_the_order_keeps_the_member_price_the_preview_showed(gold_with_card, freight):
    price_policy(StackingPolicy.STACK)
    sku = SkuFactory.create(price_fen=10000, cost_fen=8800, stock=5)
    other = SkuFactory.create(price_fen=3333, cost_fen=0, stock=5)
    items = [{"sku_id": sku.pk, "quantity": 1}, {"sku_id": other.pk, "quantity": 3}]
    shown = preview(gold_with_card, items)

    response = gold_with_card.client.post("/api/v1/orders/", {"items": items,
                                                              "expected_payable_fen": shown["payable_fen"]},
                                          format="json")

    assert response.status_code == 201, response.json()
    placed = response.json()
    assert placed["payable_fen"] == shown["payable_fen"]
    assert placed["discount_fen"] == shown["discount_fen"] == 1200 + 3 * (3333 - 2850)
    assert [line["adjustments"] for line in placed["lines"]] == [line["adjustments"] for line in shown["lines"]]
    order = Order.objects.get(order_no=placed["order_no"])
    assert sorted(OrderLineAdjustment.objects.filter(line__order=order).values_list("label", "amount_fen")) == sorted(
        [(FLOOR, -1200), (STACKED, -1449)])


def test_the_member_reads_do_not_grow_with_the_number_of_lines(gold_with_card, freight):
    price_policy(StackingPolicy.STACK)
    skus = [SkuFactory.create(price_fen=1000 + i, cost_fen=0, stock=5) for i in range(8)]

    def count(n: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            preview(gold_with_card, [{"sku_id": s.pk, "quantity": 1} for s in skus[:n]])
        return len(ctx.captured_queries)

    assert count(1) == count(8)


# --- tier free shipping (包邮门槛) ---------------------------------------------------------------------


def test_the_tier_threshold_frees_the_freight_when_it_is_below_the_templates(shopper):
    # given a template free from ¥200 and a 黄金会员 free from ¥99 (9.5折 off)
    default_freight(free_threshold_fen=20000)
    put_in_tier(shopper.member, 2, free_shipping_threshold_fen=9900, discount_percent=100)
    sku = SkuFactory.create(price_fen=9900, cost_fen=0, stock=5)
    cheap = SkuFactory.create(price_fen=9800, cost_fen=0, stock=5)

    reached = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])
    short = preview(shopper, [{"sku_id": cheap.pk, "quantity": 1}])

    assert (reached["freight_fen"], reached["free_shipping_by_tier"], reached["payable_fen"]) == (0, True, 9900)
    assert stage(reached, "freight") == [("运费", 0)]
    assert (short["freight_fen"], short["free_shipping_by_tier"], short["payable_fen"]) == (1000, False, 10800)


def test_the_template_threshold_wins_when_it_is_lower_and_the_tier_counts_goods_after_its_discount(shopper):
    # given a template free from ¥99 and a tier free from ¥300 with 9.5折
    default_freight(free_threshold_fen=9900)
    put_in_tier(shopper.member, 2, free_shipping_threshold_fen=30000)
    ok = SkuFactory.create(price_fen=11000, cost_fen=0, stock=5)  # 10450 after 9.5折: the template's ¥99 frees it
    under = SkuFactory.create(price_fen=10400, cost_fen=0, stock=5)  # 9880 after 9.5折: below both

    assert preview(shopper, [{"sku_id": ok.pk, "quantity": 1}])["freight_fen"] == 0
    body = preview(shopper, [{"sku_id": under.pk, "quantity": 1}])
    assert (body["freight_fen"], body["free_shipping_by_tier"]) == (1000, False)


def test_a_tier_without_a_threshold_changes_no_freight_and_the_order_keeps_the_free_freight(shopper, other_shopper):
    default_freight(free_threshold_fen=None)
    put_in_tier(shopper.member, 3, discount_percent=100)  # 钻石会员: free from ¥0
    tier(1)
    put_in_tier(other_shopper.member, 1)  # 白银会员: no free shipping
    sku = SkuFactory.create(price_fen=500, cost_fen=0, stock=5)
    items = [{"sku_id": sku.pk, "quantity": 1}]

    assert preview(other_shopper, items)["freight_fen"] == 1000
    shown = preview(shopper, items)
    assert shown["freight_fen"] == 0 and shown["free_shipping_by_tier"] is True
    placed = shopper.client.post("/api/v1/orders/", {"items": items, "expected_payable_fen": 500}, format="json")
    assert placed.status_code == 201, placed.json()
    assert (placed.json()["freight_fen"], placed.json()["payable_fen"]) == (0, 500)
