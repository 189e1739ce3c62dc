"""Payments racing on the real PostgreSQL, each thread on its own connection: every path takes its
locks in the one global order (docs/architecture.md, "Lock order"), so payment notifies for orders
holding the same products in opposite orders all complete, late payments reviving cancelled
orders too, and a revival never deadlocks with a checkout of the same member and products.
"""

from __future__ import annotations

import pytest

from catalog.models import Product, Sku, Stock
from members.models import Member
from shop.models import Order, OrderEvent, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_place
from tests.builders import buyer, pay, placed_order
from tests.concurrency import run_concurrently
from tests.factories import ProductFactory, SkuFactory, default_freight
from tests.shop.support_member_price import give_points

pytestmark = pytest.mark.django_db(transaction=True)

PAIRS = 6


def two_products() -> tuple[tuple[Sku, Sku], tuple[Sku, Sku]]:
    """Two products of two SKUs each, made so that an order of (a1, b1) lists product A first and
    an order of (b2, a2) lists product B first (an order's lines go in SKU-id order)."""
    a, b = ProductFactory.create(), ProductFactory.create()
    a1 = SkuFactory.create(product=a, price_fen=5000, stock=100)
    b1 = SkuFactory.create(product=b, price_fen=3000, stock=100)
    b2 = SkuFactory.create(product=b, price_fen=3000, stock=100)
    a2 = SkuFactory.create(product=a, price_fen=5000, stock=100)
    return (a1, b1), (b2, a2)


def opposite_orders(pairs: int) -> tuple[list[Order], tuple[Sku, Sku], tuple[Sku, Sku]]:
    """`pairs` unpaid orders of (a1 then b1) and as many of (b2 then a2), interleaved, one buyer each."""
    forward, backward = two_products()
    orders = [placed_order(lines=[(forward[0], 1), (forward[1], 2)] if i % 2 == 0
                           else [(backward[0], 2), (backward[1], 1)]) for i in range(2 * pairs)]
    for order in orders:
        first = order.lines.order_by("id").first()
        assert first is not None and first.sku_id in (forward[0].pk, backward[0].pk)
    return orders, forward, backward


def available(sku: Sku) -> int:
    return Stock.objects.get(sku=sku).available


def sales(sku: Sku) -> int:
    return Product.objects.get(pk=sku.product_id).sales_count


def test_notifies_for_orders_with_the_same_two_products_in_opposite_order_all_complete():
    # given orders that hold products A and B: half list A first, half B first
    default_freight()
    orders, forward, backward = opposite_orders(PAIRS)

    # when WeChat notifies every payment at the same moment (signed notifies to our notify URL)
    results = run_concurrently(lambda i: pay(orders[i]), len(orders))

    # then every notify was answered SUCCESS, with no deadlock, and every order is paid once
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert [Order.objects.get(pk=o.pk).status for o in orders] == [OrderStatus.PAID] * len(orders)
    assert OrderEvent.objects.filter(order__in=orders, action="paid").count() == len(orders)
    # the stock taken at placement is exact, and the sales counts moved after each commit
    assert [available(sku) for sku in (*forward, *backward)] == [100 - PAIRS, 100 - 2 * PAIRS,
                                                                 100 - 2 * PAIRS, 100 - PAIRS]
    assert (sales(forward[0]), sales(forward[1])) == (2 * PAIRS, 4 * PAIRS)


def test_late_payments_reviving_orders_with_the_same_two_products_in_opposite_order_all_complete():
    # given the same orders, cancelled unpaid (their stock went back)
    default_freight()
    orders, forward, backward = opposite_orders(PAIRS)
    for order in orders:
        order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system")
    assert [available(sku) for sku in (*forward, *backward)] == [100] * 4

    # when their payments arrive late, all at once: each revival takes its stock again
    results = run_concurrently(lambda i: pay(orders[i]), len(orders))

    # then every order is revived, none deadlocked, and stock and sales counts are exact
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert [Order.objects.get(pk=o.pk).status for o in orders] == [OrderStatus.PAID] * len(orders)
    assert OrderEvent.objects.filter(order__in=orders, action="revived").count() == len(orders)
    assert not Order.objects.filter(needs_refund=True).exists()
    assert [available(sku) for sku in (*forward, *backward)] == [100 - PAIRS, 100 - 2 * PAIRS,
                                                                 100 - 2 * PAIRS, 100 - PAIRS]
    assert (sales(forward[0]), sales(forward[1])) == (2 * PAIRS, 4 * PAIRS)


def test_a_revival_and_the_same_members_checkout_of_the_same_products_both_complete():
    # given members who each have a cancelled order of A and B, and points to spend
    default_freight()
    (a1, b1), _ = two_products()
    members = [buyer() for _ in range(PAIRS)]
    cancelled = []
    for member in members:
        give_points(member, 1000)
        order = placed_order(member=member, lines=[(a1, 1), (b1, 1)])
        cancelled.append(order_cancel(order=order, reason="超时未支付，系统自动取消", actor="system"))

    # when each cancelled order's late payment (member row, then stock) races the same member
    # placing a new order of the same SKUs listed the other way round, spending points (member
    # row, then stock)
    def race(i: int) -> object:
        member = members[i // 2]
        if i % 2 == 0:
            return pay(cancelled[i // 2])
        return order_place(member=member, data=CheckoutInput(items=(LineInput(b1.pk, 1), LineInput(a1.pk, 1)),
                                                             points=100))

    results = run_concurrently(race, 2 * PAIRS)

    # then both sides of every pair complete: the revival and the new order
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert [Order.objects.get(pk=o.pk).status for o in cancelled] == [OrderStatus.PAID] * PAIRS
    placed = Order.objects.exclude(pk__in=[o.pk for o in cancelled])
    assert placed.filter(status=OrderStatus.PENDING_PAYMENT, points_used=100).count() == PAIRS
    assert (available(a1), available(b1)) == (100 - 2 * PAIRS, 100 - 2 * PAIRS)
    assert sorted(Member.objects.filter(pk__in=[m.pk for m in members]).values_list("paid_order_count", flat=True)) \
        == [1] * PAIRS
