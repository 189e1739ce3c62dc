"""The order state machine: its table, idempotent repeats, and the audit trail."""

from __future__ import annotations

import pytest

from catalog.models import Stock, StockMovement
from shop.errors import InvalidTransition
from shop.models import Order, OrderEvent, OrderStatus
from shop.models.orders import ORDER_MACHINE, ORDER_TRANSITIONS
from shop.services.orders import (
    order_cancel,
    order_ship,
)
from tests.builders import order_up_to, paid_order, placed_order
from tests.concurrency import run_concurrently


def force_status(order: Order, status: str) -> Order:
    """Given: the order in `status`, however it got there (for the transition table itself)."""
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return order


ALL = [s.value for s in OrderStatus]


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_transition_table_is_enforced(shopper, sku, source, target):
    order = force_status(placed_order(member=shopper.member, lines=[(sku, 1)]), source)
    if source == target:
        _, changed = ORDER_MACHINE.transition(pk=order.pk, to=target, action="t", actor="system")
        assert changed is False
    elif target in ORDER_TRANSITIONS[source]:
        _, changed = ORDER_MACHINE.transition(pk=order.pk, to=target, action="t", actor="system")
        assert changed is True
        assert Order.objects.get(pk=order.pk).status == target
    else:
        with pytest.raises(InvalidTransition):
            ORDER_MACHINE.transition(pk=order.pk, to=target, action="t", actor="system")
        assert Order.objects.get(pk=order.pk).status == source


def test_shopper_cancel_releases_stock_once(shopper, sku):
    order = placed_order(member=shopper.member, lines=[(sku, 3)])
    assert Stock.objects.get(sku=sku).available == 7

    first = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")
    second = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert Stock.objects.get(sku=sku).available == 10
    assert StockMovement.objects.filter(reason="order_release", reference=order.order_no).count() == 1
    assert OrderEvent.objects.filter(order=order, action="cancelled").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_cancels_release_stock_exactly_once(freight):
    from tests.factories import SkuFactory
    from tests.fixtures import make_shopper

    shopper = make_shopper()
    sku = SkuFactory.create(stock=10)
    order = placed_order(member=shopper.member, lines=[(sku, 4)])

    run_concurrently(lambda i: order_cancel(order=Order(pk=order.pk), reason="并发取消", actor="member"), 10)

    assert Stock.objects.get(sku=sku).available == 10
    assert OrderEvent.objects.filter(order=order, action="cancelled").count() == 1


def test_a_paid_order_cannot_be_cancelled_by_the_shopper(shopper, sku):
    order = paid_order(member=shopper.member, lines=[(sku, 2)])
    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/cancel", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_order_status"
    assert Stock.objects.get(sku=sku).available == 8


def test_ship_then_confirm_receipt(shopper, sku, admin_user):
    order = paid_order(member=shopper.member, lines=[(sku, 1)])
    order_ship(order=order, carrier="顺丰", tracking_no="SF1234567890", operator=admin_user)
    order_ship(order=order, carrier="顺丰", tracking_no="SF1234567890", operator=admin_user)  # repeat: no-op

    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/confirm-receipt")

    assert response.status_code == 200
    assert response.json()["status"] == "received"
    assert order.shipments.count() == 1
    assert list(OrderEvent.objects.filter(order=order).values_list("action", flat=True)) == [
        "placed", "paid", "shipped", "received"]


def test_confirming_an_unshipped_order_is_refused(shopper, sku):
    order = paid_order(member=shopper.member, lines=[(sku, 1)])
    response = shopper.client.post(f"/api/v1/orders/{order.order_no}/confirm-receipt")
    assert response.status_code == 409
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_auto_confirm_after_the_configured_days(shopper, sku, settings):
    import datetime as dt

    from django.utils import timezone

    from shop.services.orders import order_confirm_overdue_receipts

    settings.ORDER_AUTO_CONFIRM_DAYS = 10
    old = order_up_to(OrderStatus.SHIPPED, member=shopper.member, lines=[(sku, 1)])
    recent = order_up_to(OrderStatus.SHIPPED, member=shopper.member, lines=[(sku, 1)])
    Order.objects.filter(pk=old.pk).update(shipped_at=timezone.now() - dt.timedelta(days=10, minutes=1))
    Order.objects.filter(pk=recent.pk).update(shipped_at=timezone.now() - dt.timedelta(days=9))

    assert order_confirm_overdue_receipts() == 1
    assert order_confirm_overdue_receipts() == 0

    assert Order.objects.get(pk=old.pk).status == OrderStatus.RECEIVED
    assert Order.objects.get(pk=recent.pk).status == OrderStatus.SHIPPED
    assert OrderEvent.objects.get(order=old, action="received").actor == "system"
