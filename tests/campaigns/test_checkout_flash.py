"""Flash-sale lines in checkout: the activity price stage, the shorter unpaid timeout, how 满减 and
coupons treat a flash line, and refusals that change nothing. (The rush and the per-member limit
under concurrency: test_flash_orders.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import Coupon, CouponStatus, FlashItem, FlashReservation
from catalog.models import Stock
from shop.models import Order
from shop.services.orders import order_cancel
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import FlashItemFactory, SkuFactory, default_freight


@pytest.fixture
def flash(db):
    """A ¥99 SKU (100 in stock) on flash sale at ¥49, 20 units, two per member, in a running session."""
    default_freight()
    sku = SkuFactory.create(price_fen=9900, stock=100)
    return FlashItemFactory.create(sku=sku, flash_price_fen=4900, stock_total=20, per_member_limit=2)


def post(shopper, path, items, **extra):
    return shopper.client.post(path, {"items": items, **extra}, format="json")


def flash_line(item: FlashItem, quantity: int = 1) -> dict:
    return {"sku_id": item.sku_id, "quantity": quantity, "flash_item_id": item.pk}


def test_a_flash_line_is_priced_at_the_flash_price_and_its_order_expires_sooner(shopper, flash):
    shown = post(shopper, "/api/v1/checkout/preview", [flash_line(flash, 2)]).json()

    assert [(s["stage"], s["label"], s["amount_fen"]) for s in shown["stages"]] == [
        ("activity", "秒杀价", -2 * 5000), ("freight", "运费", 1500)]  # ¥98 is under the ¥99 free-freight line
    assert (shown["goods_total_fen"], shown["discount_fen"], shown["payable_fen"]) == (19800, 10000, 9800 + 1500)

    before = timezone.now()
    response = post(shopper, "/api/v1/orders/", [flash_line(flash, 2)], expected_payable_fen=11300)

    assert response.status_code == 201, response.json()
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert order.payable_fen == 11300
    assert before + dt.timedelta(minutes=15) <= order.expires_at <= timezone.now() + dt.timedelta(minutes=15)
    assert settings.ORDER_UNPAID_TIMEOUT_MINUTES > 15
    assert FlashReservation.objects.get(order=order).quantity == 2
    assert FlashItem.objects.get(pk=flash.pk).stock_left == 18
    assert Stock.objects.get(sku=flash.sku).available == 98


def test_cancelling_gives_back_flash_stock_and_the_coupon_together(shopper, flash):
    coupon = give(shopper.member, template(threshold_fen=0, amount_fen=500, stacks_with_activities=True))
    response = post(shopper, "/api/v1/orders/", [flash_line(flash)])
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.LOCKED

    order_cancel(order=order, reason="买家取消", actor="member")

    assert FlashItem.objects.get(pk=flash.pk).stock_left == 20
    assert FlashReservation.objects.get(order=order).released_at is not None
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.AVAILABLE
    assert Stock.objects.get(sku=flash.sku).available == 100


def test_coupons_skip_flash_lines_unless_their_template_stacks(shopper, flash):
    plain = give(shopper.member, template(name="普通券", threshold_fen=0, amount_fen=1000))
    stacking = give(shopper.member, template(name="秒杀可用券", threshold_fen=4900, amount_fen=300,
                                             stacks_with_activities=True))

    shown = post(shopper, "/api/v1/checkout/preview", [flash_line(flash)]).json()

    # the stacking coupon's threshold is met by the flash price (¥49), not the list price
    assert shown["coupons"]["selected_ids"] == [stacking.pk]
    assert [(c["id"], c["reason_code"]) for c in shown["coupons"]["unusable"]] == [(plain.pk, "coupon_not_stackable")]
    assert shown["payable_fen"] == 4900 - 300 + 1000  # under ¥99: freight ¥10


def test_full_reduction_leaves_flash_lines_out(shopper, flash):
    full_reduction(name="满99减10", steps=[(9900, 1000)])
    other = SkuFactory.create(price_fen=9900, stock=5)

    shown = post(shopper, "/api/v1/checkout/preview", [flash_line(flash), {"sku_id": other.pk, "quantity": 1}]).json()

    by_sku = {line["sku_id"]: [a["stage"] for a in line["adjustments"]] for line in shown["lines"]}
    assert by_sku == {flash.sku_id: ["activity"], other.pk: ["full_reduction"]}
    assert [(s["stage"], s["amount_fen"]) for s in shown["stages"] if s["stage"] == "full_reduction"] == [
        ("full_reduction", -1000)]


def assert_refused_everywhere(shopper, items, status, code):
    before = (Order.objects.count(), list(FlashItem.objects.values_list("pk", "stock_left")),
              list(Stock.objects.values_list("sku_id", "available")))
    for path in ("/api/v1/checkout/preview", "/api/v1/orders/"):
        response = post(shopper, path, items)
        assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert (Order.objects.count(), list(FlashItem.objects.values_list("pk", "stock_left")),
            list(Stock.objects.values_list("sku_id", "available"))) == before


def test_an_ended_session_is_refused_as_not_active(shopper, flash):
    flash.session.__class__.objects.filter(pk=flash.session_id).update(
        starts_at=timezone.now() - dt.timedelta(hours=3), ends_at=timezone.now() - dt.timedelta(hours=1))
    assert_refused_everywhere(shopper, [flash_line(flash)], 409, "flash_not_active")


def test_an_item_of_another_sku_is_refused_as_not_active(shopper, flash):
    other = SkuFactory.create(price_fen=9900, stock=5)
    assert_refused_everywhere(shopper, [{"sku_id": other.pk, "quantity": 1, "flash_item_id": flash.pk}], 409,
                              "flash_not_active")


def test_an_unknown_flash_item_is_not_found(shopper, flash):
    assert_refused_everywhere(shopper, [{"sku_id": flash.sku_id, "quantity": 1, "flash_item_id": 99999999}], 404,
                              "flash_item_not_found")


def test_more_than_the_member_may_buy_is_refused_at_preview(shopper, flash):
    assert_refused_everywhere(shopper, [flash_line(flash, 3)], 409, "flash_limit_exceeded")


def test_one_sku_at_the_flash_price_and_at_the_list_price_in_one_order_is_refused(shopper, flash):
    assert_refused_everywhere(shopper, [flash_line(flash), {"sku_id": flash.sku_id, "quantity": 1}], 400,
                              "flash_item_conflict")
