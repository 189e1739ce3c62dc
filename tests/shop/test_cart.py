"""The cart keeps lines that became invalid and says why; quantities add up; budgets hold."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product, Sku, StockMovement
from catalog.services import stock_adjust
from shop.models import CartItem
from tests.factories import SkuFactory


def cart(shopper):
    response = shopper.client.get("/api/v1/cart/items/")
    assert response.status_code == 200
    return response.json()


def add(shopper, sku, quantity=1):
    return shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": quantity}, format="json")


def test_invalid_lines_stay_with_their_reason(shopper, freight):
    ok, off_shelf, sold_out, short, repriced = (SkuFactory.create(stock=5, price_fen=1000) for _ in range(5))
    for sku in (ok, off_shelf, sold_out, repriced):
        add(shopper, sku)
    add(shopper, short, 4)
    Product.objects.filter(pk=off_shelf.product_id).update(is_on_shelf=False)
    stock_adjust(sku=sold_out, delta=-5, reason=StockMovement.Reason.ADJUST)
    stock_adjust(sku=short, delta=-3, reason=StockMovement.Reason.ADJUST)
    Sku.objects.filter(pk=repriced.pk).update(price_fen=1200)

    body = cart(shopper)

    states = {line["sku_id"]: (line["state"], line["reason"]) for line in body["items"]}
    assert states == {
        ok.pk: ("ok", ""),
        off_shelf.pk: ("off_shelf", "商品已下架"),
        sold_out.pk: ("out_of_stock", "商品已售罄"),
        short.pk: ("insufficient_stock", "库存不足"),
        repriced.pk: ("price_changed", "价格有变动"),
    }
    # the total counts only what can be bought, at today's price
    assert body["selected_total_fen"] == 1000 + 1200
    repriced_line = next(line for line in body["items"] if line["sku_id"] == repriced.pk)
    assert (repriced_line["price_fen"], repriced_line["price_fen_when_added"]) == (1200, 1000)


def test_acknowledging_a_new_price_clears_the_flag(shopper, freight):
    sku = SkuFactory.create(stock=5, price_fen=1000)
    add(shopper, sku)
    Sku.objects.filter(pk=sku.pk).update(price_fen=900)
    item = CartItem.objects.get(member=shopper.member)

    shopper.client.patch(f"/api/v1/cart/items/{item.pk}/", {"acknowledge_price": True}, format="json")

    assert cart(shopper)["items"][0]["state"] == "ok"


def test_adding_the_same_sku_twice_adds_quantities(shopper, freight):
    sku = SkuFactory.create(stock=5)
    add(shopper, sku, 2)
    add(shopper, sku, 3)
    assert [(line["sku_id"], line["quantity"]) for line in cart(shopper)["items"]] == [(sku.pk, 5)]


def test_select_all_and_remove(shopper, freight):
    a, b = SkuFactory.create(stock=5), SkuFactory.create(stock=5)
    add(shopper, a)
    add(shopper, b)
    shopper.client.post("/api/v1/cart/select-all", {"selected": False}, format="json")
    assert cart(shopper)["selected_count"] == 0
    item = CartItem.objects.get(member=shopper.member, sku=a)
    assert shopper.client.delete(f"/api/v1/cart/items/{item.pk}/").status_code == 204
    assert [line["sku_id"] for line in cart(shopper)["items"]] == [b.pk]


def test_cart_and_address_lists_have_fixed_query_budgets(shopper, freight):
    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            assert shopper.client.get(path).status_code == 200
        return len(ctx.captured_queries)

    add(shopper, SkuFactory.create(stock=5))
    one = queries("/api/v1/cart/items/")
    for _ in range(15):
        add(shopper, SkuFactory.create(stock=5))
    assert queries("/api/v1/cart/items/") == one <= 2
    assert queries("/api/v1/addresses/") <= 2
