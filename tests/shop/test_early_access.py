"""新品优先购: during a product's early-access window only members of the allowed tiers may add it
to the cart, preview it or order it; the product page shows the window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Product, Stock
from shop.models import CartItem, Order
from tests.factories import SkuFactory, default_freight
from tests.shop.support_member_price import put_in_tier

pytestmark = pytest.mark.django_db

REFUSED = ("early_access_only", "新品优先购期间仅限指定等级会员购买")


@pytest.fixture
def new_sku(db):
    """A ¥99 SKU whose product is for 黄金会员 and above until tomorrow."""
    default_freight()
    sku = SkuFactory.create(price_fen=9900, cost_fen=0, stock=10)
    Product.objects.filter(pk=sku.product_id).update(early_access_until=timezone.now() + dt.timedelta(days=1),
                                                     early_access_min_tier_level=2)
    return sku


def attempts(shopper, sku):
    items = [{"sku_id": sku.pk, "quantity": 1}]
    return [shopper.client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json"),
            shopper.client.post("/api/v1/checkout/preview", {"items": items}, format="json"),
            shopper.client.post("/api/v1/orders/", {"items": items}, format="json")]


@pytest.mark.parametrize("level", [0, 1])  # 普通会员, 白银会员 (no early-access benefit)
def test_lower_tiers_are_refused_everywhere_and_nothing_changes(shopper, new_sku, level):
    put_in_tier(shopper.member, level)

    responses = attempts(shopper, new_sku)

    for response in responses:
        assert response.status_code == 403, response.json()
        assert (response.json()["code"], response.json()["message"]) == REFUSED
        assert response.json()["detail"]["product_id"] == new_sku.product_id
        assert response.json()["detail"]["min_tier_level"] == 2
    assert not CartItem.objects.exists()
    assert not Order.objects.exists()
    assert Stock.objects.get(sku=new_sku).available == 10


def test_a_cart_preview_of_a_product_that_entered_its_window_later_is_refused(shopper, new_sku):
    put_in_tier(shopper.member, 0)
    Product.objects.filter(pk=new_sku.product_id).update(early_access_until=None)
    assert shopper.client.post("/api/v1/cart/items/", {"sku_id": new_sku.pk, "quantity": 1},
                               format="json").status_code == 201
    Product.objects.filter(pk=new_sku.product_id).update(early_access_until=timezone.now() + dt.timedelta(hours=1))

    from_cart = shopper.client.post("/api/v1/checkout/preview", {}, format="json")
    order = shopper.client.post("/api/v1/orders/", {}, format="json")

    assert from_cart.status_code == order.status_code == 403
    assert CartItem.objects.filter(member=shopper.member).count() == 1
    assert not Order.objects.exists()


@pytest.mark.parametrize("level", [2, 3])  # 黄金会员, 钻石会员
def test_the_allowed_tiers_may_buy(shopper, new_sku, level):
    put_in_tier(shopper.member, level, discount_percent=100)

    cart, preview, order = attempts(shopper, new_sku)

    assert (cart.status_code, preview.status_code, order.status_code) == (201, 200, 201), order.json()
    assert Stock.objects.get(sku=new_sku).available == 9


def test_a_tier_without_the_benefit_is_refused_even_at_the_level_and_no_level_means_any_benefit_tier(
        shopper, other_shopper, new_sku):
    put_in_tier(shopper.member, 2, early_access=False)
    put_in_tier(other_shopper.member, 3, discount_percent=100)
    Product.objects.filter(pk=new_sku.product_id).update(early_access_min_tier_level=None)

    assert [r.status_code for r in attempts(shopper, new_sku)] == [403, 403, 403]
    assert [r.status_code for r in attempts(other_shopper, new_sku)] == [201, 200, 201]


def test_after_the_window_everyone_may_buy(shopper, new_sku):
    put_in_tier(shopper.member, 0)
    Product.objects.filter(pk=new_sku.product_id).update(early_access_until=timezone.now() - dt.timedelta(seconds=1))

    assert [r.status_code for r in attempts(shopper, new_sku)] == [201, 200, 201]


def test_the_product_page_shows_the_window_while_it_is_open(api_client, new_sku):
    until = Product.objects.get(pk=new_sku.product_id).early_access_until

    body = api_client.get(f"/api/v1/products/{new_sku.product_id}/").json()

    assert body["early_access"] == {"until": timezone.localtime(until).isoformat(), "min_tier_level": 2,
                                    "min_tier_name": "黄金会员"}
    Product.objects.filter(pk=new_sku.product_id).update(early_access_until=timezone.now() - dt.timedelta(seconds=1))
    assert api_client.get(f"/api/v1/products/{new_sku.product_id}/").json()["early_access"] is None


def test_the_product_form_has_the_early_access_fields_in_chinese(admin_client, new_sku):
    page = admin_client.get(f"/admin/catalog/product/{new_sku.product_id}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    for text in ("新品优先购", "优先购截止时间", "优先购最低会员等级", "黄金会员（等级 2）及以上",
                 "任一享有新品优先购权益的等级"):
        assert text in html, text
