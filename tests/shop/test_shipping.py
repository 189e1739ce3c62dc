"""Shipping in packages: which lines go in which package, the counters, the order's status, audit."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.audit import Actor
from shop.errors import InvalidTransition
from shop.models import Order, OrderEvent, OrderStatus, Shipment, ShipmentLine, ShippingInfoUpload, ShippingUploadState
from shop.services.aftersales import after_sale_approve
from shop.services.orders import order_ship
from shop.services.shipping import (
    BadTrackingNo,
    OverShipment,
    PackageInput,
    TrackingNoReused,
    UnknownCarrier,
    carrier_resolve,
    shipment_create,
    shipment_settle_order,
    tracking_no_clean,
)
from tests.builders import lines_of, operator, paid_order, placed_order, requested_after_sale
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_skus(freight):
    return [SkuFactory.create(price_fen=1990, stock=20), SkuFactory.create(price_fen=2990, stock=20),
            SkuFactory.create(price_fen=4990, stock=20)]


@pytest.fixture
def paid_three_lines(three_skus, sandbox):
    """A paid order of three lines: 2 × A, 1 × B, 3 × C."""
    a, b, c = three_skus
    return paid_order(lines=[(a, 2), (b, 1), (c, 3)], sandbox=sandbox)


# --- values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, code", [("SF", "SF"), ("sf", "SF"), ("顺丰速运", "SF"), ("顺丰", "SF"),
                                        (" 中通快递 ", "ZTO"), ("极兔", "JTSD"), ("EMS", "EMS"), ("京东物流", "JD")])
def test_carriers_by_code_name_or_short_name(text, code):
    assert carrier_resolve(text).value == code


def test_unknown_carrier_and_bad_tracking_numbers_are_refused():
    with pytest.raises(UnknownCarrier, match="未知的快递公司：天天快运"):
        carrier_resolve("天天快运")
    assert tracking_no_clean(" sf 1234 5678 90 ") == "SF1234567890"
    for bad in ("12", "SF12345678901234567890123456789012345", "SF#123456", ""):
        with pytest.raises(BadTrackingNo):
            tracking_no_clean(bad)


# --- packages ----------------------------------------------------------------------------------------


def test_two_packages_for_three_lines(paid_three_lines, admin_user, django_capture_on_commit_callbacks):
    order = paid_three_lines
    a, b, c = lines_of(order)

    # given the first package: A × 2 and C × 1
    with django_capture_on_commit_callbacks() as callbacks:
        first = shipment_create(order=order, operator=admin_user,
                                packages=[PackageInput("顺丰速运", "SF1000000001", {a.pk: 2, c.pk: 1})])

    # then the order is still to ship, with one package out
    assert first.complete is False and len(first.created) == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert [line.shipped_quantity for line in lines_of(order)] == [2, 0, 1]
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.action, event.from_status, event.to_status, event.operator) == (
        "partially_shipped", "", "", admin_user)
    assert event.data["lines"] == {str(a.pk): 2, str(c.pk): 1}
    # the WeChat upload is queued after commit, not inside the transaction
    assert "enqueue_after_commit.<locals>.send" in [c.__qualname__ for c in callbacks]

    # when the second package takes the rest: B × 1 and C × 2
    second = shipment_create(order=order, operator=admin_user,
                             packages=[PackageInput("ZTO", "ZT2000000002", {b.pk: 1, c.pk: 2})])

    # then the order is shipped, through the transition table, with one audit row per package
    assert second.complete is True
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.shipped_at is not None
    assert [line.shipped_quantity for line in lines_of(order)] == [2, 1, 3]
    shipments = list(Shipment.objects.filter(order=order).order_by("id"))
    assert [(s.carrier, s.carrier_code, s.tracking_no) for s in shipments] == [
        ("顺丰速运", "SF", "SF1000000001"), ("中通快递", "ZTO", "ZT2000000002")]
    assert sorted(ShipmentLine.objects.filter(shipment=shipments[1]).values_list("order_line_id", "quantity")) == [
        (b.pk, 1), (c.pk, 2)]
    actions = list(OrderEvent.objects.filter(order=order).values_list("action", "from_status", "to_status"))
    assert actions[-2:] == [("partially_shipped", "", ""), ("shipped", OrderStatus.PAID, OrderStatus.SHIPPED)]
    # and the WeChat upload is due (paid through WeChat Pay)
    upload = ShippingInfoUpload.objects.get(order=order)
    assert upload.state == ShippingUploadState.PENDING
    assert upload.next_attempt_at is not None and upload.next_attempt_at <= timezone.now()


def test_shipping_more_than_remains_is_refused_and_changes_nothing(paid_three_lines):
    order = paid_three_lines
    a, b, c = lines_of(order)
    shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {a.pk: 1})])
    events_before = OrderEvent.objects.filter(order=order).count()

    with pytest.raises(OverShipment) as refused:
        # A has 1 left; the second package of the same request would ship C fine
        shipment_create(order=order, packages=[PackageInput("YTO", "YT3000000003", {c.pk: 3}),
                                               PackageInput("YTO", "YT3000000004", {a.pk: 2})])

    assert refused.value.message == f"「{a.product_name}」待发 1 件，不能再发 2 件"
    assert refused.value.status == 409
    assert [line.shipped_quantity for line in lines_of(order)] == [1, 0, 0]
    assert Shipment.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order).count() == events_before
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_refunded_units_are_not_owed(paid_three_lines):
    order = paid_three_lines
    a, b, c = lines_of(order)
    # the shopper asks to have one unshipped C refunded: from then on it is not owed
    requested_after_sale(order=order, lines={c: 1})

    with pytest.raises(OverShipment):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {c.pk: 3})])
    result = shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", None)])

    assert result.complete is True
    assert [line.shipped_quantity for line in lines_of(order)] == [2, 1, 2]


def test_a_replayed_package_is_not_shipped_twice(paid_three_lines):
    order = paid_three_lines
    a, b, c = lines_of(order)
    package = PackageInput("SF", "sf 1000 0000 01", {a.pk: 2})
    first = shipment_create(order=order, packages=[package])

    again = shipment_create(order=order, packages=[package])  # a double-submitted form

    assert again.created == [] and again.shipments == first.shipments
    assert [line.shipped_quantity for line in lines_of(order)] == [2, 0, 0]
    assert OrderEvent.objects.filter(order=order, action="partially_shipped").count() == 1
    with pytest.raises(TrackingNoReused):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {b.pk: 1})])


def test_an_empty_package_a_foreign_line_and_two_packages_with_one_number_are_refused(paid_three_lines, sku,
                                                                                       sandbox):
    order = paid_three_lines
    a, b, c = lines_of(order)
    other = paid_order(lines=[(sku, 1)], sandbox=sandbox)
    foreign = lines_of(other)[0]

    with pytest.raises(Exception, match="包裹中没有商品"):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {a.pk: 0})])
    with pytest.raises(Exception, match="不属于该订单"):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {foreign.pk: 1})])
    with pytest.raises(Exception, match="不能用于两个包裹"):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {a.pk: 1}),
                                               PackageInput("顺丰", "SF1000000001", {b.pk: 1})])
    assert not Shipment.objects.exists()


def test_an_unpaid_order_cannot_ship(three_skus):
    order = placed_order(lines=[(three_skus[0], 1)])

    with pytest.raises(InvalidTransition, match="不能发货"):
        shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", None)])

    assert not Shipment.objects.exists()
    assert lines_of(order)[0].shipped_quantity == 0


def test_order_ship_ships_everything_left_as_one_package_and_repeats_as_a_no_op(paid_three_lines):
    order = paid_three_lines
    a, b, c = lines_of(order)
    shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {a.pk: 1})])

    shipped = order_ship(order=order, carrier="圆通速递", tracking_no="YT3000000003")
    again = order_ship(order=order, carrier="中通", tracking_no="ZT4000000004")

    assert shipped.status == again.status == OrderStatus.SHIPPED
    last = Shipment.objects.filter(order=order).latest("id")
    assert sorted(last.lines.values_list("order_line_id", "quantity")) == [(a.pk, 1), (b.pk, 1), (c.pk, 3)]
    assert Shipment.objects.filter(order=order).count() == 2
    with pytest.raises(InvalidTransition, match="已发货"):
        shipment_create(order=order, packages=[PackageInput("ZTO", "ZT5000000005", {a.pk: 1})])


def test_an_order_without_a_wechat_payment_has_nothing_to_upload(three_skus):
    # e.g. an order the console recorded as paid by other means
    order = placed_order(lines=[(three_skus[0], 1)])
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID, paid_fen=order.payable_fen)

    shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", None)])

    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert not ShippingInfoUpload.objects.filter(order=order).exists()


def test_refunding_the_last_unshipped_units_settles_the_order_as_shipped(paid_three_lines):
    order = paid_three_lines
    a, b, c = lines_of(order)
    shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", {a.pk: 2, c.pk: 3})])
    assert shipment_settle_order(order_id=order.pk) is False  # B is still owed

    # B refunded before shipping: the after-sales approval settles the order
    after_sale = requested_after_sale(order=order, lines={b: 1})
    after_sale_approve(after_sale=after_sale, operator=operator("ops"))
    assert shipment_settle_order(order_id=order.pk) is False  # already settled by the approval

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.action, event.note, event.actor) == ("shipped", "未发商品已全部退款", Actor.OPERATOR)
    assert ShippingInfoUpload.objects.get(order=order).state == ShippingUploadState.PENDING
    assert shipment_settle_order(order_id=order.pk) is False  # idempotent
