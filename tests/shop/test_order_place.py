"""Placing orders through the API: prices, stock, idempotency, refusals that change nothing."""

from __future__ import annotations

import re

from catalog.models import Stock, StockMovement
from shop.models import CartItem, Order, OrderEvent
from tests.factories import SkuFactory


def stock_of(sku) -> int:
    return Stock.objects.get(sku=sku).available


def test_placing_an_order_reserves_stock_and_copies_prices(shopper, cheap_sku):
    # given two units of a ¥12.34 SKU, below the ¥99 free-freight threshold
    # when the shopper places the order
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": cheap_sku.pk, "quantity": 2}]},
                                   format="json")
    # then the order exists with lines priced at the time of purchase
    assert response.status_code == 201, response.json()
    body = response.json()
    assert re.fullmatch(r"\d{16}", body["order_no"])
    assert body["status"] == "pending_payment"
    assert body["goods_total_fen"] == 2468
    assert body["freight_fen"] == 1000 + 500  # first piece + one extra piece
    assert body["payable_fen"] == 2468 + 1500
    assert body["lines"][0]["unit_price_fen"] == 1234
    assert body["lines"][0]["product_name"] == cheap_sku.product.name
    assert stock_of(cheap_sku) == 98
    assert StockMovement.objects.filter(sku=cheap_sku, reason="order_reserve", delta=-2).count() == 1
    assert OrderEvent.objects.filter(order__order_no=body["order_no"], action="placed").count() == 1


def test_order_total_is_lines_plus_freight_minus_discounts(shopper, cheap_sku, sku):
    response = shopper.client.post("/api/v1/orders/", {"items": [
        {"sku_id": cheap_sku.pk, "quantity": 3}, {"sku_id": sku.pk, "quantity": 1}]}, format="json")
    body = response.json()
    lines_total = sum(line["payable_fen"] for line in body["lines"])
    assert body["payable_fen"] == lines_total + body["freight_fen"]
    assert body["payable_fen"] == body["goods_total_fen"] - body["discount_fen"] + body["freight_fen"]
    assert body["freight_fen"] == 0  # 3 × 12.34 + 99.00 is over the ¥99 threshold


def test_preview_and_order_agree_to_the_fen(shopper, cheap_sku):
    payload = {"items": [{"sku_id": cheap_sku.pk, "quantity": 5}]}
    preview = shopper.client.post("/api/v1/checkout/preview", payload, format="json").json()
    order = shopper.client.post("/api/v1/orders/", payload, format="json").json()
    for field in ("goods_total_fen", "discount_fen", "freight_fen", "payable_fen"):
        assert preview[field] == order[field], field
    assert [line["payable_fen"] for line in preview["lines"]] == [line["payable_fen"] for line in order["lines"]]


def test_remote_provinces_pay_their_own_freight_rate(shopper, cheap_sku):
    shopper.member.addresses.update(province="新疆维吾尔自治区")
    preview = shopper.client.post("/api/v1/checkout/preview",
                                  {"items": [{"sku_id": cheap_sku.pk, "quantity": 2}]}, format="json").json()
    assert preview["freight_fen"] == 2000 + 1000


def test_ordering_from_the_cart_removes_only_the_ordered_lines(shopper, cheap_sku, sku):
    shopper.client.post("/api/v1/cart/items/", {"sku_id": cheap_sku.pk, "quantity": 2}, format="json")
    shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json")
    item = CartItem.objects.get(member=shopper.member, sku=sku)
    shopper.client.patch(f"/api/v1/cart/items/{item.pk}/", {"selected": False}, format="json")

    response = shopper.client.post("/api/v1/orders/", {}, format="json")

    assert response.status_code == 201
    assert [line["sku_id"] for line in response.json()["lines"]] == [cheap_sku.pk]
    assert list(CartItem.objects.filter(member=shopper.member).values_list("sku_id", flat=True)) == [sku.pk]


def test_too_little_stock_is_refused_and_changes_nothing(shopper, sku):
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 11}]},
                                   format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["message"] == "库存不足"
    assert stock_of(sku) == 10
    assert Order.objects.count() == 0


def test_one_short_line_refuses_the_whole_order(shopper, sku, cheap_sku):
    response = shopper.client.post("/api/v1/orders/", {"items": [
        {"sku_id": cheap_sku.pk, "quantity": 1}, {"sku_id": sku.pk, "quantity": 11}]}, format="json")
    assert response.status_code == 409
    assert stock_of(cheap_sku) == 100
    assert StockMovement.objects.filter(reason="order_reserve").count() == 0


def test_off_shelf_products_cannot_be_ordered(shopper, freight):
    sku = SkuFactory.create(stock=5, product__is_on_shelf=False)
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                   format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "product_unavailable"
    assert response.json()["detail"] == {"sku_ids": [sku.pk]}
    assert stock_of(sku) == 5


def test_an_order_needs_an_address(shopper, sku):
    shopper.member.addresses.all().delete()
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                   format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "address_required"
    assert stock_of(sku) == 10


def test_a_changed_price_is_refused_when_the_client_says_what_it_expects(shopper, sku):
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}],
                                                       "expected_payable_fen": 100}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "price_changed", "message": "商品价格有变动，请确认后重新提交",
                               "detail": {"payable_fen": 9900}}
    assert stock_of(sku) == 10


def test_same_idempotency_key_returns_the_same_order(shopper, sku):
    payload = {"items": [{"sku_id": sku.pk, "quantity": 2}]}
    first = shopper.client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = shopper.client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert stock_of(sku) == 8


def test_same_idempotency_key_with_another_body_is_a_conflict(shopper, sku):
    shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 2}]}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k-2")
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 3}]},
                                   format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1
    assert stock_of(sku) == 8


def test_idempotency_keys_are_per_member(shopper, other_shopper, sku):
    payload = {"items": [{"sku_id": sku.pk, "quantity": 1}]}
    a = shopper.client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    b = other_shopper.client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["order_no"] != b.json()["order_no"]
    assert stock_of(sku) == 8
