"""Distribution under concurrency, threads on the real database: two withdrawals of the whole
available amount at once (one succeeds, one is refused), and two members binding under each other
at the same moment (never a cycle)."""

from __future__ import annotations

import pytest
from django.db import transaction

from campaigns.errors import BindingRefused, WithdrawalExceedsAvailable
from campaigns.models import Binding, Withdrawal
from campaigns.models.commissions import EntryReason
from campaigns.models.distribution import BindingStatus
from campaigns.services.bindings import binding_bind_on_arrival
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.withdrawals import withdrawal_request
from tests.campaigns.support_distribution import distributor, ledger_consistent, money, near_member
from tests.concurrency import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_withdrawals_of_everything_at_once_one_succeeds_one_is_refused():
    d = distributor()
    with transaction.atomic():
        ledger_move(distributor_id=d.pk, reason=EntryReason.SETTLED, reference="seed", moves=Moves(available_fen=5000))
    member = near_member(d)

    results = run_concurrently(lambda i: withdrawal_request(member=member, amount_fen=5000), 2)

    refused = [r for r in results if isinstance(r, WithdrawalExceedsAvailable)]
    succeeded = [r for r in results if isinstance(r, tuple)]
    assert (len(succeeded), len(refused)) == (1, 1), results
    assert (refused[0].status, refused[0].code) == (409, "withdrawal_exceeds_available")
    assert Withdrawal.objects.count() == 1
    assert (money(d)["available"], money(d)["withdrawing"]) == (0, 5000)
    assert ledger_consistent()


def test_two_members_binding_under_each_other_at_once_never_make_a_cycle():
    a, b = distributor(name="张甲"), distributor(name="张乙")
    pairs = [(near_member(a), b), (near_member(b), a)]

    results = run_concurrently(lambda i: binding_bind_on_arrival(member=pairs[i][0], distributor_id=pairs[i][1].pk), 2)

    assert sorted(type(r).__name__ for r in results) == ["Binding", "BindingRefused"], results
    assert [r.code for r in results if isinstance(r, BindingRefused)] == ["binding_cycle"]
    assert Binding.objects.filter(status=BindingStatus.ACTIVE).count() == 1
