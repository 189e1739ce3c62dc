"""Points at checkout (积分抵扣), through the preview and order APIs: the limit the preview shows,
the stage allocated to lines, refusals that change nothing, the spend at placement and the return
on cancel — exactly once, also when the shopper and the auto-cancel job cancel at the same time.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Coupon, CouponStatus
from catalog.models import Stock
from members.models import Member, PointsEntry, PointsKind
from shop.models import Order, OrderStatus
from shop.services.payments import order_cancel_expired
from tests.campaigns.support_checkout import give, template
from tests.factories import SkuFactory, default_freight
from tests.shop.support_member_price import balance, give_points, ledger_sum

pytestmark = pytest.mark.django_db


@pytest.fixture
def freight(db):
    return default_freight()  # ¥10 + ¥5 per extra piece, free from ¥99


def preview(shopper, items, **extra):
    return shopper.client.post("/api/v1/checkout/preview", {"items": items, **extra}, format="json")


def place(shopper, items, **extra):
    return shopper.client.post("/api/v1/orders/", {"items": items, **extra}, format="json")


def points_stage(body):
    return [(s["label"], s["amount_fen"]) for s in body["stages"] if s["stage"] == "points"]


# --- what the preview shows -----------------------------------------------------------------------


def test_the_preview_shows_the_balance_and_at_most_half_the_goods_in_whole_points(shopper, freight):
    # given ¥99.99 of goods and 10,000 points (¥100)
    give_points(shopper.member, 10000)
    sku = SkuFactory.create(price_fen=9999, cost_fen=0, stock=5)

    body = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}]).json()

    # then at most 50% of ¥99.99, rounded down to the fen: 4,999 points worth ¥49.99; none used yet
    assert body["points"] == {"balance": 10000, "max_points": 4999, "max_value_fen": 4999, "used": 0, "used_fen": 0}
    assert points_stage(body) == []


def test_the_limit_is_the_balance_when_smaller_and_counts_the_goods_after_the_coupon(shopper, freight):
    give_points(shopper.member, 3000)
    sku = SkuFactory.create(price_fen=20000, cost_fen=0, stock=5)
    give(shopper.member, template(threshold_fen=10000, amount_fen=8000))  # 满100减80

    with_coupon = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}]).json()
    give_points(shopper.member, 100000, reference="more")
    rich = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}]).json()

    assert with_coupon["points"]["max_points"] == 3000  # the balance
    assert rich["points"] == {"balance": 103000, "max_points": 6000, "max_value_fen": 6000, "used": 0,
                              "used_fen": 0}  # 50% of ¥200 − ¥80


def test_points_used_are_one_stage_allocated_to_the_lines_by_what_each_still_costs(shopper, freight):
    give_points(shopper.member, 5000)
    a = SkuFactory.create(price_fen=3000, cost_fen=0, stock=5)
    b = SkuFactory.create(price_fen=7001, cost_fen=0, stock=5)

    body = preview(shopper, [{"sku_id": a.pk, "quantity": 1}, {"sku_id": b.pk, "quantity": 1}], points=2001).json()

    assert points_stage(body) == [("积分抵扣", -2001)]
    parts = {line["sku_id"]: [x["amount_fen"] for x in line["adjustments"] if x["stage"] == "points"]
             for line in body["lines"]}
    assert parts == {a.pk: [-600], b.pk: [-1401]}  # 2001 × 3000/10001 = 600.2…, 2001 × 7001/10001 = 1400.8…
    assert body["points"]["used"] == 2001 and body["points"]["used_fen"] == 2001
    assert body["discount_fen"] == 2001
    assert body["payable_fen"] == 10001 - 2001 + 1500  # freight is on what remains: ¥80 is below the ¥99 threshold


# --- refusals change nothing ----------------------------------------------------------------------


def test_more_than_the_limit_or_the_balance_is_refused_with_the_max_and_changes_nothing(shopper, freight):
    give_points(shopper.member, 3000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    items = [{"sku_id": sku.pk, "quantity": 1}]

    over_limit = [preview(shopper, items, points=5001), place(shopper, items, points=5001)]
    over_balance = [preview(shopper, items, points=3001), place(shopper, items, points=3001)]

    for response in over_limit:
        assert response.status_code == 409
        assert response.json()["code"] == "points_exceed_limit"
        assert response.json()["message"] == "使用积分超过本单可抵扣上限"
        assert response.json()["detail"]["max_points"] == 3000
    for response in over_balance:
        assert response.status_code == 409
        assert response.json()["code"] == "points_insufficient"
        assert response.json()["detail"]["max_points"] == 3000
    assert balance(shopper.member) == 3000 == ledger_sum(shopper.member)
    assert not Order.objects.exists()
    assert Stock.objects.get(sku=sku).available == 5


@pytest.mark.parametrize("bad", [-1, "abc", 1.5, "12.5", None, [100]])
def test_a_negative_or_non_integer_number_of_points_is_a_400(shopper, freight, bad):
    give_points(shopper.member, 3000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    items = [{"sku_id": sku.pk, "quantity": 1}]

    for response in (preview(shopper, items, points=bad), place(shopper, items, points=bad)):
        assert response.status_code == 400, response.json()
        assert response.json()["code"] == "invalid_input"
        assert "points" in response.json()["detail"]
    assert balance(shopper.member) == 3000 == ledger_sum(shopper.member)
    assert not Order.objects.exists()
    assert Stock.objects.get(sku=sku).available == 5


# --- spend at placement, return on cancel -----------------------------------------------------------


def test_placement_spends_the_points_and_stores_them_on_the_order(shopper, freight):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    items = [{"sku_id": sku.pk, "quantity": 1}]
    shown = preview(shopper, items, points=1234).json()

    response = place(shopper, items, points=1234, expected_payable_fen=shown["payable_fen"])

    assert response.status_code == 201, response.json()
    placed = response.json()
    assert (placed["points_used"], placed["points_fen"], placed["payable_fen"]) == (1234, 1234, 10000 - 1234 + 1000)
    assert placed["discount_fen"] == shown["discount_fen"] == 1234
    assert [line["adjustments"] for line in placed["lines"]] == [line["adjustments"] for line in shown["lines"]]
    order = Order.objects.get(order_no=placed["order_no"])
    assert (order.points_used, order.points_fen) == (1234, 1234)
    spend = PointsEntry.objects.get(member=shopper.member, kind=PointsKind.SPEND)
    assert (spend.reference, spend.delta) == (order.order_no, -1234)
    assert balance(shopper.member) == 5000 - 1234 == ledger_sum(shopper.member)


def test_the_console_order_page_shows_the_points_used(shopper, freight, admin_client):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    placed = place(shopper, [{"sku_id": sku.pk, "quantity": 1}], points=1234).json()
    order = Order.objects.get(order_no=placed["order_no"])

    page = admin_client.get(f"/admin/shop/order/{order.pk}/change/")

    assert page.status_code == 200
    assert "1234 积分（抵扣 ¥12.34）" in page.content.decode()


def test_cancelling_returns_the_points_exactly_once(shopper, freight):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    order_no = place(shopper, [{"sku_id": sku.pk, "quantity": 1}], points=2000).json()["order_no"]
    assert balance(shopper.member) == 3000

    first = shopper.client.post(f"/api/v1/orders/{order_no}/cancel", {}, format="json")
    second = shopper.client.post(f"/api/v1/orders/{order_no}/cancel", {}, format="json")

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == OrderStatus.CANCELLED
    returns = PointsEntry.objects.filter(member=shopper.member, kind=PointsKind.CANCEL_RETURN)
    assert list(returns.values_list("reference", "delta")) == [(f"cancel:{order_no}", 2000)]
    assert balance(shopper.member) == 5000 == ledger_sum(shopper.member)
    assert Stock.objects.get(sku=sku).available == 5


def test_the_auto_cancel_job_returns_the_points(shopper, freight):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    order_no = place(shopper, [{"sku_id": sku.pk, "quantity": 1}], points=4000).json()["order_no"]
    Order.objects.filter(order_no=order_no).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert order_cancel_expired() == {"cancelled": 1, "paid": 0, "failed": 0}
    assert order_cancel_expired() == {"cancelled": 0, "paid": 0, "failed": 0}

    assert Order.objects.get(order_no=order_no).status == OrderStatus.CANCELLED
    assert PointsEntry.objects.filter(member=shopper.member, kind=PointsKind.CANCEL_RETURN).count() == 1
    assert balance(shopper.member) == 5000 == ledger_sum(shopper.member)


def test_an_order_without_points_spends_and_returns_nothing(shopper, freight):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    placed = place(shopper, [{"sku_id": sku.pk, "quantity": 1}]).json()
    shopper.client.post(f"/api/v1/orders/{placed['order_no']}/cancel", {}, format="json")

    assert (placed["points_used"], placed["points_fen"]) == (0, 0)
    assert list(PointsEntry.objects.filter(member=shopper.member).values_list("kind", flat=True)) == ["adjustment"]
    assert balance(shopper.member) == 5000


def test_points_and_coupons_together_and_the_idempotent_replay(shopper, freight):
    give_points(shopper.member, 5000)
    sku = SkuFactory.create(price_fen=10000, cost_fen=0, stock=5)
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1000))
    items = [{"sku_id": sku.pk, "quantity": 1}]

    first = shopper.client.post("/api/v1/orders/", {"items": items, "points": 4500}, format="json",
                                HTTP_IDEMPOTENCY_KEY="pts-1")
    again = shopper.client.post("/api/v1/orders/", {"items": items, "points": 4500}, format="json",
                                HTTP_IDEMPOTENCY_KEY="pts-1")
    other = shopper.client.post("/api/v1/orders/", {"items": items, "points": 100}, format="json",
                                HTTP_IDEMPOTENCY_KEY="pts-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    body = first.json()
    assert (body["discount_fen"], body["points_fen"], body["payable_fen"]) == (1000 + 4500, 4500, 10000 - 5500 + 1000)
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.LOCKED
    assert balance(shopper.member) == 500 == ledger_sum(shopper.member)
    assert Member.objects.filter(points_balance__lt=0).count() == 0
