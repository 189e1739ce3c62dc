"""Favourites, footprints, buying an order again and the cart's hints, through the API; another
member's ids are not found (404) and change nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.models import CartItem, Favourite, Footprint
from shop.services.browsing import browsing_forget_member
from tests.builders import placed_order
from tests.campaigns.support_checkout import full_reduction
from tests.factories import ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


def favourite(shopper, product_id):
    return shopper.client.post("/api/v1/me/favourites/", {"product_id": product_id}, format="json")


def test_a_favourite_is_saved_once_listed_newest_first_and_removed(shopper, sku):
    other = SkuFactory.create(price_fen=500, stock=0)

    first = favourite(shopper, sku.product_id)
    again = favourite(shopper, sku.product_id)
    favourite(shopper, other.product_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listed = shopper.client.get("/api/v1/me/favourites/").json()
    assert [(f["product"]["id"], f["product"]["in_stock"]) for f in listed["results"]] == [
        (other.product_id, False), (sku.product_id, True)]
    assert listed["results"][0]["product"]["price_fen"] == 500
    removed = shopper.client.delete(f"/api/v1/me/favourites/{first.json()['id']}")
    assert removed.status_code == 204
    assert list(Favourite.objects.filter(member=shopper.member).values_list("product_id", flat=True)) == [
        other.product_id]


def test_another_members_favourite_or_an_off_shelf_product_is_404_and_nothing_changes(shopper, other_shopper, sku):
    theirs = favourite(other_shopper, sku.product_id).json()["id"]
    off_shelf = ProductFactory.create(is_on_shelf=False)

    response = shopper.client.delete(f"/api/v1/me/favourites/{theirs}")
    refused = favourite(shopper, off_shelf.pk)

    assert (response.status_code, response.json()["code"]) == (404, "favourite_not_found")
    assert (refused.status_code, refused.json()["code"]) == (404, "product_not_found")
    assert list(Favourite.objects.values_list("member_id", flat=True)) == [other_shopper.member.pk]


def test_opening_a_product_page_leaves_a_footprint_and_the_page_knows_the_favourite(shopper, sku, settings):
    settings.FOOTPRINTS_KEPT = 2
    a, b = SkuFactory.create(stock=1), SkuFactory.create(stock=1)
    saved = favourite(shopper, sku.product_id).json()["id"]

    for product_id in (sku.product_id, a.product_id, sku.product_id, b.product_id):
        body = shopper.client.get(f"/api/v1/products/{product_id}/offers").json()

    assert body["favourite_id"] is None
    assert shopper.client.get(f"/api/v1/products/{sku.product_id}/offers").json()["favourite_id"] == saved
    listed = shopper.client.get("/api/v1/me/footprints/").json()["results"]
    # the last two products opened, most recent first; a page opened twice is one footprint
    assert [f["product"]["id"] for f in listed] == [sku.product_id, b.product_id]


def test_footprints_are_removed_one_by_one_or_cleared_and_another_members_is_404(shopper, other_shopper, sku):
    shopper.client.get(f"/api/v1/products/{sku.product_id}/offers")
    other_shopper.client.get(f"/api/v1/products/{sku.product_id}/offers")
    mine = Footprint.objects.get(member=shopper.member).pk
    theirs = Footprint.objects.get(member=other_shopper.member).pk

    refused = shopper.client.delete(f"/api/v1/me/footprints/{theirs}")
    removed = shopper.client.delete(f"/api/v1/me/footprints/{mine}")
    other_shopper.client.delete("/api/v1/me/footprints/")

    assert (refused.status_code, refused.json()["code"]) == (404, "footprint_not_found")
    assert removed.status_code == 204
    assert not Footprint.objects.exists()


def test_buy_again_puts_the_orders_skus_back_and_skips_what_is_gone(shopper, sku, cheap_sku):
    order = placed_order(member=shopper.member, lines=[(sku, 2), (cheap_sku, 3)])
    cheap_sku.product.is_on_shelf = False
    cheap_sku.product.save()

    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/buy-again")

    assert response.status_code == 200
    body = response.json()
    assert body["added_sku_ids"] == [sku.pk]
    assert [(s["sku_id"], s["code"]) for s in body["skipped"]] == [(cheap_sku.pk, "product_unavailable")]
    assert [(i["sku_id"], i["quantity"], i["selected"]) for i in body["cart"]["items"]] == [(sku.pk, 2, True)]


def test_buy_again_on_another_members_order_is_404_and_the_cart_stays_empty(shopper, other_shopper, sku):
    theirs = placed_order(member=other_shopper.member, lines=[(sku, 1)])

    response = shopper.client.post(f"/api/v1/orders/{theirs.order_no}/buy-again")

    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    assert not CartItem.objects.exists()


def test_the_cart_hints_at_the_next_full_reduction_rung_and_at_free_shipping(shopper, freight):
    # given 满199减20 / 满299减40 and freight free from ¥99 (tests/shop/conftest.py's default template)
    full_reduction(name="店庆满减", steps=[(19900, 2000), (29900, 4000)])
    sku = SkuFactory.create(price_fen=5000, stock=10)
    shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json")

    hints = shopper.client.get("/api/v1/cart/hints").json()["hints"]

    assert [(h["kind"], h["text"], h["gap_fen"]) for h in hints] == [
        ("full_reduction", "再买 ¥149 减 ¥20（店庆满减）", 14900), ("free_shipping", "还差 ¥49 包邮", 4900)]

    # when the cart reaches the first rung, the hint speaks of the next, and freight is free
    shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 3}, format="json")
    hints = shopper.client.get("/api/v1/cart/hints").json()["hints"]
    assert [(h["kind"], h["text"], h["discount_fen"]) for h in hints] == [
        ("full_reduction", "再买 ¥99 减 ¥40（店庆满减）", 4000)]


def test_a_deleted_member_loses_favourites_and_footprints(shopper, sku):
    favourite(shopper, sku.product_id)
    shopper.client.get(f"/api/v1/products/{sku.product_id}/offers")

    assert browsing_forget_member(member_id=shopper.member.pk) == 2
    assert not Favourite.objects.exists() and not Footprint.objects.exists()


def test_the_lists_read_a_fixed_number_of_queries(shopper, freight):
    for n in range(6):
        product_id = SkuFactory.create(stock=n).product_id
        favourite(shopper, product_id)
        shopper.client.get(f"/api/v1/products/{product_id}/offers")

    counts = []
    for size in (2, 6):
        for url in ("/api/v1/me/favourites/", "/api/v1/me/footprints/"):
            with CaptureQueriesContext(connection) as queries:
                assert shopper.client.get(f"{url}?page_size={size}").status_code == 200
            counts.append(len(queries))

    assert counts[:2] == counts[2:]
