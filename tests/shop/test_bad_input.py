"""Bad input gets a 4xx in the one error shape, never a 500, and changes nothing."""

from __future__ import annotations

import pytest

from catalog.models import Stock
from members.models import Address
from shop.models import CartItem, Order


def assert_error_shape(response, status: int | None = None):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] and body["message"]
    return body


def snapshot(sku):
    return (Order.objects.count(), CartItem.objects.count(), Address.objects.count(),
            Stock.objects.get(sku=sku).available)


ORDER_BODIES = [
    {"items": "all"},
    {"items": [{"sku_id": "abc", "quantity": 1}]},
    {"items": [{"sku_id": 1.5, "quantity": 1}]},
    {"items": [{"quantity": 1}]},
    {"items": [{"sku_id": "{sku}", "quantity": 0}]},
    {"items": [{"sku_id": "{sku}", "quantity": -3}]},
    {"items": [{"sku_id": "{sku}", "quantity": 10**12}]},
    {"items": [{"sku_id": 999999999, "quantity": 1}]},
    {"items": [{"sku_id": 2**70, "quantity": 1}]},
    {"items": [{"sku_id": -1, "quantity": 1}]},
    {"items": [{"sku_id": None, "quantity": 1}]},
    {"items": []},
    {"items": [{"sku_id": "{sku}", "quantity": 1}], "address_id": "x"},
    {"items": [{"sku_id": "{sku}", "quantity": 1}], "address_id": 987654321},
    {"items": [{"sku_id": "{sku}", "quantity": 1}], "remark": "长" * 201},
    {"items": [{"sku_id": "{sku}", "quantity": 1}], "expected_payable_fen": -1},
    [],
    "just a string",
    None,
]


def fill(body, sku):
    if isinstance(body, dict):
        return {k: fill(v, sku) for k, v in body.items()}
    if isinstance(body, list):
        return [fill(v, sku) for v in body]
    return sku.pk if body == "{sku}" else body


@pytest.mark.parametrize("body", ORDER_BODIES, ids=range(len(ORDER_BODIES)))
@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/checkout/preview"])
def test_bad_checkout_bodies(shopper, sku, path, body):
    before = snapshot(sku)
    response = shopper.client.post(path, fill(body, sku), format="json")
    assert_error_shape(response)
    assert snapshot(sku) == before


@pytest.mark.parametrize("raw", [b"{", b"{\"items\": [", b"\xff\xfe", b"items=1", b"[1,2", b"nul"])
@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/checkout/preview", "/api/v1/cart/items/",
                                  "/api/v1/addresses/", "/api/v1/auth/wechat/login"])
def test_broken_json(shopper, sku, path, raw):
    before = snapshot(sku)
    response = shopper.client.post(path, raw, content_type="application/json")
    body = assert_error_shape(response, 400)
    assert body["code"] == "malformed_request"
    assert snapshot(sku) == before


def test_wrong_content_type_is_415(shopper, sku):
    response = shopper.client.post("/api/v1/orders/", "items=1", content_type="application/x-www-form-urlencoded")
    assert assert_error_shape(response, 415)["code"] == "unsupported_media_type"


CART_BODIES = [
    {"sku_id": "x"}, {"sku_id": "{sku}", "quantity": 0}, {"sku_id": "{sku}", "quantity": 1000},
    {"sku_id": "{sku}", "quantity": -1}, {"sku_id": 123456789}, {}, {"sku_id": "{sku}", "quantity": [1]},
]


@pytest.mark.parametrize("body", CART_BODIES, ids=range(len(CART_BODIES)))
def test_bad_cart_adds(shopper, sku, body):
    before = snapshot(sku)
    assert_error_shape(shopper.client.post("/api/v1/cart/items/", fill(body, sku), format="json"))
    assert snapshot(sku) == before


def test_cart_quantity_cannot_pass_the_limit_by_adding_twice(shopper, sku):
    shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 999}, format="json")
    response = shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json")
    assert assert_error_shape(response, 400)["code"] == "invalid_quantity"
    assert CartItem.objects.get(member=shopper.member).quantity == 999


@pytest.mark.parametrize("path", [
    "/api/v1/orders/NOPE/", "/api/v1/orders/%20/", "/api/v1/orders/1' OR '1'='1/",
    "/api/v1/products/99999999/", "/api/v1/products/abc/", "/api/v1/addresses/99999999/",
    "/api/v1/products/99999999999999999999999/", "/api/v1/addresses/99999999999999999999999/",
])
def test_unknown_or_malformed_ids_are_404(shopper, path):
    response = shopper.client.get(path)
    assert_error_shape(response, 404)


ADDRESS_BODIES = [
    {}, {"receiver_name": "李四"}, {"receiver_name": "李四", "phone": "abc", "province": "浙江省",
                                    "city": "杭州市", "detail": "x"},
    {"receiver_name": "李" * 33, "phone": "13800138000", "province": "浙江省", "city": "杭州市", "detail": "x"},
    {"receiver_name": "李四", "phone": "13800138000", "province": "浙江省", "city": "杭州市", "detail": "x",
     "is_default": "maybe"},
]


@pytest.mark.parametrize("body", ADDRESS_BODIES, ids=range(len(ADDRESS_BODIES)))
def test_bad_addresses(shopper, sku, body):
    before = snapshot(sku)
    assert_error_shape(shopper.client.post("/api/v1/addresses/", body, format="json"), 400)
    assert snapshot(sku) == before


@pytest.mark.parametrize("query", ["category=abc", "price_min=x", "tag=unknown", "ordering=bogus",
                                   "page=0", "page=abc", "page=99999", "page_size=-1"])
def test_bad_product_queries_are_4xx(db, api_client, query):
    response = api_client.get(f"/api/v1/products/?{query}")
    if response.status_code == 200:  # DRF ignores an unusable ordering/page_size: that's fine
        return
    assert_error_shape(response)


@pytest.mark.parametrize("query", ["status=bogus", "page=abc"])
def test_bad_order_queries_are_4xx(shopper, query):
    assert_error_shape(shopper.client.get(f"/api/v1/orders/?{query}"))


def test_bad_profile_updates(shopper):
    for body in [{"gender": "robot"}, {"birthday": "2999-01-01"}, {"birthday": "not a date"},
                 {"avatar_url": "javascript:alert(1)"}]:
        assert_error_shape(shopper.client.patch("/api/v1/me", body, format="json"), 400)
    shopper.member.refresh_from_db()
    assert shopper.member.gender == "unknown" and shopper.member.birthday is None
