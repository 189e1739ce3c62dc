"""Bad coupon input at checkout (must-be-true #6): a coupon of another member, an expired one, one
that does not apply, garbage ids — a clear 4xx with the exact code, and nothing changes: no order,
no stock taken, no coupon touched, no ledger row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Coupon, CouponEvent, CouponKind, Scope
from catalog.models import Stock
from shop.models import Order
from shop.services.orders import CheckoutInput, LineInput, order_place
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import CategoryFactory, SkuFactory, default_freight


@pytest.fixture
def cart(shopper):
    """A ¥120 SKU of 童装 with 10 in stock, and the shopper's usable 满100减15 coupon."""
    default_freight()
    sku = SkuFactory.create(price_fen=12000, stock=10, product__category=CategoryFactory.create(name="童装"))
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1500))
    return sku, coupon


def snapshot(sku) -> tuple:
    return (Order.objects.count(), Stock.objects.get(sku=sku).available,
            sorted(Coupon.objects.values_list("pk", "status", "order_id", "discount_fen")),
            CouponEvent.objects.count())


def attempt(shopper, sku, coupon_ids) -> list[tuple[int, dict]]:
    """Preview and place with `coupon_ids`; both answers."""
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}], "coupon_ids": coupon_ids}
    answers = []
    for path in ("/api/v1/checkout/preview", "/api/v1/orders/"):
        response = shopper.client.post(path, body, format="json")
        answers.append((response.status_code, response.json()))
    return answers


def assert_refused(shopper, sku, coupon_ids, status: int, code: str, message: str | None = None) -> None:
    before = snapshot(sku)
    for got_status, body in attempt(shopper, sku, coupon_ids):
        assert (got_status, body["code"]) == (status, code), body
        if message is not None:
            assert body["message"] == message
    assert snapshot(sku) == before


def test_a_coupon_of_another_member_is_not_found_and_changes_nothing(shopper, other_shopper, cart):
    sku, _ = cart
    theirs = give(other_shopper.member, template(threshold_fen=0, amount_fen=3000))
    assert_refused(shopper, sku, [theirs.pk], 404, "coupon_not_found", "优惠券不存在")
    assert Coupon.objects.get(pk=theirs.pk).status == "available"


def test_an_unknown_coupon_is_not_found(shopper, cart):
    sku, _ = cart
    assert_refused(shopper, sku, [987654321], 404, "coupon_not_found")


def test_an_expired_coupon_is_refused_as_expired(shopper, cart):
    sku, _ = cart
    old = give(shopper.member, template(threshold_fen=0, amount_fen=3000),
               valid_until=timezone.now() - dt.timedelta(seconds=1))
    assert_refused(shopper, sku, [old.pk], 409, "coupon_expired", "已过期")
    Coupon.objects.filter(pk=old.pk).update(status="expired")  # after the expiry job
    assert_refused(shopper, sku, [old.pk], 409, "coupon_expired", "已过期")


def test_a_coupon_not_yet_valid_is_refused(shopper, cart):
    sku, _ = cart
    later = give(shopper.member, template(threshold_fen=0, amount_fen=3000),
                 valid_from=timezone.now() + dt.timedelta(hours=1))
    assert_refused(shopper, sku, [later.pk], 409, "coupon_not_started", "未到使用时间")


def test_a_coupon_for_other_goods_is_refused(shopper, cart):
    sku, _ = cart
    toys = give(shopper.member, template(threshold_fen=0, amount_fen=3000, scope=Scope.CATEGORIES,
                                         categories=[CategoryFactory.create(name="玩具")]))
    excluded = give(shopper.member, template(threshold_fen=0, amount_fen=3000, excluded=[sku.product]))
    assert_refused(shopper, sku, [toys.pk], 409, "coupon_not_applicable", "不适用于这些商品")
    assert_refused(shopper, sku, [excluded.pk], 409, "coupon_not_applicable")


def test_a_coupon_below_its_threshold_says_how_much_more_is_needed(shopper, cart):
    sku, _ = cart
    high = give(shopper.member, template(threshold_fen=20000, amount_fen=3000))
    assert_refused(shopper, sku, [high.pk], 409, "coupon_threshold_not_met", "门槛未达到：满¥200.00可用，还差¥80.00")


def test_a_coupon_that_does_not_stack_is_refused_on_goods_under_a_full_reduction(shopper, cart):
    sku, _ = cart
    full_reduction(steps=[(10000, 1000)])
    plain = give(shopper.member, template(threshold_fen=0, amount_fen=3000))
    assert_refused(shopper, sku, [plain.pk], 409, "coupon_not_stackable", "不可与活动同享")


def test_a_freight_coupon_with_no_freight_to_pay_is_refused(shopper, cart):
    sku, _ = cart
    shipping = give(shopper.member, template(kind=CouponKind.FREIGHT, threshold_fen=0, amount_fen=0))
    assert_refused(shopper, sku, [shipping.pk], 409, "coupon_no_freight", "本单无需运费")


def test_a_coupon_locked_by_another_unpaid_order_is_unavailable(shopper, cart):
    sku, coupon = cart
    order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),), coupon_ids=(coupon.pk,)))
    assert_refused(shopper, sku, [coupon.pk], 409, "coupon_unavailable", "优惠券已被使用或已失效")


def test_two_goods_coupons_are_refused(shopper, cart):
    sku, coupon = cart
    second = give(shopper.member, template(threshold_fen=0, amount_fen=500))
    assert_refused(shopper, sku, [coupon.pk, second.pk], 400, "coupon_combination_invalid",
                   "每单最多使用一张商品券和一张运费券")


@pytest.mark.parametrize("garbage", ["abc", ["x"], [1.5], [0], [-3], [2**70], {"id": 1}, [None], [[1]], [1, 2, 3],
                                     ["1; DROP TABLE campaigns_coupon"]])
def test_garbage_coupon_ids_are_invalid_input(shopper, cart, garbage):
    sku, _ = cart
    assert_refused(shopper, sku, garbage, 400, "invalid_input", "输入有误")


@pytest.mark.parametrize("garbage", ["x", 0, -1, 1.5, [1]])
def test_a_garbage_flash_item_id_is_invalid_input(shopper, cart, garbage):
    sku, _ = cart
    before = snapshot(sku)
    for path in ("/api/v1/checkout/preview", "/api/v1/orders/"):
        response = shopper.client.post(path, {"items": [{"sku_id": sku.pk, "quantity": 1, "flash_item_id": garbage}]},
                                       format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid_input")
    assert snapshot(sku) == before
