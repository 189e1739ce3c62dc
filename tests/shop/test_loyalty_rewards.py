"""What an order's payment earns and what its refunds give back.

Payments and refunds go through the WeChat sandbox and its notifies to the live mall; points are
spent at placement by the real checkout. Every expected number is worked out from the rules:
1 point and 1 growth per whole yuan paid (× the paid card's multiplier for points), the earned
share reversed and the spent share returned in proportion to the goods money refunded so far.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import FlashItem, FlashReservation
from catalog.models import Stock
from members.models import (
    CardPlan,
    GrowthEntry,
    Member,
    MemberCategoryPurchase,
    PointsEntry,
    PointsKind,
)
from members.services import points_award, points_reconcile
from members.services.cards import card_purchase_create, card_purchase_mark_paid
from shop.models import Order, OrderEvent, OrderStatus, Refund
from shop.models.orders import revived_points_reference
from shop.services.aftersales import after_sale_approve
from shop.services.orders import order_cancel
from shop.services.payments import order_prepay
from shop.services.refunds import _reverse_rewards, refund_record_result
from tests.builders import lines_of, operator, placed_order, requested_after_sale
from tests.celery_worker import celery_eager
from tests.factories import CategoryFactory, FlashItemFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def defaults(db):
    default_freight()  # free from ¥99: the orders here pay no freight


@pytest.fixture
def eager():
    with celery_eager():
        yield


def seed_points(member: Member, points: int) -> None:
    points_award(member_id=member.pk, points=points, kind=PointsKind.CAMPAIGN, reference=f"seed-{member.pk}")


def start_paying(order: Order) -> None:
    order_prepay(member=order.member, order_no=order.order_no, client_ip="203.0.113.9")


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def growth(member: Member) -> int:
    return Member.objects.get(pk=member.pk).growth


def order_points(member: Member, order: Order, kind: str) -> int:
    """The net points of one kind the ledger holds for an order (awards, reversals, returns)."""
    if kind == PointsKind.PURCHASE:
        rows = PointsEntry.objects.filter(member=member, kind=kind, reference=order.order_no)
    else:
        rows = PointsEntry.objects.filter(member=member, kind=kind, origin__reference=order.order_no)
    return sum(rows.values_list("delta", flat=True))


def refund_units(buyer, order: Order, quantity: int, sandbox) -> Refund:
    """A refund-only after-sale of `quantity` units of the order's line, approved and settled by WeChat."""
    after_sale = after_sale_approve(after_sale=requested_after_sale(order=order, lines={lines_of(order)[0]: quantity}),
                                    operator=operator(f"ops{after_sale_count()}"))
    refund = Refund.objects.get(after_sale=after_sale)
    assert [d["acknowledged"] for d in sandbox.settle_refund(refund.out_refund_no)["deliveries"]] == [True]
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    return refund


def after_sale_count() -> int:
    from shop.models import AfterSale

    return AfterSale.objects.count()


# --- payment ---------------------------------------------------------------------------------------


def test_a_payment_earns_points_and_growth_once_however_often_and_concurrently_wechat_notifies(mall, sandbox):
    buyer = make_shopper()
    # ¥246.90: 246 points, 246 growth
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=12345, stock=10), 2)])
    start_paying(order)

    first = sandbox.pay(order.order_no, times=3, concurrent=True)
    again = sandbox.notify(order.order_no, times=2)

    assert [d["acknowledged"] for d in first["deliveries"] + again["deliveries"]] == [True] * 5
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert list(PointsEntry.objects.filter(member=buyer.member).values_list("kind", "delta", "reference")) == [
        (PointsKind.PURCHASE, 246, order.order_no)]
    assert list(GrowthEntry.objects.filter(member=buyer.member).values_list("reason", "delta", "reference")) == [
        ("purchase", 246, order.order_no)]
    assert (balance(buyer.member), growth(buyer.member)) == (246, 246)
    assert points_reconcile() == []


def test_an_active_paid_card_multiplies_the_points_not_the_growth(mall, sandbox):
    buyer = make_shopper()
    plan = CardPlan.objects.create(name="测试月卡", price_fen=1990, days=31, discount_percent=100,
                                   points_multiplier=Decimal("1.50"))
    purchase = card_purchase_create(member=buyer.member, plan_id=plan.pk)
    a_minute_ago = timezone.now() - dt.timedelta(minutes=1)  # WeChat's time_end has whole seconds
    card_purchase_mark_paid(purchase_no=purchase.purchase_no, paid_fen=1990, transaction_id="4200000000000000001",
                            paid_at=a_minute_ago, now=a_minute_ago)
    # ¥100.99 → 100 × 1.5 points
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=10099, stock=10), 1)])
    start_paying(order)

    sandbox.pay(order.order_no)

    assert order_points(buyer.member, order, PointsKind.PURCHASE) == 150
    assert growth(buyer.member) == 100


def test_a_payment_records_the_products_categories_with_their_parents(mall, sandbox):
    buyer = make_shopper()
    home = CategoryFactory.create(name="家居")
    kitchen = CategoryFactory.create(name="厨房", parent=home)
    pots = CategoryFactory.create(name="锅具", parent=kitchen)
    other = CategoryFactory.create(name="数码")
    pot = SkuFactory.create(product__category=pots, price_fen=19900, stock=5)
    order = placed_order(member=buyer.member, lines=[(pot, 1)])
    start_paying(order)

    sandbox.pay(order.order_no)

    paid_at = Order.objects.get(pk=order.pk).paid_at
    rows = MemberCategoryPurchase.objects.filter(member=buyer.member)
    assert {r.category_id: r.last_bought_at for r in rows} == {home.pk: paid_at, kitchen.pk: paid_at,
                                                                 pots.pk: paid_at}
    assert not rows.filter(category_id=other.pk).exists()


def test_a_cancelled_order_paid_late_is_revived_earns_and_spends_its_points_again(mall, sandbox):
    buyer = make_shopper()
    seed_points(buyer.member, 2000)
    # ¥15 off: pays ¥185
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=20000, stock=5), 1)], points=1500)
    start_paying(order)
    assert balance(buyer.member) == 500
    order_cancel(order=order, reason="买家取消", actor="member")
    assert balance(buyer.member) == 2000  # the cancel gave the points back

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert (order.status, order.paid_fen, order.needs_refund) == (OrderStatus.PAID, 18500, False)
    respent = PointsEntry.objects.get(member=buyer.member, reference=revived_points_reference(order.order_no))
    assert (respent.kind, respent.delta) == (PointsKind.SPEND, -1500)
    assert order_points(buyer.member, order, PointsKind.PURCHASE) == 185
    assert (balance(buyer.member), growth(buyer.member)) == (2000 - 1500 + 185, 185)
    assert points_reconcile() == []


def test_a_revived_order_whose_points_were_spent_meanwhile_stands_and_says_so(mall, sandbox):
    buyer = make_shopper()
    seed_points(buyer.member, 1500)
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=20000, stock=5), 1)], points=1500)
    start_paying(order)
    order_cancel(order=order, reason="买家取消", actor="member")
    # spends them on another order
    placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=20000, stock=5), 1)], points=1500)
    assert balance(buyer.member) == 0

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    event = OrderEvent.objects.get(order=order, action="points_not_retaken")
    assert event.data == {"points": 1500}
    assert balance(buyer.member) == 185  # only what the payment earned
    assert points_reconcile() == []


def test_a_late_payment_that_cannot_revive_the_order_earns_nothing(mall, sandbox, eager):
    buyer = make_shopper()
    sku = SkuFactory.create(price_fen=20000, stock=1)
    order = placed_order(member=buyer.member, lines=[(sku, 1)])
    start_paying(order)
    order_cancel(order=order, reason="买家取消", actor="member")
    placed_order(member=make_shopper().member, lines=[(sku, 1)])  # the last unit is gone

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert (order.status, order.needs_refund) == (OrderStatus.CANCELLED, True)
    assert not PointsEntry.objects.filter(member=buyer.member).exists()
    assert not GrowthEntry.objects.filter(member=buyer.member).exists()


def test_a_late_paid_flash_order_takes_its_flash_unit_back_and_earns(mall, sandbox):
    buyer = make_shopper()
    sku = SkuFactory.create(price_fen=19900, stock=10)
    item = FlashItemFactory.create(sku=sku, flash_price_fen=9900, stock_total=2)
    order = placed_order(member=buyer.member, lines=[(item.sku, 1)], flash=item)
    start_paying(order)
    order_cancel(order=order, reason="买家取消", actor="member")
    assert FlashItem.objects.get(pk=item.pk).stock_left == 2

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert (order.status, order.needs_refund) == (OrderStatus.PAID, False)
    assert FlashItem.objects.get(pk=item.pk).stock_left == 1
    assert FlashReservation.objects.get(order=order).released_at is None
    assert Stock.objects.get(sku_id=item.sku_id).available == 9
    assert (balance(buyer.member), growth(buyer.member)) == (99, 99)


def test_a_late_paid_flash_order_whose_units_are_gone_is_refunded_whole_and_earns_nothing(mall, sandbox, eager):
    buyer = make_shopper()
    sku = SkuFactory.create(price_fen=19900, stock=10)
    item = FlashItemFactory.create(sku=sku, flash_price_fen=9900, stock_total=1)
    order = placed_order(member=buyer.member, lines=[(item.sku, 1)], flash=item)
    start_paying(order)
    order_cancel(order=order, reason="买家取消", actor="member")
    # someone else took the last flash unit
    placed_order(member=make_shopper().member, lines=[(item.sku, 1)], flash=item)
    stock_before = Stock.objects.get(sku_id=item.sku_id).available

    sandbox.pay(order.order_no)

    order.refresh_from_db()
    assert (order.status, order.needs_refund, order.paid_fen) == (OrderStatus.CANCELLED, True, 9900)
    assert OrderEvent.objects.filter(order=order, action="late_payment").count() == 1
    assert Refund.objects.get(order=order).amount_fen == 9900  # the whole payment goes back
    assert FlashItem.objects.get(pk=item.pk).stock_left == 0
    assert FlashReservation.objects.get(order=order).released_at is not None
    assert Stock.objects.get(sku_id=item.sku_id).available == stock_before  # all or nothing
    assert (balance(buyer.member), growth(buyer.member)) == (0, 0)


# --- refunds ---------------------------------------------------------------------------------------


def test_two_partial_refunds_then_the_rest_reverse_and_return_exactly_what_the_order_earned_and_spent(
        mall, sandbox, eager):
    # 3 × ¥33.33 = ¥99.99 of goods, 1,001 points (¥10.01) spent: goods pay ¥89.98, under the ¥99
    # free-freight line, so ¥20 freight: pays ¥109.98 and earns 109 points and 109 growth. The
    # shares follow the goods money (freight comes back only with the last unit): amounts chosen
    # so every partial share is a fraction.
    buyer = make_shopper()
    seed_points(buyer.member, 5000)
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=3333, stock=10), 3)], points=1001)
    assert (order.payable_fen, order.points_used, order.points_fen, order.freight_fen) == (10998, 1001, 1001, 2000)
    start_paying(order)
    sandbox.pay(order.order_no)
    assert (balance(buyer.member), growth(buyer.member)) == (5000 - 1001 + 109, 109)

    money = goods = 0
    shares = []
    for quantity in (1, 1, 1):
        refund = refund_units(buyer, Order.objects.get(pk=order.pk), quantity, sandbox)
        money += refund.amount_fen
        goods = lines_of(order)[0].refunded_fen
        shares.append((109 - 109 * (8998 - goods) // 8998, 1001 * goods // 8998))
        reversed_ = -order_points(buyer.member, order, PointsKind.REVERSAL)
        returned = order_points(buyer.member, order, PointsKind.REFUND_RETURN)
        growth_taken = -sum(GrowthEntry.objects.filter(member=buyer.member, reverses_reference=order.order_no)
                            .values_list("delta", flat=True))
        assert (reversed_, returned) == shares[-1]
        assert growth_taken == reversed_  # the same rule and amounts for growth
        assert (balance(buyer.member), growth(buyer.member)) == (5000 - 1001 + 109 - reversed_ + returned,
                                                                  109 - growth_taken)

    # the refunds add up to the payment, and the shares to the whole: everything went back, to the point
    assert (money, goods) == (10998, 8998)
    assert shares[-1] == (109, 1001)
    assert 0 < shares[0][0] < shares[1][0] < 109 and 0 < shares[0][1] < shares[1][1] < 1001
    assert (balance(buyer.member), growth(buyer.member)) == (5000, 0)
    assert PointsEntry.objects.filter(member=buyer.member, kind=PointsKind.REVERSAL).count() == 3
    assert PointsEntry.objects.filter(member=buyer.member, kind=PointsKind.REFUND_RETURN).count() == 3
    tier = Member.objects.get(pk=buyer.member.pk).tier
    assert tier is not None and tier.name == "普通会员"
    assert points_reconcile() == []


def test_processing_a_refund_again_changes_nothing(mall, sandbox, eager):
    buyer = make_shopper()
    seed_points(buyer.member, 5000)
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=3333, stock=10), 3)], points=1001)
    start_paying(order)
    sandbox.pay(order.order_no)
    refund = refund_units(buyer, order, 1, sandbox)
    before = (balance(buyer.member), growth(buyer.member), PointsEntry.objects.count(), GrowthEntry.objects.count())

    # WeChat repeats its notify, at once and concurrently; the refund job asks again; and the
    # rewards hook itself runs a second time for the same refund
    repeats = sandbox.refund_notify(refund.out_refund_no, times=3, concurrent=True)
    from django.db import transaction

    from payments.services import payment_gateway

    notice = payment_gateway().query_refund(out_refund_no=refund.out_refund_no)
    assert notice is not None
    assert refund_record_result(notice=notice, source="refundquery") == "duplicate"
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        _reverse_rewards(locked, amount_fen=refund.amount_fen, refund=refund, full=False)

    assert [d["acknowledged"] for d in repeats["deliveries"]] == [True] * 3
    after = (balance(buyer.member), growth(buyer.member), PointsEntry.objects.count(), GrowthEntry.objects.count())
    assert after == before
    assert Order.objects.get(pk=order.pk).refunded_fen == refund.amount_fen


def test_a_refund_after_the_points_were_spent_takes_what_is_left_and_records_the_shortfall(mall, sandbox, eager):
    buyer = make_shopper()
    # earns 300 points
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=30000, stock=10), 1)])
    start_paying(order)
    sandbox.pay(order.order_no)
    # spends them all
    placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=20000, stock=10), 1)], points=300)
    assert balance(buyer.member) == 0

    refund_units(buyer, order, 1, sandbox)

    reversal = PointsEntry.objects.get(member=buyer.member, kind=PointsKind.REVERSAL)
    assert (reversal.delta, reversal.shortfall) == (0, 300)
    assert balance(buyer.member) == 0 and growth(buyer.member) == 0
    assert points_reconcile() == []


def test_refunding_a_revived_order_returns_the_points_it_spent_again(mall, sandbox, eager):
    buyer = make_shopper()
    seed_points(buyer.member, 2000)
    order = placed_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=20000, stock=5), 1)], points=1500)
    start_paying(order)
    order_cancel(order=order, reason="买家取消", actor="member")
    sandbox.pay(order.order_no)
    assert balance(buyer.member) == 2000 - 1500 + 185

    refund_units(buyer, Order.objects.get(pk=order.pk), 1, sandbox)

    assert (balance(buyer.member), growth(buyer.member)) == (2000, 0)
    returned = PointsEntry.objects.get(member=buyer.member, kind=PointsKind.REFUND_RETURN)
    assert returned.origin is not None
    assert (returned.delta, returned.origin.reference) == (1500, revived_points_reference(order.order_no))
    assert points_reconcile() == []
