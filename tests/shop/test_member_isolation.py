"""Member A never reaches member B's orders, addresses or cart lines; tokens are checked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import MemberToken
from shop.models import CartItem, Order
from shop.services.orders import CheckoutInput, LineInput, order_place


@pytest.fixture
def b_things(other_shopper, sku):
    order, _ = order_place(member=other_shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))
    other_shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json")
    return {
        "order": order,
        "address": other_shopper.member.addresses.get(),
        "cart_item": CartItem.objects.get(member=other_shopper.member),
    }


def b_paths(things):
    no = things["order"].order_no
    return [
        ("get", f"/api/v1/orders/{no}/"),
        ("post", f"/api/v1/orders/{no}/pay"),
        ("post", f"/api/v1/orders/{no}/cancel"),
        ("post", f"/api/v1/orders/{no}/confirm-receipt"),
        ("get", f"/api/v1/addresses/{things['address'].pk}/"),
        ("patch", f"/api/v1/addresses/{things['address'].pk}/"),
        ("delete", f"/api/v1/addresses/{things['address'].pk}/"),
        ("patch", f"/api/v1/cart/items/{things['cart_item'].pk}/"),
        ("delete", f"/api/v1/cart/items/{things['cart_item'].pk}/"),
    ]


def test_member_a_gets_404_for_everything_of_member_b(shopper, b_things):
    for method, path in b_paths(b_things):
        response = getattr(shopper.client, method)(path, {"quantity": 2, "detail": "改地址"}, format="json")
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"].endswith("not_found"), (method, path)
    # and nothing of B's changed
    assert Order.objects.get(pk=b_things["order"].pk).status == "pending_payment"
    assert CartItem.objects.get(pk=b_things["cart_item"].pk).quantity == 1
    b_things["address"].refresh_from_db()
    assert b_things["address"].detail == "文三路 100 号"


def test_lists_show_only_the_members_own_rows(shopper, b_things):
    assert shopper.client.get("/api/v1/orders/").json()["results"] == []
    assert shopper.client.get("/api/v1/cart/items/").json()["items"] == []
    assert [a["id"] for a in shopper.client.get("/api/v1/addresses/").json()] == [
        shopper.member.addresses.get().pk]


PROTECTED = [("get", "/api/v1/me"), ("get", "/api/v1/orders/"), ("post", "/api/v1/orders/"),
             ("get", "/api/v1/addresses/"), ("get", "/api/v1/cart/items/"),
             ("post", "/api/v1/checkout/preview")]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_expired_token_is_401(shopper, method, path):
    MemberToken.objects.filter(member=shopper.member).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = getattr(shopper.client, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_logout_revokes_the_token(shopper):
    assert shopper.client.post("/api/v1/auth/logout").status_code == 204
    response = shopper.client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-token", "Bearer 令牌"])
def test_malformed_tokens_are_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/me").status_code == 401
