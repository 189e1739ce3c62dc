"""core.counters: a counter is repaired only from the value that was read, all fields or none."""

from __future__ import annotations

import pytest

from catalog.models import Product
from core.counters import CounterDrift, counters_repair
from members.models import Member
from tests.factories import MemberFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_a_drifted_counter_is_set_to_what_it_should_be_and_reported():
    product = ProductFactory.create()
    Product.objects.filter(pk=product.pk).update(sales_count=5)

    drifts = counters_repair(Product, pk=product.pk, values={"sales_count": (5, 9)})

    assert drifts == [CounterDrift("catalog.Product.sales_count", product.pk, 5, 9, True)]
    assert Product.objects.get(pk=product.pk).sales_count == 9


def test_a_right_counter_is_not_written_at_all():
    product = ProductFactory.create()
    Product.objects.filter(pk=product.pk).update(sales_count=5)

    assert counters_repair(Product, pk=product.pk, values={"sales_count": (5, 5)}) == []
    assert Product.objects.get(pk=product.pk).sales_count == 5


def test_a_counter_that_moved_since_it_was_read_is_left_alone_and_reported_unrepaired():
    # given a member whose total moved (a payment committed) after the reconcile read 0
    member = MemberFactory.create()
    Member.objects.filter(pk=member.pk).update(paid_order_count=1, paid_total_fen=3000)

    drifts = counters_repair(Member, pk=member.pk, values={"paid_order_count": (0, 0),
                                                          "paid_total_fen": (0, 2000)})

    # then nothing is overwritten: not the drifted field, not the one that was right
    assert drifts == [CounterDrift("members.Member.paid_total_fen", member.pk, 0, 2000, False)]
    assert Member.objects.values_list("paid_order_count", "paid_total_fen").get(pk=member.pk) == (1, 3000)
