"""Refund requests and approvals at the same moment, each thread on its own database connection."""

from __future__ import annotations

import pytest

from shop.models import AfterSale, Order, Refund
from shop.services.aftersales import MoreThanLeft, after_sale_approve
from tests.builders import lines_of, operator, paid_order, requested_after_sale
from tests.celery_worker import celery_eager
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager():
    with celery_eager():
        yield


def test_two_requests_that_together_exceed_what_was_paid_one_wins_one_is_refused(mall, sandbox, eager):
    # given a paid order for one ¥59.90 item (plus ¥10 freight)
    default_freight()
    buyer = make_shopper()
    order = paid_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=5990, stock=3), 1)], sandbox=sandbox)
    (line,) = lines_of(order)

    # when two requests for that unit arrive at the same moment
    results = run_concurrently(lambda i: requested_after_sale(order=order, lines={line: 1}), 2)

    # then one is created, the other refused, and all that can ever be refunded is what was paid
    won = [r for r in results if isinstance(r, AfterSale)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], MoreThanLeft) and lost[0].status == 409
    assert AfterSale.objects.count() == 1
    assert won[0].amount_fen == order.paid_fen == 6990
    after_sale_approve(after_sale=won[0], operator=operator("ops"))
    assert sandbox.settle_refund(won[0].after_sale_no)["deliveries"][0]["acknowledged"] is True
    assert Order.objects.get(pk=order.pk).refunded_fen == order.paid_fen


def test_many_buyers_threads_for_a_few_units_exactly_those_units_are_claimed(sandbox):
    default_freight()
    buyer = make_shopper()
    order = paid_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=1999, stock=10), 5)], sandbox=sandbox)
    (line,) = lines_of(order)

    results = run_concurrently(lambda i: requested_after_sale(order=order, lines={line: 1}), 8)

    won = [r for r in results if isinstance(r, AfterSale)]
    assert len(won) == 5
    assert all(isinstance(r, MoreThanLeft) for r in results if not isinstance(r, AfterSale))
    assert sum(a.amount_fen for a in won) == line.payable_fen + 0  # freight: the order is free-shipping
    assert sum(AfterSale.objects.values_list("amount_fen", flat=True)) <= order.paid_fen


def test_two_operators_approving_at_once_start_one_refund(mall, sandbox, eager):
    default_freight()
    buyer = make_shopper()
    order = paid_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=3000, stock=3), 2)], sandbox=sandbox)
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 1})
    first, second = operator("ops1"), operator("ops2")

    results = run_concurrently(lambda i: after_sale_approve(after_sale=after_sale,
                                                            operator=(first, second)[i]), 2)

    assert all(isinstance(r, AfterSale) for r in results), results
    assert Refund.objects.filter(after_sale=after_sale).count() == 1
    assert len(sandbox.refunds()) == 1
