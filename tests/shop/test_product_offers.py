"""The member's part of the product page: the price it shows for one unit of a SKU is what the
checkout preview charges for it, across member price, flash price, 满减 and held coupons."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from members.models import StackingPolicy
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import FlashItemFactory, ProductFactory, SkuFactory
from tests.shop.support_member_price import give_card, price_policy, put_in_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold_with_card(shopper):
    """A 黄金会员 (9.5折) with a 9折 paid card under 折上折; no freight template, so freight is 0."""
    put_in_tier(shopper.member, 2, free_shipping_threshold_fen=None)
    give_card(shopper.member, discount_percent=90)
    price_policy(StackingPolicy.STACK)
    return shopper


def offers(client, product_id):
    response = client.get(f"/api/v1/products/{product_id}/offers")
    assert response.status_code == 200, response.json()
    return response.json()


def preview_one(shopper, sku_offer, **extra):
    item = {"sku_id": sku_offer["sku_id"], "quantity": 1}
    if sku_offer["flash_item_id"] is not None:
        item["flash_item_id"] = sku_offer["flash_item_id"]
    response = shopper.client.post("/api/v1/checkout/preview", {"items": [item], **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def product_with_skus(*prices):
    product = ProductFactory.create()
    return product, [SkuFactory.create(product=product, price_fen=p, cost_fen=0, stock=5) for p in prices]


@pytest.mark.parametrize("scenario", ["member_price", "flash", "full_reduction", "flash_and_full_reduction",
                                      "held_coupon"])
def test_the_price_shown_is_what_the_checkout_preview_charges_for_one_unit(gold_with_card, scenario):
    # given a product with three SKUs and, per scenario, a flash item, a 满减 or a coupon the member holds
    product, skus = product_with_skus(10000, 25000, 1999)
    if "flash" in scenario:
        FlashItemFactory.create(sku=skus[0], flash_price_fen=6000)
    if "full_reduction" in scenario:
        full_reduction(name="店庆满减", steps=[(9000, 1000), (20000, 3000)])
    if scenario == "held_coupon":
        give(gold_with_card.member, template(threshold_fen=5000, amount_fen=700))

    # when the member opens the product page
    body = offers(gold_with_card.client, product.pk)

    # then each SKU's price is the preview's charge for one unit: before coupons with none chosen,
    # the 到手价 with the coupons picked as checkout picks them
    for sku_offer in body["skus"]:
        without = preview_one(gold_with_card, sku_offer, coupon_ids=[])
        auto = preview_one(gold_with_card, sku_offer)
        assert without["freight_fen"] == auto["freight_fen"] == 0
        assert sku_offer["price_fen"] == without["payable_fen"]
        assert sku_offer["final_price_fen"] == auto["payable_fen"]
        assert sku_offer["coupon_id"] == (auto["coupons"]["selected_ids"] or [None])[0]
        assert [(a["stage"], a["amount_fen"]) for a in sku_offer["adjustments"]] == \
            [(a["stage"], a["amount_fen"]) for a in auto["lines"][0]["adjustments"]]
    assert body["lowest_final_price_fen"] == min(s["final_price_fen"] for s in body["skus"])


def test_a_gold_member_with_a_card_sees_the_stacked_member_price_and_its_label(gold_with_card):
    product, (sku,) = product_with_skus(10000)

    body = offers(gold_with_card.client, product.pk)

    assert body["tier_name"] == "黄金会员"
    assert body["card_active"] is True
    assert body["skus"] == [{
        "sku_id": sku.pk, "list_price_fen": 10000, "price_fen": 8550, "final_price_fen": 8550,
        "flash_item_id": None, "member_price_label": "会员价：等级折扣与会员卡折扣叠加（9.5折×9折=8.55折）",
        "coupon_id": None,
        "adjustments": [{"stage": "member", "label": "会员价：等级折扣与会员卡折扣叠加（9.5折×9折=8.55折）",
                         "amount_fen": -1450}],
    }]
    assert body["flash"] is None
    assert body["group_buy"] is None and body["bargain"] is None


def test_a_running_flash_session_shows_its_price_and_countdown(gold_with_card):
    product, (sku, other) = product_with_skus(10000, 12000)
    item = FlashItemFactory.create(sku=sku, flash_price_fen=6000, per_member_limit=2)

    body = offers(gold_with_card.client, product.pk)

    flash = body["flash"]
    assert [(i["flash_item_id"], i["sku_id"], i["flash_price_fen"], i["my_remaining"], i["buyable"])
            for i in flash["items"]] == [(item.pk, sku.pk, 6000, 2, True)]
    assert 3500 < flash["seconds_left"] <= 3600
    by_sku = {s["sku_id"]: s for s in body["skus"]}
    assert (by_sku[sku.pk]["flash_item_id"], by_sku[sku.pk]["price_fen"]) == (item.pk, 6000)
    assert (by_sku[other.pk]["flash_item_id"], by_sku[other.pk]["price_fen"]) == (None, 10260)


def test_a_sold_out_flash_item_is_shown_but_the_member_price_applies(gold_with_card):
    product, (sku,) = product_with_skus(10000)
    FlashItemFactory.create(sku=sku, flash_price_fen=6000, stock_total=3, stock_left=0)

    body = offers(gold_with_card.client, product.pk)

    assert [i["buyable"] for i in body["flash"]["items"]] == [False]
    assert (body["skus"][0]["flash_item_id"], body["skus"][0]["price_fen"]) == (None, 8550)


def test_claimable_coupons_and_full_reductions_are_those_covering_the_product(gold_with_card):
    product, _ = product_with_skus(10000)
    elsewhere = ProductFactory.create()
    store_wide = template(name="全场券", show_in_center=True)
    template(name="别的商品券", scope="products", products=[elsewhere], show_in_center=True)
    mine = template(name="本品券", scope="products", products=[product], show_in_center=True, per_member_limit=1)
    give(gold_with_card.member, mine)
    full_reduction(name="全场满减", steps=[(19900, 2000), (29900, 4000)])
    full_reduction(name="他品满折", kind="quantity", steps=[(2, 90)], scope="products", products=[elsewhere])

    body = offers(gold_with_card.client, product.pk)

    assert [(c["template_id"], c["state"]) for c in body["coupons"]] == [(mine.pk, "claimed"),
                                                                          (store_wide.pk, "claimable")]
    assert [(r["name"], r["kind"], r["text"]) for r in body["full_reductions"]] == [
        ("全场满减", "amount", "满199减20，满299减40")]


def test_a_guest_sees_the_list_price_and_an_off_shelf_product_is_404(db):
    product, (sku,) = product_with_skus(10000)
    guest = APIClient()

    body = offers(guest, product.pk)

    assert (body["logged_in"], body["tier_name"], body["skus"][0]["final_price_fen"]) == (False, "", 10000)
    product.is_on_shelf = False
    product.save()
    response = guest.get(f"/api/v1/products/{product.pk}/offers")
    assert (response.status_code, response.json()["code"]) == (404, "product_not_found")


def test_the_queries_do_not_grow_with_the_number_of_skus(gold_with_card):
    few, _ = product_with_skus(10000, 12000)
    many, _ = product_with_skus(*range(10000, 18000, 1000))
    full_reduction(name="店庆满减", steps=[(9000, 1000)])
    give(gold_with_card.member, template(threshold_fen=5000, amount_fen=700))

    counts = []
    for product in (few, many):
        with CaptureQueriesContext(connection) as queries:
            offers(gold_with_card.client, product.pk)
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 30
