"""Withdrawals (提现): the rules of a request, maker-checker above the threshold, the money moving
withdrawing → withdrawn on a transfer's success and back to available on a failure or a
rejection, with the ledger matching the snapshots throughout. Bad input changes nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from campaigns.errors import (
    DistributorFrozen,
    NotADistributor,
    ReasonRequired,
    WithdrawalAmountInvalid,
    WithdrawalDailyLimitReached,
    WithdrawalExceedsAvailable,
    WithdrawalSecondApproverRequired,
)
from campaigns.models import CommissionEntry, Distributor, Withdrawal, WithdrawalEvent
from campaigns.models.commissions import EntryReason
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.distribution import distributor_freeze
from campaigns.services.withdrawals import (
    withdrawal_approve,
    withdrawal_on_transfer_failed,
    withdrawal_on_transfer_succeeded,
    withdrawal_pay,
    withdrawal_reject,
    withdrawal_request,
)
from core.idempotency import IdempotencyKeyReused
from payments.models import Transfer
from tests.builders import buyer, operator
from tests.campaigns.support_distribution import distributor, ledger_consistent, money, near_member, reviewer, rules

pytestmark = pytest.mark.django_db


def transfer_of(w: Withdrawal) -> Transfer:
    """The payments core's transfer of the withdrawal's current attempt (what its callbacks get)."""
    return Transfer.objects.get(out_bill_no=Withdrawal.objects.get(pk=w.pk).transfer_reference)


def earned(d: Distributor, fen: int) -> Distributor:
    """`fen` of settled commission on the distributor's books (what the settlement job leaves)."""
    with transaction.atomic():
        ledger_move(distributor_id=d.pk, reason=EntryReason.SETTLED, reference=f"test:{d.pk}:{fen}",
                    moves=Moves(available_fen=fen))
    return d


def actions(w: Withdrawal) -> list[str]:
    return list(WithdrawalEvent.objects.filter(withdrawal=w).order_by("id").values_list("action", flat=True))


def test_a_request_moves_the_amount_to_withdrawing_and_keeps_the_fee():
    rules(withdraw_fee_percent=1)
    d = earned(distributor(), 10000)

    w, created = withdrawal_request(member=near_member(d), amount_fen=5000)

    assert created
    assert (w.amount_fen, w.fee_fen, w.net_fen, w.status) == (5000, 50, 4950, "requested")
    assert (money(d)["available"], money(d)["withdrawing"]) == (5000, 5000)
    assert actions(w) == ["requested"]
    assert ledger_consistent()


@pytest.mark.parametrize(("amount", "error"), [
    (99, WithdrawalAmountInvalid),  # below ¥1.00
    (0, WithdrawalAmountInvalid),
    (-100, WithdrawalAmountInvalid),
    (10001, WithdrawalExceedsAvailable),
])
def test_bad_amounts_are_refused_and_change_nothing(amount, error):
    d = earned(distributor(), 10000)

    with pytest.raises(error):
        withdrawal_request(member=near_member(d), amount_fen=amount)

    assert money(d)["available"] == 10000
    assert not Withdrawal.objects.exists()


def test_the_daily_maximum_counts_todays_requests():
    rules(withdraw_daily_max_fen=3000)
    d = earned(distributor(), 10000)
    withdrawal_request(member=near_member(d), amount_fen=2000)

    with pytest.raises(WithdrawalDailyLimitReached) as caught:
        withdrawal_request(member=near_member(d), amount_fen=1500)

    assert caught.value.detail == {"daily_max_fen": 3000, "left_fen": 1000}
    assert money(d)["available"] == 8000


def test_only_an_active_distributor_withdraws():
    d = earned(distributor(), 10000)
    with pytest.raises(NotADistributor):
        withdrawal_request(member=buyer(), amount_fen=100)
    distributor_freeze(distributor_id=d.pk, operator=reviewer(), reason="核查中")
    with pytest.raises(DistributorFrozen):
        withdrawal_request(member=near_member(d), amount_fen=100)
    assert money(d)["available"] == 10000


def test_the_same_idempotency_key_replays_and_another_amount_under_it_is_refused():
    d = earned(distributor(), 10000)
    first, _ = withdrawal_request(member=near_member(d), amount_fen=1000, idempotency_key="k1")

    again, created = withdrawal_request(member=near_member(d), amount_fen=1000, idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        withdrawal_request(member=near_member(d), amount_fen=2000, idempotency_key="k1")

    assert (again.pk, created) == (first.pk, False)
    assert money(d)["available"] == 9000


def test_above_the_threshold_a_second_operator_approves():
    d = earned(distributor(), 100000)
    w, _ = withdrawal_request(member=near_member(d), amount_fen=60000)  # ¥600 > ¥500
    maker, checker = operator("maker"), operator("checker")

    assert withdrawal_approve(withdrawal_id=w.pk, operator=maker).status == "awaiting_second"
    with pytest.raises(WithdrawalSecondApproverRequired):
        withdrawal_approve(withdrawal_id=w.pk, operator=maker)
    approved = withdrawal_approve(withdrawal_id=w.pk, operator=checker)

    assert (approved.status, approved.approved_by_id, approved.second_approved_by_id) == (
        "approved", maker.pk, checker.pk)
    assert actions(w) == ["requested", "approved_first", "approved"]


def test_a_paid_transfer_makes_it_withdrawn_once():
    d = earned(distributor(), 10000)
    w, _ = withdrawal_request(member=near_member(d), amount_fen=10000)
    withdrawal_approve(withdrawal_id=w.pk, operator=reviewer())
    w = withdrawal_pay(withdrawal_id=w.pk, operator=reviewer())
    transfer = transfer_of(w)
    assert (w.status, transfer.kind, transfer.reference, transfer.amount_fen, transfer.state) == (
        "paying", "withdrawal", w.withdrawal_no, 10000, "created")

    for _ in range(3):
        withdrawal_on_transfer_succeeded(transfer)

    assert Withdrawal.objects.get(pk=w.pk).status == "paid"
    assert money(d) == {"pending": 0, "frozen": 0, "available": 0, "withdrawing": 0, "withdrawn": 10000, "owed": 0}
    assert CommissionEntry.objects.filter(withdrawal=w, reason="withdraw_paid").count() == 1
    assert actions(w) == ["requested", "approved", "paying", "paid"]
    assert ledger_consistent()


def test_a_failed_transfer_puts_the_money_back_with_the_reason_and_a_retry_takes_it_again():
    d = earned(distributor(), 10000)
    w, _ = withdrawal_request(member=near_member(d), amount_fen=4000)
    withdrawal_approve(withdrawal_id=w.pk, operator=reviewer())
    w = withdrawal_pay(withdrawal_id=w.pk, operator=reviewer())
    first = transfer_of(w)
    Transfer.objects.filter(pk=first.pk).update(state="cancelled")  # what the payments core records first

    withdrawal_on_transfer_failed(first, "用户未在规定时间内确认收款")
    withdrawal_on_transfer_failed(first, "again")
    failed = Withdrawal.objects.get(pk=w.pk)
    assert (failed.status, failed.fail_reason) == ("failed", "用户未在规定时间内确认收款")
    assert (money(d)["available"], money(d)["withdrawing"]) == (10000, 0)

    retried = withdrawal_pay(withdrawal_id=w.pk, operator=reviewer())
    withdrawal_on_transfer_succeeded(first)  # the old attempt: ignored
    assert (retried.status, retried.attempts) == ("paying", 2)
    assert retried.transfer_reference != first.out_bill_no
    assert (money(d)["available"], money(d)["withdrawing"]) == (6000, 4000)
    withdrawal_on_transfer_succeeded(transfer_of(retried))
    assert (money(d)["available"], money(d)["withdrawn"]) == (6000, 4000)
    assert ledger_consistent()


def test_a_rejection_needs_a_reason_and_gives_the_money_back():
    d = earned(distributor(), 10000)
    w, _ = withdrawal_request(member=near_member(d), amount_fen=3000)

    with pytest.raises(ReasonRequired):
        withdrawal_reject(withdrawal_id=w.pk, operator=reviewer(), reason="")
    assert money(d)["withdrawing"] == 3000
    rejected = withdrawal_reject(withdrawal_id=w.pk, operator=reviewer(), reason="账户信息有误")
    withdrawal_reject(withdrawal_id=w.pk, operator=reviewer(), reason="again")

    assert (rejected.status, rejected.reject_reason) == ("rejected", "账户信息有误")
    assert (money(d)["available"], money(d)["withdrawing"]) == (10000, 0)
    assert ledger_consistent()
