"""Commission (佣金) on real orders: earned on payment to the fen on what the shopper paid for each
line after member price, 满减, coupon and points; frozen on receipt; available once the
after-sales window closes; refunds reversed exactly before settlement and clawed back after, the
clawback offset against the next earnings, never a negative withdrawable amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from campaigns.models import (
    Clawback,
    ClawbackEvent,
    Commission,
    CommissionEntry,
    CommissionEvent,
    CommissionRate,
    Distributor,
    DistributorGrade,
)
from campaigns.services.distribution import distributor_freeze, distributor_grades_upgrade, distributor_set_grade
from campaigns.services.settlement import commissions_settle_due
from campaigns.services.withdrawals import withdrawal_request
from core.money import apply_rate
from shop.models import AfterSale, Order, OrderLine, Refund
from shop.services.aftersales import after_sale_approve
from shop.services.reconcile import counters_reconcile
from shop.services.refunds import refund_record_result
from tests.builders import (
    buyer,
    lines_of,
    operator,
    paid_order,
    pay,
    placed_order,
    receive,
    refund_notice,
    requested_after_sale,
    ship,
)
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.campaigns.support_distribution import (
    bind,
    chain,
    commissions_of,
    distributor,
    ledger_consistent,
    money,
    near_member,
    reviewer,
    rules,
)
from tests.factories import CategoryFactory, FlashItemFactory, ProductFactory, SkuFactory, default_freight
from tests.shop.support_member_price import give_points, put_in_tier

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(days=8)  # past the 7-day after-sales window


@pytest.fixture(autouse=True)
def freight(db):
    return default_freight()  # free from ¥99


def refund(order: Order, lines: dict[OrderLine, int]) -> Refund:
    """A refund-only after-sale of `lines`, approved, and WeChat's word that it was refunded."""
    after_sale = requested_after_sale(order=order, lines=lines)
    after_sale_approve(after_sale=after_sale, operator=operator(f"ops{AfterSale.objects.count()}"))
    refund = Refund.objects.get(after_sale=after_sale)
    assert refund_record_result(notice=refund_notice(refund), source="notify") == "succeeded"
    return refund


def settle(days: dt.timedelta = LATER) -> None:
    commissions_settle_due(now=timezone.now() + days)


def test_both_levels_earn_to_the_fen_on_what_the_line_paid_after_every_discount():
    # given a gold member (95%) under a two-level chain, 满150减20, a 满100减10 coupon and 500 points
    top, near, shopper = chain()
    put_in_tier(shopper, 2)
    full_reduction(steps=[(15000, 2000)])
    coupon = give(shopper, template(stacks_with_activities=True))
    give_points(shopper, 500)
    sku = SkuFactory.create(price_fen=9900, stock=10)

    # when they buy 2 × ¥99.00 and pay
    order = pay(placed_order(member=shopper, lines=[(sku, 2)], coupon_ids=(coupon.pk,), points=500))

    # then the line paid 2 × 94.05 − 20 − 10 − 5 = ¥153.10 (free freight), and the chain earns
    # 10% = ¥15.31 and 5% = ¥7.655 → ¥7.66 (half up), pending
    assert (order.paid_fen, order.freight_fen) == (15310, 0)
    assert commissions_of(order.order_no) == [(1, 15310, 1531, 0, "pending"), (2, 15310, 766, 0, "pending")]
    assert Commission.objects.get(order_ref=order.order_no, level=1).distributor_id == near.pk
    assert (money(near)["pending"], money(top)["pending"]) == (1531, 766)
    assert CommissionEvent.objects.filter(commission__order_ref=order.order_no, action="earned").count() == 2
    assert ledger_consistent()


def test_each_line_earns_on_its_own_allocated_share_of_the_discounts():
    _, near, shopper = chain()
    full_reduction(steps=[(10000, 1001)])
    cream, lotion = SkuFactory.create(price_fen=6000, stock=10), SkuFactory.create(price_fen=4333, stock=10)

    order = paid_order(member=shopper, lines=[(cream, 1), (lotion, 1)], coupon_ids=())

    cream_line, lotion_line = lines_of(order)
    assert cream_line.payable_fen + lotion_line.payable_fen == 10333 - 1001
    assert commissions_of(order.order_no) == [
        (1, cream_line.payable_fen, apply_rate(cream_line.payable_fen, Decimal("0.10")), 0, "pending"),
        (2, cream_line.payable_fen, apply_rate(cream_line.payable_fen, Decimal("0.05")), 0, "pending"),
        (1, lotion_line.payable_fen, apply_rate(lotion_line.payable_fen, Decimal("0.10")), 0, "pending"),
        (2, lotion_line.payable_fen, apply_rate(lotion_line.payable_fen, Decimal("0.05")), 0, "pending")]


def test_the_rate_is_the_products_then_the_categorys_then_the_grades_then_the_global():
    _, near, shopper = chain()
    parent = CategoryFactory.create(name="护肤")
    child = CategoryFactory.create(name="面霜", parent=parent)
    own_rate, grade_rate, plain = (SkuFactory.create(price_fen=10000, stock=5) for _ in range(3))
    category_rate = SkuFactory.create(price_fen=10000, stock=5, product=ProductFactory.create(category=child))
    CommissionRate.objects.create(product=own_rate.product, level1_percent=20, level2_percent=8)
    CommissionRate.objects.create(category=parent, level1_percent=15, level2_percent=6)  # the nearest ancestor
    CommissionRate.objects.create(category=CategoryFactory.create(name="母婴"), level1_percent=1, level2_percent=1)
    grade = DistributorGrade.objects.create(name="金牌", level=1, level1_percent=Decimal("12.5"))
    distributor_set_grade(distributor_id=near.pk, grade_id=grade.pk, operator=reviewer())

    order = paid_order(member=shopper, lines=[(own_rate, 1), (category_rate, 1), (grade_rate, 1), (plain, 1)],
                       coupon_ids=())

    earned = {(sku_id, level): amount for sku_id, level, amount in Commission.objects.filter(
        order_ref=order.order_no).values_list("sku_id", "level", "amount_fen")}
    # product 20/8; category 15/6; the level-1 distributor's grade 12.5 (level 2 has no grade: 5%)
    assert earned == {(own_rate.pk, 1): 2000, (own_rate.pk, 2): 800, (category_rate.pk, 1): 1500,
                      (category_rate.pk, 2): 600, (grade_rate.pk, 1): 1250, (grade_rate.pk, 2): 500,
                      (plain.pk, 1): 1250, (plain.pk, 2): 500}


def test_self_purchase_earns_the_buyer_level_one_only_when_the_setting_says_so():
    top = distributor(name="王二级")
    me = distributor(name="李自购")
    bind(near_member(me), top)
    sku = SkuFactory.create(price_fen=10000, stock=5)

    off = paid_order(member=near_member(me), lines=[(sku, 1)])
    rules(self_purchase=True)
    on = paid_order(member=near_member(me), lines=[(sku, 1)])

    assert list(Commission.objects.filter(order_ref=off.order_no).values_list("level", "distributor_id")) == [
        (1, top.pk)]
    assert sorted(Commission.objects.filter(order_ref=on.order_no).values_list("level", "distributor_id")) == [
        (1, me.pk), (2, top.pk)]


def test_a_flash_sale_line_earns_only_when_its_session_says_so():
    _, near, shopper = chain()
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=15000, stock=10), flash_price_fen=12000)

    quiet = pay(placed_order(member=shopper, lines=[(item.sku, 1)], flash=item))
    assert commissions_of(quiet.order_no) == []

    item.session.commission_enabled = True
    item.session.save(update_fields=["commission_enabled"])
    other = buyer()
    bind(other, near)
    earning = pay(placed_order(member=other, lines=[(item.sku, 1)], flash=item))
    assert [amount for _, _, amount, _, _ in commissions_of(earning.order_no)] == [1200, 600]


def test_a_frozen_distributor_earns_nothing_new_and_the_level_above_still_does():
    top, near, shopper = chain()
    distributor_freeze(distributor_id=near.pk, operator=reviewer(), reason="刷单嫌疑")

    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])

    assert list(Commission.objects.filter(order_ref=order.order_no).values_list("level", "distributor_id")) == [
        (2, top.pk)]


def test_receipt_freezes_and_the_window_closing_makes_it_available():
    top, near, shopper = chain()
    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])

    receive(ship(order))
    assert commissions_of(order.order_no) == [(1, 10000, 1000, 0, "frozen"), (2, 10000, 500, 0, "frozen")]
    assert (money(near)["pending"], money(near)["frozen"]) == (0, 1000)

    settle(dt.timedelta(days=6))  # the window is still open
    assert money(near)["available"] == 0

    settle()
    settle()  # a second run changes nothing
    assert commissions_of(order.order_no) == [(1, 10000, 1000, 0, "available"), (2, 10000, 500, 0, "available")]
    assert (money(near)["frozen"], money(near)["available"], money(top)["available"]) == (0, 1000, 500)
    assert CommissionEvent.objects.filter(commission__order_ref=order.order_no, action="settled").count() == 2
    assert ledger_consistent()


def test_partial_refunds_before_settlement_take_back_exactly_the_refunded_share():
    # given 3 × ¥33.33 (¥99.99): level 1 earns ¥10.00, level 2 ¥5.00
    top, near, shopper = chain()
    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=3333, stock=5), 3)])
    line = lines_of(order)[0]
    assert commissions_of(order.order_no) == [(1, 9999, 1000, 0, "pending"), (2, 9999, 500, 0, "pending")]

    # when one unit (¥33.33) is refunded: level 1 keeps ⌊1000 × 6666 / 9999⌋ = 666, level 2 333
    refund(order, {line: 1})
    assert commissions_of(order.order_no) == [(1, 9999, 1000, 334, "pending"), (2, 9999, 500, 167, "pending")]

    # when another is refunded after receipt (frozen), then the last: everything comes back, cancelled
    receive(ship(Order.objects.get(pk=order.pk)))
    refund(order, {line: 1})
    assert commissions_of(order.order_no) == [(1, 9999, 1000, 667, "frozen"), (2, 9999, 500, 334, "frozen")]
    refund(order, {line: 1})

    assert commissions_of(order.order_no) == [(1, 9999, 1000, 1000, "cancelled"), (2, 9999, 500, 500, "cancelled")]
    assert money(near) == {"pending": 0, "frozen": 0, "available": 0, "withdrawing": 0, "withdrawn": 0, "owed": 0}
    assert money(top)["frozen"] == 0
    assert ledger_consistent()


def test_a_refund_after_settlement_is_clawed_back_and_offset_against_the_next_earnings():
    top, near, shopper = chain()
    sku = SkuFactory.create(price_fen=10000, stock=10)
    # an older order, settled and mostly withdrawn: ¥3.00 of ¥10.00 left available
    first = paid_order(member=shopper, lines=[(sku, 1)])
    receive(ship(first))
    settle()
    withdrawal_request(member=near_member(near), amount_fen=700)
    assert money(near)["available"] == 300

    # when the whole order is refunded after settlement
    refund(first, {lines_of(first)[0]: 1})

    # then ¥10.00 is clawed back: ¥3.00 from available, ¥7.00 owed; never below zero
    clawback = Clawback.objects.get(distributor=near)
    assert (clawback.amount_fen, clawback.from_available_fen, clawback.owed_fen, clawback.status) == (
        1000, 300, 700, "owed")
    assert (money(near)["available"], money(near)["owed"], money(near)["withdrawing"]) == (0, 700, 700)
    assert commissions_of(first.order_no)[0] == (1, 10000, 1000, 1000, "available")

    # when the next order's ¥10.00 settles, ¥7.00 of it pays the clawback off
    second = paid_order(member=shopper, lines=[(sku, 1)])
    receive(ship(second))
    settle()

    assert (money(near)["available"], money(near)["owed"]) == (300, 0)
    assert Clawback.objects.get(pk=clawback.pk).status == "recovered"
    assert list(ClawbackEvent.objects.filter(clawback=clawback).values_list("action", flat=True)) == [
        "created", "recovered"]
    entry = CommissionEntry.objects.get(reason="settled", commission__order_ref=second.order_no,
                                        commission__level=1)
    assert (entry.frozen_fen, entry.available_fen, entry.owed_fen) == (-1000, 300, -700)
    assert ledger_consistent()


def test_a_clawback_bigger_than_the_next_earning_stays_owed_for_the_one_after():
    _, near, shopper = chain()
    big, small = SkuFactory.create(price_fen=20000, stock=5), SkuFactory.create(price_fen=5000, stock=5)
    first = paid_order(member=shopper, lines=[(big, 1)])
    receive(ship(first))
    settle()
    withdrawal_request(member=near_member(near), amount_fen=2000)  # all of it
    refund(first, {lines_of(first)[0]: 1})
    assert (money(near)["available"], money(near)["owed"]) == (0, 2000)

    second = paid_order(member=shopper, lines=[(small, 1)])  # earns ¥5.00
    receive(ship(second))
    settle()

    assert (money(near)["available"], money(near)["owed"]) == (0, 1500)
    assert Clawback.objects.get(distributor=near).status == "owed"
    assert ledger_consistent()


def test_the_nightly_reconcile_reports_a_balance_that_disagrees_with_its_ledger():
    _, near, shopper = chain()
    paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])
    assert counters_reconcile().commission_drifts == []

    Distributor.objects.filter(pk=near.pk).update(available_fen=F("available_fen") + 1)  # a hand edit

    [drift] = counters_reconcile().commission_drifts
    assert (drift.distributor_id, drift.buckets) == (near.pk, {"available_fen": (1, 0)})
    assert money(near)["available"] == 1  # reported, never overwritten


def test_the_nightly_upgrade_moves_distributors_up_to_the_highest_grade_they_reach():
    silver = DistributorGrade.objects.create(name="银牌", level=1, upgrade_team_size=1)
    gold = DistributorGrade.objects.create(name="金牌", level=2, upgrade_sales_fen=20000, upgrade_team_size=1)
    _, near, shopper = chain()  # near has one direct downline; top has near
    paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=15000, stock=5), 1)])
    idle = distributor(name="赵无团")

    assert distributor_grades_upgrade() == 2  # near and top reach silver; nobody has ¥200 of sales
    second = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=6000, stock=5), 1)])
    refund(second, {lines_of(second)[0]: 1})  # refunded sales do not count
    assert distributor_grades_upgrade() == 0
    paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=5000, stock=5), 1)])

    assert distributor_grades_upgrade() == 1
    assert (Distributor.objects.get(pk=near.pk).grade_id, Distributor.objects.get(pk=idle.pk).grade_id) == (
        gold.pk, None)
    assert silver.distributors.count() == 1  # top
