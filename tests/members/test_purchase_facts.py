"""The purchase facts the shop reports (paid orders, paid total): a refund takes its share out
exactly once per refund number, never below zero, and only inside the caller's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from core.db import TransactionRequired
from members.models import Member, MemberPurchaseRefund
from members.services.purchases import member_record_purchase, member_record_refund
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def totals(member: Member) -> tuple[int, int]:
    return Member.objects.values_list("paid_order_count", "paid_total_fen").get(pk=member.pk)


def test_a_partial_then_the_completing_refund_take_the_money_then_the_order_out():
    member = MemberFactory.create()
    with transaction.atomic():
        member_record_purchase(member_id=member.pk, paid_fen=10000, paid_at=timezone.now())
        member_record_purchase(member_id=member.pk, paid_fen=5000, paid_at=timezone.now())

        assert member_record_refund(member_id=member.pk, refunded_fen=3000, order_refunded_in_full=False,
                                    reference="AS1") is True
        assert totals(member) == (2, 12000)
        assert member_record_refund(member_id=member.pk, refunded_fen=7000, order_refunded_in_full=True,
                                    reference="AS2") is True
        assert totals(member) == (1, 5000)


def test_the_same_refund_number_counts_once():
    member = MemberFactory.create(paid_order_count=1, paid_total_fen=10000)
    with transaction.atomic():
        member_record_refund(member_id=member.pk, refunded_fen=10000, order_refunded_in_full=True, reference="AS1")

        assert member_record_refund(member_id=member.pk, refunded_fen=10000, order_refunded_in_full=True,
                                    reference="AS1") is False

    assert totals(member) == (0, 0)
    assert MemberPurchaseRefund.objects.filter(member=member).count() == 1


def test_a_refund_never_takes_the_facts_below_zero():
    # facts from before refunds were counted, smaller than what comes back
    member = MemberFactory.create(paid_order_count=0, paid_total_fen=500)
    with transaction.atomic():
        member_record_refund(member_id=member.pk, refunded_fen=800, order_refunded_in_full=True, reference="AS1")

    assert totals(member) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses_and_changes_nothing():
    member = MemberFactory.create(paid_order_count=1, paid_total_fen=10000)

    with pytest.raises(TransactionRequired):
        member_record_refund(member_id=member.pk, refunded_fen=10000, order_refunded_in_full=True, reference="AS1")
    with pytest.raises(TransactionRequired):
        member_record_purchase(member_id=member.pk, paid_fen=10000, paid_at=timezone.now())

    assert totals(member) == (1, 10000)
    assert not MemberPurchaseRefund.objects.exists()
