"""flash_reserve / flash_release / flash_offers on the real database.

Orders here are bare rows made with shop's models, and placement is imitated the way checkout
does it: the order row, then flash_reserve, then the product's stock, in one durable
transaction. The same stories through POST /api/v1/orders/ are in test_flash_orders.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from campaigns.errors import (
    FlashBudgetExhausted,
    FlashItemNotFound,
    FlashLimitExceeded,
    FlashNotActive,
    FlashSoldOut,
)
from campaigns.models import FlashItem, FlashPurchase, FlashReservation, FlashSession
from campaigns.selectors.flash import FlashOffer, flash_offers
from campaigns.services.flash import FlashWant, flash_reclaim, flash_release, flash_reserve
from catalog.models import Stock
from catalog.services import stock_reserve
from core.errors import ValidationFailed
from shop.models import Order
from tests.concurrency import run_concurrently
from tests.factories import FlashItemFactory, FlashSessionFactory, MemberFactory, SkuFactory


def _bare_order(member) -> Order:
    return Order.objects.create(
        order_no=uuid.uuid4().hex[:20], member=member, receiver_name="张三", receiver_phone="13800138000",
        province="浙江省", city="杭州市", address_detail="文三路 100 号", goods_total_fen=4900, payable_fen=4900,
        expires_at=timezone.now() + dt.timedelta(minutes=15))


def _place(member, item: FlashItem, quantity: int = 1) -> Order:
    """What order placement does for one flash line, in one durable transaction."""
    with transaction.atomic(durable=True):
        order = _bare_order(member)
        flash_reserve(member_id=member.pk, order_id=order.pk,
                      wants=[FlashWant(item.pk, quantity, item.sku.price_fen)])
        stock_reserve(quantities={item.sku_id: quantity}, reference=order.order_no)
    return order


def _reserve(member, item: FlashItem, quantity: int = 1) -> Order:
    order = _bare_order(member)
    flash_reserve(member_id=member.pk, order_id=order.pk, wants=[FlashWant(item.pk, quantity, item.sku.price_fen)])
    return order


def _held(item: FlashItem, member) -> int | None:
    return FlashPurchase.objects.filter(item=item, member=member).values_list("quantity", flat=True).first()


def _left(item: FlashItem) -> int:
    return FlashItem.objects.get(pk=item.pk).stock_left


# --- reserve: each limit, and nothing changes on a refusal ---------------------------------


@pytest.mark.django_db
def test_reserve_takes_allowance_stock_and_subsidy_and_records_the_reservation():
    # given 20 units at ¥49 of a ¥99 SKU, limit 2
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=9900), per_member_limit=2)
    member = MemberFactory.create()

    # when the member reserves 2
    order = _reserve(member, item, 2)

    # then
    assert _left(item) == 18
    assert _held(item, member) == 2
    assert FlashSession.objects.get(pk=item.session_id).subsidy_fen == 2 * 5000
    reservation = FlashReservation.objects.get()
    assert (reservation.item_id, reservation.order_id, reservation.member_id, reservation.quantity,
            reservation.subsidy_fen, reservation.released_at) == (item.pk, order.pk, member.pk, 2, 10000, None)


@pytest.mark.django_db
def test_a_second_order_over_the_member_limit_is_refused_and_changes_nothing():
    item = FlashItemFactory.create(per_member_limit=1)
    member = MemberFactory.create()
    _reserve(member, item)

    with pytest.raises(FlashLimitExceeded) as refused:
        _reserve(member, item)

    assert refused.value.code == "flash_limit_exceeded"
    assert refused.value.status == 409
    assert refused.value.detail == {"flash_item_id": item.pk, "per_member_limit": 1}
    assert _left(item) == 19
    assert _held(item, member) == 1
    assert FlashReservation.objects.count() == 1


@pytest.mark.django_db
def test_more_units_than_the_limit_in_one_order_are_refused():
    item = FlashItemFactory.create(per_member_limit=1)
    member = MemberFactory.create()

    with pytest.raises(FlashLimitExceeded):
        _reserve(member, item, 2)

    assert _left(item) == 20
    assert _held(item, member) is None
    assert FlashReservation.objects.count() == 0


@pytest.mark.django_db
def test_two_lines_of_the_same_item_count_together_against_the_limit():
    item = FlashItemFactory.create(per_member_limit=2)
    member = MemberFactory.create()
    order = _bare_order(member)

    with pytest.raises(FlashLimitExceeded):
        flash_reserve(member_id=member.pk, order_id=order.pk,
                      wants=[FlashWant(item.pk, 2, 9900), FlashWant(item.pk, 1, 9900)])

    assert _left(item) == 20
    assert _held(item, member) is None


@pytest.mark.django_db
def test_sold_out_gives_the_allowance_back_too():
    # given one unit left and a limit of 2
    item = FlashItemFactory.create(stock_total=20, stock_left=1, per_member_limit=2)
    member = MemberFactory.create()

    # when the member wants 2
    with pytest.raises(FlashSoldOut) as refused:
        _reserve(member, item, 2)

    # then the allowance taken before the stock check is rolled back with it
    assert refused.value.code == "flash_sold_out"
    assert refused.value.message == "已抢光"
    assert refused.value.detail == {"flash_item_id": item.pk}
    assert _left(item) == 1
    assert _held(item, member) is None
    assert FlashReservation.objects.count() == 0


@pytest.mark.django_db
def test_session_budget_stops_the_order_that_would_exceed_it():
    # given a subsidy of ¥50 a unit and a budget of ¥120: two units fit, a third does not
    session = FlashSessionFactory.create(budget_fen=12000)
    item = FlashItemFactory.create(session=session, sku=SkuFactory.create(price_fen=9900), flash_price_fen=4900,
                                   per_member_limit=1)
    buyers = [MemberFactory.create() for _ in range(3)]
    _reserve(buyers[0], item)
    _reserve(buyers[1], item)

    with pytest.raises(FlashBudgetExhausted) as refused:
        _reserve(buyers[2], item)

    assert refused.value.code == "flash_budget_exhausted"
    assert refused.value.detail == {"session_id": session.pk}
    assert FlashSession.objects.get(pk=session.pk).subsidy_fen == 10000
    assert _left(item) == 18
    assert _held(item, buyers[2]) is None
    assert FlashReservation.objects.count() == 2


@pytest.mark.django_db
def test_a_flash_price_at_or_above_list_price_uses_no_budget():
    session = FlashSessionFactory.create(budget_fen=0)
    item = FlashItemFactory.create(session=session, sku=SkuFactory.create(price_fen=4900), flash_price_fen=4900)

    _reserve(MemberFactory.create(), item)

    assert FlashSession.objects.get(pk=session.pk).subsidy_fen == 0
    assert FlashReservation.objects.get().subsidy_fen == 0


@pytest.mark.django_db
@pytest.mark.parametrize("starts_in, ends_in, is_active", [
    (dt.timedelta(minutes=5), dt.timedelta(hours=2), True),
    (dt.timedelta(hours=-3), dt.timedelta(seconds=-1), True),
    (dt.timedelta(hours=-1), dt.timedelta(hours=1), False),
], ids=["not_started", "ended", "disabled"])
def test_items_of_a_session_not_running_are_refused(starts_in, ends_in, is_active):
    now = timezone.now()
    item = FlashItemFactory.create(session=FlashSessionFactory.create(starts_at=now + starts_in, ends_at=now + ends_in,
                                                        is_active=is_active))
    member = MemberFactory.create()

    with pytest.raises(FlashNotActive) as refused:
        _reserve(member, item)

    assert refused.value.code == "flash_not_active"
    assert refused.value.status == 409
    assert _left(item) == 20
    assert _held(item, member) is None


@pytest.mark.django_db
def test_an_unknown_item_is_not_found_and_a_bad_quantity_is_invalid():
    item = FlashItemFactory.create()
    member = MemberFactory.create()
    order = _bare_order(member)

    with pytest.raises(FlashItemNotFound) as unknown:
        flash_reserve(member_id=member.pk, order_id=order.pk,
                      wants=[FlashWant(item.pk, 1, 9900), FlashWant(item.pk + 1000, 1, 9900)])
    with pytest.raises(ValidationFailed):
        flash_reserve(member_id=member.pk, order_id=order.pk, wants=[FlashWant(item.pk, 0, 9900)])

    assert unknown.value.status == 404
    assert unknown.value.detail == {"flash_item_ids": [item.pk + 1000]}
    assert _left(item) == 20
    assert FlashPurchase.objects.count() == 0


@pytest.mark.django_db
def test_one_order_with_items_of_two_sessions_takes_each():
    a = FlashItemFactory.create(per_member_limit=2)
    b = FlashItemFactory.create(per_member_limit=1)
    member = MemberFactory.create()
    order = _bare_order(member)

    flash_reserve(member_id=member.pk, order_id=order.pk,
                  wants=[FlashWant(b.pk, 1, b.sku.price_fen), FlashWant(a.pk, 2, a.sku.price_fen)])

    assert (_left(a), _left(b)) == (18, 19)
    assert (_held(a, member), _held(b, member)) == (2, 1)
    assert sorted(FlashReservation.objects.values_list("item_id", "quantity")) == [(a.pk, 2), (b.pk, 1)]


# --- release ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_release_gives_stock_allowance_and_subsidy_back_once():
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=9900), per_member_limit=2)
    member = MemberFactory.create()
    order = _reserve(member, item, 2)

    first = flash_release(order_id=order.pk)
    second = flash_release(order_id=order.pk)

    assert (first, second) == (2, 0)
    assert _left(item) == 20
    assert _held(item, member) == 0
    assert FlashSession.objects.get(pk=item.session_id).subsidy_fen == 0
    assert FlashReservation.objects.get().released_at is not None
    # and the member may buy again
    _reserve(member, item, 2)
    assert _left(item) == 18


@pytest.mark.django_db
def test_release_of_an_order_without_flash_lines_is_zero():
    order = _bare_order(MemberFactory.create())

    assert flash_release(order_id=order.pk) == 0


@pytest.mark.django_db
def test_release_never_lifts_stock_above_a_total_an_operator_lowered():
    item = FlashItemFactory.create(stock_total=20)
    order = _reserve(MemberFactory.create(), item, 1)
    FlashItem.objects.filter(pk=item.pk).update(stock_total=19)  # 19 left of 19 now

    assert flash_release(order_id=order.pk) == 1

    assert _left(item) == 19


@pytest.mark.django_db
def test_reclaim_takes_back_what_a_revived_order_released_once():
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=9900), per_member_limit=2)
    member = MemberFactory.create()
    order = _reserve(member, item, 2)
    flash_release(order_id=order.pk)

    first = flash_reclaim(order_id=order.pk)
    second = flash_reclaim(order_id=order.pk)

    assert (first, second) == (2, 0)
    assert _left(item) == 18
    assert _held(item, member) == 2
    assert FlashSession.objects.get(pk=item.session_id).subsidy_fen == 10000
    assert FlashReservation.objects.get().released_at is None


@pytest.mark.django_db
def test_reclaim_of_an_order_never_released_is_zero():
    item = FlashItemFactory.create()
    order = _reserve(MemberFactory.create(), item)

    assert flash_reclaim(order_id=order.pk) == 0
    assert _left(item) == 19


@pytest.mark.django_db
def test_reclaim_refused_when_the_units_went_to_others_changes_nothing():
    # given the member's cancelled order released the last unit and someone else took it
    item = FlashItemFactory.create(stock_total=1)
    member = MemberFactory.create()
    order = _reserve(member, item)
    flash_release(order_id=order.pk)
    _reserve(MemberFactory.create(), item)

    with pytest.raises(FlashSoldOut):
        flash_reclaim(order_id=order.pk)

    assert _left(item) == 0
    assert _held(item, member) == 0
    assert FlashReservation.objects.get(order=order).released_at is not None


@pytest.mark.django_db
def test_reclaim_refused_when_the_member_has_bought_the_limit_again():
    item = FlashItemFactory.create(per_member_limit=1)
    member = MemberFactory.create()
    order = _reserve(member, item)
    flash_release(order_id=order.pk)
    _reserve(member, item)

    with pytest.raises(FlashLimitExceeded):
        flash_reclaim(order_id=order.pk)

    assert _left(item) == 19
    assert _held(item, member) == 1
    assert FlashReservation.objects.get(order=order).released_at is not None


# --- flash_offers ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_offers_are_only_items_of_enabled_sessions_running_now():
    now = timezone.now()
    running = FlashItemFactory.create(flash_price_fen=1990, per_member_limit=3,
                                      session=FlashSessionFactory.create(unpaid_timeout_minutes=10))
    upcoming = FlashItemFactory.create(session=FlashSessionFactory.create(starts_at=now + dt.timedelta(hours=1)))
    disabled = FlashItemFactory.create(session=FlashSessionFactory.create(is_active=False))

    offers = flash_offers(item_ids=[running.pk, upcoming.pk, disabled.pk, 10**12], now=now)

    session = running.session
    assert offers == {running.pk: FlashOffer(
        item_id=running.pk, session_id=session.pk, sku_id=running.sku_id, flash_price_fen=1990,
        per_member_limit=3, unpaid_timeout_minutes=10, starts_at=session.starts_at, ends_at=session.ends_at,
        stock_left=20)}
    assert flash_offers(item_ids=[], now=now) == {}


# --- concurrency: real threads, one connection each ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rush_200_buyers_for_20_units_exactly_20_orders():
    # given 20 activity units of a SKU with 100 in stock, one per member, 200 members
    sku = SkuFactory.create(price_fen=9900, stock=100)
    item = FlashItemFactory.create(sku=sku, stock_total=20, per_member_limit=1)
    members = [MemberFactory.create() for _ in range(200)]

    # when all 200 place an order for one unit at the same moment
    results = run_concurrently(lambda i: _place(members[i], item), 200)

    # then exactly 20 orders, 180 clear refusals, and every counter adds up
    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if not isinstance(r, Order)]
    assert len(orders) == 20
    assert len(refused) == 180
    assert {type(r) for r in refused} == {FlashSoldOut}
    assert Order.objects.count() == 20
    assert _left(item) == 0
    assert Stock.objects.get(sku=sku).available == 100 - 20
    assert FlashPurchase.objects.count() == 20
    assert set(FlashPurchase.objects.values_list("quantity", flat=True)) == {1}
    assert FlashReservation.objects.aggregate(n=Sum("quantity"))["n"] == 20
    assert set(FlashReservation.objects.values_list("order_id", flat=True)) == {o.pk for o in orders}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("limit", [1, 2])
def test_one_member_firing_ten_orders_at_once_gets_exactly_the_limit(limit):
    sku = SkuFactory.create(stock=100)
    item = FlashItemFactory.create(sku=sku, per_member_limit=limit)
    member = MemberFactory.create()

    results = run_concurrently(lambda i: _place(member, item), 10)

    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == limit
    assert {type(r) for r in results if not isinstance(r, Order)} == {FlashLimitExceeded}
    assert _held(item, member) == limit
    assert _left(item) == 20 - limit
    assert Stock.objects.get(sku=sku).available == 100 - limit
    assert Order.objects.count() == limit


@pytest.mark.django_db(transaction=True)
def test_orders_with_two_items_in_opposite_orders_do_not_deadlock():
    a = FlashItemFactory.create(stock_total=50)
    b = FlashItemFactory.create(stock_total=50)
    members = [MemberFactory.create() for _ in range(20)]

    def buy(i: int) -> Order:
        first, second = (a, b) if i % 2 else (b, a)
        with transaction.atomic(durable=True):
            order = _bare_order(members[i])
            flash_reserve(member_id=members[i].pk, order_id=order.pk,
                          wants=[FlashWant(first.pk, 1, 9900), FlashWant(second.pk, 1, 9900)])
        return order

    results = run_concurrently(buy, 20)

    assert [r for r in results if not isinstance(r, Order)] == []
    assert (_left(a), _left(b)) == (30, 30)


@pytest.mark.django_db(transaction=True)
def test_release_called_concurrently_gives_back_once():
    item = FlashItemFactory.create(sku=SkuFactory.create(price_fen=9900), per_member_limit=2)
    member = MemberFactory.create()
    with transaction.atomic(durable=True):
        order = _reserve(member, item, 2)

    results = run_concurrently(lambda i: flash_release(order_id=order.pk), 8)

    assert sorted(results) == [0] * 7 + [2]
    assert _left(item) == 20
    assert _held(item, member) == 0
    assert FlashSession.objects.get(pk=item.session_id).subsidy_fen == 0
