"""Coupons at checkout: the preview's usable and unusable lists and the best pick, then a coupon's
life with its order — locked at placement, used at payment, given back on cancel exactly once
(an expired one stays expired), returned on a full refund only when the template says so."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Coupon, CouponEvent, CouponKind, CouponStatus, CouponTemplate, GiftRule, Scope
from catalog.models import Stock, StockMovement
from members.models import Member
from payments.services import payment_gateway, payment_record_paid
from shop.models import Order, OrderEvent, OrderStatus, Refund, RefundState
from shop.services.aftersales import after_sale_approve
from shop.services.orders import order_cancel
from shop.services.payments import order_cancel_expired, order_prepay
from tests.builders import lines_of, operator, paid_order, pay, placed_order, requested_after_sale
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.celery_worker import celery_eager
from tests.concurrency import run_concurrently
from tests.factories import CategoryFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper
from wechat.sandbox.client import SandboxControl

Action = CouponEvent.Action


def preview(shopper, items, **extra):
    response = shopper.client.post("/api/v1/checkout/preview", {"items": items, **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def events(coupon: Coupon) -> list[tuple[str, str]]:
    return list(CouponEvent.objects.filter(coupon=coupon).order_by("id").values_list("action", "reference"))


def status(coupon: Coupon) -> str:
    return Coupon.objects.get(pk=coupon.pk).status


# --- the preview ------------------------------------------------------------------------------------


def test_preview_lists_usable_and_unusable_coupons_with_reasons_and_picks_the_best(shopper):
    # given a ¥120 product, and coupons of every sort of fate
    default_freight()
    clothes, toys = CategoryFactory.create(name="童装"), CategoryFactory.create(name="玩具")
    sku = SkuFactory.create(price_fen=12000, stock=10, product__category=clothes)
    now = timezone.now()
    m = shopper.member
    ten = give(m, template(name="满100减10", threshold_fen=10000, amount_fen=1000))
    fifteen = give(m, template(name="满100减15", threshold_fen=10000, amount_fen=1500))
    too_high = give(m, template(name="满200减30", threshold_fen=20000, amount_fen=3000))
    toys_only = give(m, template(name="玩具券", threshold_fen=0, amount_fen=2000, scope=Scope.CATEGORIES,
                                 categories=[toys]))
    later = give(m, template(name="明日券", threshold_fen=0, amount_fen=5000, kind=CouponKind.NO_THRESHOLD),
                 valid_from=now + dt.timedelta(days=1))
    capped = give(m, template(name="8折券", kind=CouponKind.DISCOUNT, threshold_fen=0, amount_fen=0, pay_percent=80,
                              max_discount_fen=1200))
    shipping = give(m, template(name="运费券", kind=CouponKind.FREIGHT, threshold_fen=0, amount_fen=0))

    # when the shopper previews one unit
    body = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])

    # then the best usable coupon is applied, and every other one says why not
    coupons = body["coupons"]
    assert coupons["auto"] is True and coupons["selected_ids"] == [fifteen.pk]
    assert {c["id"]: (c["discount_fen"], c["selected"]) for c in coupons["usable"]} == {
        ten.pk: (1000, False), fifteen.pk: (1500, True), capped.pk: (1200, False)}
    assert {c["id"]: (c["reason_code"], c["reason"]) for c in coupons["unusable"]} == {
        too_high.pk: ("coupon_threshold_not_met", "门槛未达到：满¥200.00可用，还差¥80.00"),
        toys_only.pk: ("coupon_not_applicable", "不适用于这些商品"),
        later.pk: ("coupon_not_started", "未到使用时间"),
        shipping.pk: ("coupon_no_freight", "本单无需运费"),
    }
    assert [(s["stage"], s["label"], s["amount_fen"]) for s in body["stages"]] == [
        ("coupon", "优惠券：满100减15", -1500), ("freight", "运费", 0)]
    assert (body["discount_fen"], body["freight_fen"], body["payable_fen"]) == (1500, 0, 10500)
    assert next(c for c in coupons["usable"] if c["id"] == capped.pk)["kind_label"] == "折扣券"


def test_equal_discounts_pick_the_coupon_expiring_soonest(shopper, freight):
    sku = SkuFactory.create(price_fen=12000, stock=10)
    t = template(threshold_fen=0, amount_fen=1000)
    now = timezone.now()
    late = give(shopper.member, t, valid_until=now + dt.timedelta(days=5))
    soon = give(shopper.member, t, valid_until=now + dt.timedelta(days=2))

    body = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])

    assert body["coupons"]["selected_ids"] == [soon.pk]
    assert late.pk in [c["id"] for c in body["coupons"]["usable"]]


def test_a_freight_coupon_takes_the_freight_off_and_the_order_shows_both_coupons(shopper, freight):
    # given two units of a ¥12.34 SKU (freight ¥15: below the ¥99 free-freight threshold)
    sku = SkuFactory.create(price_fen=1234, stock=10)
    goods = give(shopper.member, template(name="无门槛5元", kind=CouponKind.NO_THRESHOLD, threshold_fen=0,
                                          amount_fen=500))
    shipping = give(shopper.member, template(name="包邮券", kind=CouponKind.FREIGHT, threshold_fen=2000, amount_fen=0))
    items = [{"sku_id": sku.pk, "quantity": 2}]

    shown = preview(shopper, items)
    order = shopper.client.post("/api/v1/orders/", {"items": items}, format="json").json()

    # the freight coupon's threshold is on the goods still payable: 24.68 − 5 = 19.68 ≥ 20? no
    assert shown["coupons"]["selected_ids"] == [goods.pk]
    assert [c["reason"] for c in shown["coupons"]["unusable"]] == ["门槛未达到：满¥20.00可用，还差¥0.32"]
    assert (order["freight_fen"], order["freight_discount_fen"], order["payable_fen"]) == (1500, 0, 2468 - 500 + 1500)
    # with three units the freight coupon applies too: all of the ¥20 freight
    order_cancel(order=Order.objects.get(order_no=order["order_no"]), reason="重新下单", actor="member")
    items = [{"sku_id": sku.pk, "quantity": 3}]
    shown = preview(shopper, items)
    order = shopper.client.post("/api/v1/orders/", {"items": items, "expected_payable_fen": shown["payable_fen"]},
                                format="json").json()
    assert shown["coupons"]["selected_ids"] == [goods.pk, shipping.pk]
    assert [(s["stage"], s["amount_fen"]) for s in shown["stages"]] == [("coupon", -500), ("freight", 2000),
                                                                        ("freight_coupon", -2000)]
    assert (order["freight_fen"], order["freight_discount_fen"], order["payable_fen"]) == (2000, 2000, 3702 - 500)
    assert order["coupons"] == [
        {"id": goods.pk, "name": "无门槛5元", "kind": "no_threshold", "discount_fen": 500},
        {"id": shipping.pk, "name": "包邮券", "kind": "freight", "discount_fen": 2000}]
    detail = shopper.client.get(f"/api/v1/orders/{order['order_no']}/").json()
    assert detail["coupons"] == order["coupons"] and detail["freight_discount_fen"] == 2000
    assert {c.pk: (c.status, c.discount_fen) for c in Coupon.objects.filter(member=shopper.member)} == {
        goods.pk: (CouponStatus.LOCKED, 500), shipping.pk: (CouponStatus.LOCKED, 2000)}


def test_coupon_ids_choose_exactly_those_and_an_empty_list_none(shopper, freight):
    sku = SkuFactory.create(price_fen=12000, stock=10)
    small = give(shopper.member, template(threshold_fen=0, amount_fen=500))
    give(shopper.member, template(threshold_fen=0, amount_fen=900))
    items = [{"sku_id": sku.pk, "quantity": 1}]

    chosen = preview(shopper, items, coupon_ids=[small.pk])
    none = preview(shopper, items, coupon_ids=[])

    assert (chosen["coupons"]["auto"], chosen["coupons"]["selected_ids"], chosen["discount_fen"]) == (
        False, [small.pk], 500)
    assert (none["coupons"]["selected_ids"], none["discount_fen"], len(none["coupons"]["usable"])) == ([], 0, 2)
    order = shopper.client.post("/api/v1/orders/", {"items": items, "coupon_ids": []}, format="json").json()
    assert order["discount_fen"] == 0 and order["coupons"] == []
    assert not Coupon.objects.filter(member=shopper.member).exclude(status=CouponStatus.AVAILABLE).exists()


def test_the_preview_query_count_does_not_grow_with_the_members_coupons(shopper, freight):
    # given a cart of three lines, two running 满减 activities and one coupon
    category = CategoryFactory.create()
    skus = [SkuFactory.create(price_fen=5000 + i, stock=10, product__category=category) for i in range(3)]
    full_reduction(steps=[(10000, 1000)], scope=Scope.CATEGORIES, categories=[category])
    full_reduction(kind="quantity", steps=[(2, 90)])
    scoped = template(scope=Scope.PRODUCTS, products=[skus[0].product], excluded=[skus[1].product])
    give(shopper.member, scoped)
    items = [{"sku_id": s.pk, "quantity": 1} for s in skus]

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            preview(shopper, items)
        return len(ctx.captured_queries)

    few = count()
    # when the member holds 30 more coupons of ten templates with scopes
    for i in range(10):
        t = template(scope=Scope.CATEGORIES, categories=[category], excluded=[skus[2].product],
                     threshold_fen=i * 1000, kind=CouponKind.FREIGHT if i % 3 == 0 else CouponKind.FULL_REDUCTION)
        for _ in range(3):
            give(shopper.member, t)
    many = count()

    # then the preview runs the same number of queries
    assert many == few
    # token, SKUs, early-access window, address, member (member row, tier, price settings, card), 满减 (5),
    # coupons (4), freight (2)
    assert few <= 19


def test_an_order_replayed_with_its_key_returns_the_first_and_another_coupon_choice_is_refused(shopper, freight):
    sku = SkuFactory.create(price_fen=12000, stock=10)
    coupon = give(shopper.member, template(threshold_fen=0, amount_fen=500))
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}], "coupon_ids": [coupon.pk]}

    first = shopper.client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = shopper.client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = shopper.client.post("/api/v1/orders/", {**body, "coupon_ids": []}, format="json",
                                HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["order_no"] == first.json()["order_no"] and again["Idempotent-Replayed"] == "true"
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert Order.objects.count() == 1
    assert CouponEvent.objects.filter(coupon=coupon, action=Action.LOCKED).count() == 1


# --- a coupon's life with its order --------------------------------------------------------------


@pytest.fixture
def coupon_order(db, shopper, freight):
    """A ¥120 order that locked a 满100减15 coupon."""
    sku = SkuFactory.create(price_fen=12000, stock=10)
    coupon = give(shopper.member, template(name="满100减15", threshold_fen=10000, amount_fen=1500))
    order = placed_order(member=shopper.member, lines=[(sku, 1)])
    return shopper, sku, coupon, order


def test_placing_locks_the_coupon_to_the_order(coupon_order):
    shopper, sku, coupon, order = coupon_order

    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.discount_fen) == (CouponStatus.LOCKED, order.pk, 1500)
    assert events(coupon) == [(Action.ISSUED, "operator"), (Action.LOCKED, order.order_no)]
    assert (order.discount_fen, order.payable_fen) == (1500, 10500)
    assert order.applied_coupons == [{"id": coupon.pk, "name": "满100减15", "kind": "full_reduction",
                                      "discount_fen": 1500}]
    # a locked coupon is not offered again
    again = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])
    assert again["coupons"]["usable"] == [] and again["discount_fen"] == 0


def test_the_console_order_page_shows_the_coupon_and_the_freight_coupon_amount(coupon_order, admin_client):
    _, _, _, order = coupon_order

    page = admin_client.get(f"/admin/shop/order/{order.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "使用的优惠券" in text and "满100减15（抵扣 ¥15.00）" in text and "运费券抵扣" in text


def test_cancelling_the_unpaid_order_makes_the_coupon_usable_again_once(coupon_order):
    shopper, sku, coupon, order = coupon_order

    order_cancel(order=order, reason="买家取消", actor="member")
    order_cancel(order=order, reason="买家取消", actor="member")  # a repeat is a no-op

    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.discount_fen) == (CouponStatus.AVAILABLE, None, 0)
    assert events(coupon) == [(Action.ISSUED, "operator"), (Action.LOCKED, order.order_no),
                              (Action.RELEASED, order.order_no)]
    # the cancelled order still shows what it was priced with
    assert Order.objects.get(pk=order.pk).applied_coupons[0]["id"] == coupon.pk
    # usable again: the next order takes it
    assert preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])["coupons"]["selected_ids"] == [coupon.pk]
    second = placed_order(member=shopper.member, lines=[(sku, 1)])
    assert (status(coupon), second.discount_fen) == (CouponStatus.LOCKED, 1500)


def test_a_coupon_that_expired_while_the_order_was_unpaid_stays_expired_after_the_cancel(coupon_order):
    shopper, sku, coupon, order = coupon_order
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))

    order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system")

    assert status(coupon) == CouponStatus.EXPIRED
    assert events(coupon)[-2:] == [(Action.RELEASED, order.order_no), (Action.EXPIRED, order.order_no)]
    body = preview(shopper, [{"sku_id": sku.pk, "quantity": 1}])
    assert body["coupons"]["usable"] == body["coupons"]["unusable"] == []
    refused = shopper.client.post("/api/v1/checkout/preview", {"items": [{"sku_id": sku.pk, "quantity": 1}],
                                                               "coupon_ids": [coupon.pk]}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "coupon_expired")


@pytest.mark.django_db(transaction=True)
def test_a_manual_cancel_and_the_auto_cancel_job_racing_give_the_coupon_back_once():
    # given an unpaid order past its deadline that locked a coupon, and a shopper cancelling it
    default_freight()
    sku = SkuFactory.create(price_fen=12000, stock=10)
    shopper = make_shopper()
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1500))
    order = placed_order(member=shopper.member, lines=[(sku, 1)])
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    # when the shopper's cancel and the job run at the same moment, on their own connections
    def act(i: int):
        if i == 0:
            return order_cancel(order=Order.objects.get(pk=order.pk), reason="买家取消", actor="member")
        return order_cancel_expired()

    results = run_concurrently(act, 2)

    # then one cancellation, one release of the coupon and of the stock
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert OrderEvent.objects.filter(order=order, action="cancelled").count() == 1
    assert status(coupon) == CouponStatus.AVAILABLE
    assert CouponEvent.objects.filter(coupon=coupon, action=Action.RELEASED).count() == 1
    assert StockMovement.objects.filter(reference=order.order_no, reason="order_release").count() == 1
    assert Stock.objects.get(sku=sku).available == 10


@pytest.mark.django_db(transaction=True)
def test_two_orders_racing_for_one_coupon_one_gets_it_and_the_other_changes_nothing():
    default_freight()
    sku = SkuFactory.create(price_fen=12000, stock=10)
    shopper = make_shopper()
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1500))
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}], "coupon_ids": [coupon.pk]}

    responses = run_concurrently(lambda i: shopper.client.post("/api/v1/orders/", body, format="json",
                                                               HTTP_IDEMPOTENCY_KEY=f"race-{i}"), 2)

    assert sorted(r.status_code for r in responses) == [201, 409]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["code"] == "coupon_unavailable"
    assert Order.objects.count() == 1 and Stock.objects.get(sku=sku).available == 9
    assert CouponEvent.objects.filter(coupon=coupon, action=Action.LOCKED).count() == 1


def test_paying_uses_the_coupon_and_counts_it_on_its_template(coupon_order, sandbox,
                                                               django_capture_on_commit_callbacks):
    shopper, _, coupon, order = coupon_order

    with django_capture_on_commit_callbacks(execute=True):  # the template counts after the commit
        order = pay(order, sandbox=sandbox)

    coupon.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_fen == 10500
    assert (coupon.status, coupon.order_id, coupon.used_at is not None) == (CouponStatus.USED, order.pk, True)
    assert events(coupon)[-1] == (Action.USED, order.order_no)
    t = CouponTemplate.objects.get(pk=coupon.template_id)
    assert (t.used_count, t.redeemed_value_fen) == (1, 1500)
    member = Member.objects.get(pk=shopper.member.pk)
    assert (member.paid_order_count, member.paid_total_fen) == (1, 10500)


def test_a_paid_order_earns_the_pay_gift_after_the_payment_commits(coupon_order, sandbox,
                                                                    django_capture_on_commit_callbacks):
    shopper, _, _, order = coupon_order
    gift = template(name="支付有礼券", threshold_fen=0, amount_fen=800)
    GiftRule.objects.create(name="满100送券", trigger=GiftRule.Trigger.PAID_ORDER, template=gift, min_paid_fen=10000)

    with django_capture_on_commit_callbacks(execute=True):
        pay(order, sandbox=sandbox)

    earned = Coupon.objects.get(member=shopper.member, template=gift)
    assert earned.status == CouponStatus.AVAILABLE and (earned.issue_key or "").endswith(f":{order.order_no}")


def test_a_cancelled_order_paid_late_takes_its_coupon_again_when_it_is_still_there(
        coupon_order, sandbox, django_capture_on_commit_callbacks):
    shopper, sku, coupon, order = coupon_order
    order_prepay(member=shopper.member, order_no=order.order_no, client_ip="203.0.113.9")
    order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system")
    assert status(coupon) == CouponStatus.AVAILABLE

    with django_capture_on_commit_callbacks(execute=True):  # the template counts after the commit
        record_late_payment(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_fen == 10500
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.discount_fen) == (CouponStatus.USED, order.pk, 1500)
    assert events(coupon)[-2:] == [(Action.RELEASED, order.order_no), (Action.USED, order.order_no)]
    assert CouponTemplate.objects.get(pk=coupon.template_id).used_count == 1


def test_a_cancelled_order_paid_late_records_a_coupon_it_can_no_longer_take(
        coupon_order, sandbox, django_capture_on_commit_callbacks):
    shopper, sku, coupon, order = coupon_order
    order_prepay(member=shopper.member, order_no=order.order_no, client_ip="203.0.113.9")
    order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system")
    other = placed_order(member=shopper.member, lines=[(sku, 1)])  # the released coupon went to the next order

    with django_capture_on_commit_callbacks(execute=True):  # the template counts after the commit
        record_late_payment(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # the payment stands
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == (CouponStatus.LOCKED, other.pk)
    note = OrderEvent.objects.get(order=order, action="coupon_not_retaken")
    assert note.data == {"coupon_ids": [coupon.pk]}
    assert CouponTemplate.objects.get(pk=coupon.template_id).used_count == 0


def record_late_payment(order: Order) -> None:
    SandboxControl(settings.WECHAT_API_BASE).pay(order.order_no, notify=False)
    answer = payment_gateway().query(out_trade_no=order.order_no)
    assert answer.notice is not None
    assert payment_record_paid(notice=answer.notice, source="orderquery").outcome == "revived"


# --- refunds ---------------------------------------------------------------------------------------


@pytest.fixture
def refund_case(mall, sandbox):
    """A paid order of 2 × ¥60 + 1 × ¥40 that used a 满100减15 coupon; the refund task runs eagerly."""
    with celery_eager():
        default_freight()
        yield


def paid_with_coupon(sandbox, *, returns: bool):
    shopper = make_shopper()
    first, second = SkuFactory.create(price_fen=6000, stock=10), SkuFactory.create(price_fen=4000, stock=10)
    coupon = give(shopper.member, template(threshold_fen=10000, amount_fen=1500, return_on_full_refund=returns))
    # checkout picks the coupon
    order = paid_order(member=shopper.member, lines=[(first, 2), (second, 1)], sandbox=sandbox)
    return shopper, coupon, order


def refund(shopper, order: Order, quantities, sandbox) -> Order:
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines=quantities), operator=operator(
        f"ops{Refund.objects.count()}"))
    sandbox.settle_refund(Refund.objects.get(after_sale=after_sale).out_refund_no)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db(transaction=True)
def test_a_full_refund_returns_the_coupon_when_the_template_says_so(refund_case, sandbox):
    shopper, coupon, order = paid_with_coupon(sandbox, returns=True)
    first, second = lines_of(order)

    order = refund(shopper, order, {first: 2, second: 1}, sandbox)

    assert order.refund_state == RefundState.FULL
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.discount_fen) == (CouponStatus.AVAILABLE, None, 0)
    assert events(coupon)[-1] == (Action.RETURNED, order.order_no)
    t = CouponTemplate.objects.get(pk=coupon.template_id)
    assert (t.used_count, t.redeemed_value_fen) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_full_refund_keeps_the_coupon_used_when_the_template_does_not_return_it(refund_case, sandbox):
    shopper, coupon, order = paid_with_coupon(sandbox, returns=False)
    first, second = lines_of(order)

    order = refund(shopper, order, {first: 2, second: 1}, sandbox)

    assert order.refund_state == RefundState.FULL
    assert status(coupon) == CouponStatus.USED
    assert Action.RETURNED not in [a for a, _ in events(coupon)]


@pytest.mark.django_db(transaction=True)
def test_a_partial_refund_never_returns_the_coupon_and_the_last_part_does(refund_case, sandbox):
    shopper, coupon, order = paid_with_coupon(sandbox, returns=True)
    first, second = lines_of(order)

    order = refund(shopper, order, {second: 1}, sandbox)

    assert order.refund_state == RefundState.PARTIAL
    assert order.refunded_fen == second.payable_fen  # the coupon's share of that line stays off
    assert status(coupon) == CouponStatus.USED

    # refunding the rest completes a full refund: now it comes back, once
    order = refund(shopper, order, {first: 2}, sandbox)
    assert order.refund_state == RefundState.FULL
    assert status(coupon) == CouponStatus.AVAILABLE
    assert CouponEvent.objects.filter(coupon=coupon, action=Action.RETURNED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_coupon_returned_after_its_validity_ended_is_expired_not_revived(refund_case, sandbox):
    shopper, coupon, order = paid_with_coupon(sandbox, returns=True)
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))
    first, second = lines_of(order)

    refund(shopper, order, {first: 2, second: 1}, sandbox)

    assert status(coupon) == CouponStatus.EXPIRED
    assert [a for a, _ in events(coupon)][-2:] == [Action.RETURNED, Action.EXPIRED]


@pytest.fixture
def freight(db):
    return default_freight()
