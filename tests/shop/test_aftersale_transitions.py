"""The after-sale and refund state machines: every pair of states against the tables in code."""

from __future__ import annotations

import itertools

import pytest

from payments.models import Payment
from shop.errors import AfterSaleInvalidTransition, RefundInvalidTransition
from shop.models import ORDER_PAYABLE_KIND, AfterSale, AfterSaleEvent, AfterSaleStatus, Refund, RefundStatus
from shop.models.aftersales import (
    AFTER_SALE_MACHINE,
    AFTER_SALE_TRANSITIONS,
    REFUND_MACHINE,
    REFUND_TRANSITIONS,
    RefundEvent,
)
from tests.builders import paid_order
from tests.factories import SkuFactory, default_freight

pytestmark = pytest.mark.django_db

PROGRESS = {RefundStatus.PENDING: 0, RefundStatus.FAILED: 0, RefundStatus.PROCESSING: 1, RefundStatus.SUCCEEDED: 2}


@pytest.fixture
def order(db):
    default_freight()
    return paid_order(lines=[(SkuFactory.create(price_fen=5000, stock=5), 1)])


def test_every_status_is_in_the_table():
    assert set(AFTER_SALE_TRANSITIONS) == set(AfterSaleStatus.values)
    assert set(REFUND_TRANSITIONS) == set(RefundStatus.values)
    terminal = {s for s, targets in AFTER_SALE_TRANSITIONS.items() if not targets}
    assert terminal == {AfterSaleStatus.REFUNDED, AfterSaleStatus.REJECTED, AfterSaleStatus.WITHDRAWN}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(AfterSaleStatus.values, repeat=2)))
def test_after_sale_transitions_follow_the_table(order, source, target):
    after_sale = AfterSale.objects.create(after_sale_no=f"AS-{source[:12]}-{target[:12]}", order=order,
                                          member=order.member, kind="refund_only", reason="quality", amount_fen=100,
                                          status=source)

    if source == target:
        _, changed = AFTER_SALE_MACHINE.transition(pk=after_sale.pk, to=target, action="x", actor="system")
        assert changed is False
        assert AfterSaleEvent.objects.filter(after_sale=after_sale).count() == 0
    elif target in AFTER_SALE_TRANSITIONS[source]:
        moved, changed = AFTER_SALE_MACHINE.transition(pk=after_sale.pk, to=target, action="x", actor="system")
        assert changed is True and moved.status == target
        event = AfterSaleEvent.objects.get(after_sale=after_sale)
        assert (event.from_status, event.to_status) == (source, target)
    else:
        with pytest.raises(AfterSaleInvalidTransition) as refused:
            AFTER_SALE_MACHINE.transition(pk=after_sale.pk, to=target, action="x", actor="system")
        assert refused.value.status == 409 and refused.value.code == "invalid_after_sale_status"
        assert AfterSale.objects.get(pk=after_sale.pk).status == source
        assert AfterSaleEvent.objects.filter(after_sale=after_sale).count() == 0


@pytest.mark.parametrize(("source", "target"), list(itertools.product(RefundStatus.values, repeat=2)))
def test_refund_transitions_follow_the_table_and_never_regress(order, source, target):
    payment = Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)
    refund = Refund.objects.create(order=order, payment=payment, out_refund_no=f"R-{source}-{target}",
                                   amount_fen=100, status=source)

    if target in REFUND_TRANSITIONS[source]:
        moved, changed = REFUND_MACHINE.transition(pk=refund.pk, to=target, action="x", actor="system")
        assert changed is True and moved.status == target
        assert RefundEvent.objects.filter(refund=refund, from_status=source, to_status=target).count() == 1
    elif source == target or PROGRESS[target] <= PROGRESS[source]:
        # a repeat, or a late event about an earlier stage: a no-op, never a step back
        _, changed = REFUND_MACHINE.transition(pk=refund.pk, to=target, action="x", actor="system")
        assert changed is False
        assert Refund.objects.get(pk=refund.pk).status == source
        assert RefundEvent.objects.filter(refund=refund).count() == 0
    else:
        with pytest.raises(RefundInvalidTransition):
            REFUND_MACHINE.transition(pk=refund.pk, to=target, action="x", actor="system")
        assert Refund.objects.get(pk=refund.pk).status == source


def test_a_succeeded_refund_is_final():
    assert REFUND_TRANSITIONS[RefundStatus.SUCCEEDED] == set()
