"""Points at the service level: award, spend (FIFO), returns, reversals, expiry, reconcile.

What must hold: two spends of the same points → one succeeds, never negative, ledger
sum = balance (also checked nightly, drift reported); FIFO expiry to the point; the points
side of a refund — spent points returned and earned points reversed exactly once, also in part.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Sum

from core.errors import DomainError
from members.errors import PointsInsufficient, PointsReferenceReused
from members.models import Member, PointsAllocation, PointsEntry, PointsKind, PointsLot
from members.pricing_points import points_pro_rata
from members.services.points import (
    points_award,
    points_expire_due,
    points_expires_at,
    points_reconcile,
    points_refund_spent,
    points_return_for_refund,
    points_reverse_award,
    points_reverse_for_refund,
    points_spend,
)
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory

SH = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SH)


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def assert_books_close(member: Member) -> None:
    """Ledger sum = lots remaining = balance; each lot's remaining = its allocations; never negative."""
    ledger = PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0
    lots = PointsLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
    assert ledger == lots == balance(member) >= 0
    for lot in PointsLot.objects.filter(member=member):
        assert lot.remaining == PointsAllocation.objects.filter(lot=lot).aggregate(s=Sum("points"))["s"]
    last = PointsEntry.objects.filter(member=member).order_by("-id").first()
    if last is not None:
        assert last.balance_after == balance(member)


def lots_of(member: Member) -> list[tuple[int, int]]:
    return list(PointsLot.objects.filter(member=member).order_by("id").values_list("earned", "remaining"))


# --- award ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_award_writes_a_row_a_lot_and_the_balance_once_per_reference():
    member = MemberFactory.create()

    first = points_award(member_id=member.pk, points=120, kind=PointsKind.PURCHASE, reference="M001",
                         now=at(2025, 1, 10))
    again = points_award(member_id=member.pk, points=120, kind=PointsKind.PURCHASE, reference="M001")

    assert first is not None and again is None
    assert (first.delta, first.balance_after, first.kind, first.reference) == (120, 120, "purchase", "M001")
    lot = PointsLot.objects.get(member=member)
    assert (lot.earned, lot.remaining, lot.entry_id) == (120, 120, first.pk)
    assert lot.expires_at == at(2026, 1, 10)
    assert balance(member) == 120
    assert PointsEntry.objects.filter(member=member).count() == 1
    assert_books_close(member)


@pytest.mark.django_db
def test_the_same_reference_may_earn_under_another_kind_or_for_another_member():
    a, b = MemberFactory.create(), MemberFactory.create()

    points_award(member_id=a.pk, points=10, kind=PointsKind.PURCHASE, reference="M002")
    points_award(member_id=a.pk, points=5, kind=PointsKind.REVIEW, reference="M002")
    points_award(member_id=b.pk, points=7, kind=PointsKind.PURCHASE, reference="M002")

    assert (balance(a), balance(b)) == (15, 7)


@pytest.mark.django_db
def test_zero_points_award_nothing_and_bad_values_are_refused():
    member = MemberFactory.create()

    assert points_award(member_id=member.pk, points=0, kind=PointsKind.PURCHASE, reference="M003") is None
    bad_values: list[Any] = [-1, 1.5, True, "10"]  # not whole positive numbers, whatever their type
    for bad in bad_values:
        with pytest.raises(DomainError) as refused:
            points_award(member_id=member.pk, points=bad, kind=PointsKind.PURCHASE, reference="M003")
        assert refused.value.code == "invalid_points"
    with pytest.raises(ValueError):
        points_award(member_id=member.pk, points=5, kind=PointsKind.SPEND, reference="M003")

    assert PointsEntry.objects.filter(member=member).count() == 0
    assert balance(member) == 0


@pytest.mark.django_db
def test_points_expire_twelve_months_later_on_the_shanghai_calendar():
    assert points_expires_at(at(2025, 3, 31, 23)) == dt.datetime(2026, 3, 31, 23, tzinfo=SH)
    assert points_expires_at(at(2024, 2, 29, 8)) == dt.datetime(2025, 2, 28, 8, tzinfo=SH)


# --- spend ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_spend_takes_the_oldest_lots_first():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="A", now=at(2025, 1, 10))
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="B", now=at(2025, 3, 10))
    points_award(member_id=member.pk, points=30, kind=PointsKind.SIGN_IN, reference="C", now=at(2025, 3, 11))

    spent = points_spend(member_id=member.pk, points=150, reference="ORDER-1", now=at(2025, 4, 10))

    assert (spent.delta, spent.balance_after, spent.kind) == (-150, 80, "spend")
    assert lots_of(member) == [(100, 0), (100, 50), (30, 30)]
    assert sorted(PointsAllocation.objects.filter(entry=spent).values_list("points", flat=True)) == [-100, -50]
    assert_books_close(member)


@pytest.mark.django_db
def test_spending_more_than_the_balance_is_409_and_changes_nothing():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="A")

    with pytest.raises(PointsInsufficient) as refused:
        points_spend(member_id=member.pk, points=101, reference="ORDER-2")

    assert (refused.value.status, refused.value.code) == (409, "points_insufficient")
    assert refused.value.detail == {"required": 101, "balance": 100}
    assert balance(member) == 100
    assert lots_of(member) == [(100, 100)]
    assert not PointsEntry.objects.filter(kind=PointsKind.SPEND).exists()


@pytest.mark.django_db
def test_a_repeated_spend_returns_the_first_row_and_another_amount_is_refused():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="A")

    first = points_spend(member_id=member.pk, points=40, reference="ORDER-3")
    again = points_spend(member_id=member.pk, points=40, reference="ORDER-3")
    with pytest.raises(PointsReferenceReused):
        points_spend(member_id=member.pk, points=41, reference="ORDER-3")

    assert again.pk == first.pk
    assert balance(member) == 60
    assert_books_close(member)


@pytest.mark.django_db
def test_a_lot_past_its_expiry_is_expired_not_spent():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="A", now=at(2025, 1, 10))
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="B", now=at(2025, 6, 10))

    # The January lot's time came yesterday and the job has not run yet.
    with pytest.raises(PointsInsufficient):
        points_spend(member_id=member.pk, points=150, reference="ORDER-4", now=at(2026, 1, 11))
    spent = points_spend(member_id=member.pk, points=80, reference="ORDER-5", now=at(2026, 1, 11))

    assert spent.balance_after == 20
    assert list(PointsEntry.objects.filter(member=member, kind=PointsKind.EXPIRY).values_list("delta", flat=True)) \
        == [-100]
    assert lots_of(member) == [(100, 0), (100, 20)]
    assert_books_close(member)


@pytest.mark.django_db(transaction=True)
def test_two_orders_spending_the_same_points_at_once_one_succeeds():
    """Must be true #1: separate connections, released together."""
    member = MemberFactory.create()
    bystander = MemberFactory.create()
    points_award(member_id=member.pk, points=300, kind=PointsKind.PURCHASE, reference="A")
    points_award(member_id=bystander.pk, points=50, kind=PointsKind.PURCHASE, reference="A")

    results = run_concurrently(
        lambda i: points_spend(member_id=member.pk, points=200, reference=f"ORDER-{i}"), 2)

    succeeded = [r for r in results if isinstance(r, PointsEntry)]
    refused = [r for r in results if isinstance(r, PointsInsufficient)]
    assert (len(succeeded), len(refused)) == (1, 1), results
    assert balance(member) == 100
    assert PointsEntry.objects.filter(member=member, kind=PointsKind.SPEND).count() == 1
    for m in (member, bystander):
        assert_books_close(m)
    assert points_reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_spends_never_take_the_balance_below_zero():
    member = MemberFactory.create()
    for i in range(5):
        points_award(member_id=member.pk, points=100, kind=PointsKind.SIGN_IN, reference=f"S{i}")

    results = run_concurrently(
        lambda i: points_spend(member_id=member.pk, points=70, reference=f"ORDER-{i}"), 10)

    assert sum(isinstance(r, PointsEntry) for r in results) == 7  # 7 × 70 = 490 of 500
    assert sum(isinstance(r, PointsInsufficient) for r in results) == 3
    assert balance(member) == 10
    assert_books_close(member)


# --- must be true #3: FIFO expiry -------------------------------------------------------------------


@pytest.mark.django_db
def test_fifo_expiry_january_lot_expires_nothing_march_lot_expires_fifty():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="JAN", now=at(2025, 1, 10))
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="MAR", now=at(2025, 3, 10))
    points_spend(member_id=member.pk, points=150, reference="APR", now=at(2025, 4, 10))

    in_january = points_expire_due(now=at(2026, 1, 11))
    before_march = points_expire_due(now=at(2026, 3, 10, 11))
    in_march = points_expire_due(now=at(2026, 3, 10, 12))
    again = points_expire_due(now=at(2026, 3, 11))

    assert (in_january, before_march, in_march, again) == (0, 0, 1, 0)
    expiry = PointsEntry.objects.get(member=member, kind=PointsKind.EXPIRY)
    march_lot = PointsLot.objects.get(entry__reference="MAR")
    assert (expiry.delta, expiry.balance_after, expiry.reference) == (-50, 0, f"lot:{march_lot.pk}")
    assert (march_lot.remaining, march_lot.expired_at) == (0, at(2026, 3, 10, 12))
    assert PointsLot.objects.get(entry__reference="JAN").expired_at is None  # nothing to expire
    assert balance(member) == 0
    assert_books_close(member)


@pytest.mark.django_db
def test_expiry_job_works_through_many_members_in_batches():
    members = [MemberFactory.create() for _ in range(7)]
    for i, m in enumerate(members):
        points_award(member_id=m.pk, points=10 + i, kind=PointsKind.SIGN_IN, reference="S1", now=at(2025, 1, 1))
        points_award(member_id=m.pk, points=5, kind=PointsKind.SIGN_IN, reference="S2", now=at(2025, 1, 2))
        points_award(member_id=m.pk, points=1, kind=PointsKind.SIGN_IN, reference="S3", now=at(2025, 6, 1))

    assert points_expire_due(now=at(2026, 1, 5), batch_size=3) == 14

    for i, m in enumerate(members):
        assert balance(m) == 1
        assert sorted(PointsEntry.objects.filter(member=m, kind=PointsKind.EXPIRY)
                      .values_list("delta", flat=True)) == [-(10 + i), -5]
        assert_books_close(m)


@pytest.mark.django_db(transaction=True)
def test_the_expiry_job_skips_a_member_in_the_middle_of_a_checkout():
    """The job claims members with SKIP LOCKED: a held member waits for the next run, no deadlock."""
    import threading

    from django.db import transaction

    busy, free = MemberFactory.create(), MemberFactory.create()
    for m in (busy, free):
        points_award(member_id=m.pk, points=40, kind=PointsKind.PURCHASE, reference="A", now=at(2025, 1, 1))
    holding, release = threading.Event(), threading.Event()

    def checkout() -> None:
        try:
            with transaction.atomic():
                Member.objects.select_for_update().get(pk=busy.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=checkout)
    thread.start()
    holding.wait(timeout=30)
    try:
        expired = points_expire_due(now=at(2026, 2, 1))
    finally:
        release.set()
        thread.join(timeout=30)

    assert expired == 1
    assert (balance(busy), balance(free)) == (40, 0)
    assert points_expire_due(now=at(2026, 2, 1)) == 1
    assert balance(busy) == 0


# --- must be true #4: returns and reversals ---------------------------------------------------------


@pytest.mark.django_db
def test_spent_points_come_back_in_part_exactly_once_and_never_more_than_spent():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=1000, kind=PointsKind.PURCHASE, reference="A")
    points_spend(member_id=member.pk, points=300, reference="ORDER-6")
    # Paid ¥99.99 for the order; a refund of ¥30.00 then the rest.
    first_share = points_pro_rata(total=300, part_fen=3000, whole_fen=9999, done=0)

    first = points_refund_spent(member_id=member.pk, reference="ORDER-6", points=first_share,
                                refund_reference="R1")
    repeat = points_refund_spent(member_id=member.pk, reference="ORDER-6", points=first_share,
                                 refund_reference="R1")
    rest = points_refund_spent(member_id=member.pk, reference="ORDER-6",
                               points=points_pro_rata(total=300, part_fen=9999, whole_fen=9999, done=first_share),
                               refund_reference="R2")
    beyond = points_refund_spent(member_id=member.pk, reference="ORDER-6", points=50, refund_reference="R3")

    assert first is not None and rest is not None
    assert (first.delta, repeat, rest.delta, beyond) == (90, None, 210, None)
    assert (first.origin_id, first.kind) == (rest.origin_id, "refund_return")
    assert balance(member) == 1000
    assert lots_of(member) == [(1000, 1000)]  # back into the lot they came from
    assert_books_close(member)


@pytest.mark.django_db
def test_cancelled_order_points_go_back_to_live_lots_and_expired_ones_come_back_fresh():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="JAN", now=at(2025, 1, 10))
    points_award(member_id=member.pk, points=100, kind=PointsKind.PURCHASE, reference="JUN", now=at(2025, 6, 10))
    points_spend(member_id=member.pk, points=150, reference="ORDER-7", now=at(2025, 12, 1))

    # The January lot's time has come by the time the order is cancelled.
    back = points_refund_spent(member_id=member.pk, reference="ORDER-7", points=150, refund_reference="C-ORDER-7",
                               kind=PointsKind.CANCEL_RETURN, now=at(2026, 2, 1))

    assert back is not None and (back.delta, back.kind) == (150, "cancel_return")
    jan, jun, fresh = PointsLot.objects.filter(member=member).order_by("id")
    assert (jan.remaining, jun.remaining) == (0, 100)  # June got its 50 back; January's 100 did not
    assert (fresh.entry_id, fresh.earned, fresh.remaining) == (back.pk, 100, 100)
    assert fresh.expires_at == at(2027, 2, 1)
    assert balance(member) == 200
    assert_books_close(member)


@pytest.mark.django_db
def test_nothing_to_return_without_a_spend():
    member = MemberFactory.create()

    assert points_refund_spent(member_id=member.pk, reference="NOPE", points=10, refund_reference="R9") is None
    assert not PointsEntry.objects.exists()


@pytest.mark.django_db
def test_earned_points_are_reversed_exactly_once_also_in_part():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=50, kind=PointsKind.SIGN_IN, reference="S1")
    points_award(member_id=member.pk, points=200, kind=PointsKind.PURCHASE, reference="ORDER-8")

    part = points_reverse_award(member_id=member.pk, reference="ORDER-8", points=80, reversal_reference="RV1")
    repeat = points_reverse_award(member_id=member.pk, reference="ORDER-8", points=80, reversal_reference="RV1")
    rest = points_reverse_award(member_id=member.pk, reference="ORDER-8", points=500, reversal_reference="RV2")
    beyond = points_reverse_award(member_id=member.pk, reference="ORDER-8", points=1, reversal_reference="RV3")

    assert part is not None and rest is not None
    assert (part.delta, part.shortfall, repeat, rest.delta, rest.shortfall, beyond) == (-80, 0, None, -120, 0, None)
    assert balance(member) == 50
    assert lots_of(member) == [(50, 50), (200, 0)]  # taken from the order's own lot, not the sign-in
    assert_books_close(member)


@pytest.mark.django_db
def test_a_reversal_of_points_already_spent_stops_at_zero_and_records_the_shortfall():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=200, kind=PointsKind.PURCHASE, reference="ORDER-9")
    points_spend(member_id=member.pk, points=170, reference="ORDER-10")

    reversal = points_reverse_award(member_id=member.pk, reference="ORDER-9", points=200, reversal_reference="RV9")
    again = points_reverse_award(member_id=member.pk, reference="ORDER-9", points=200, reversal_reference="RV9b")

    assert reversal is not None
    assert (reversal.delta, reversal.shortfall, reversal.balance_after, again) == (-30, 170, 0, None)
    assert balance(member) == 0
    assert_books_close(member)


@pytest.mark.django_db
def test_refunds_in_proportion_to_money_return_and_reverse_every_point_by_the_full_refund():
    member = MemberFactory.create()
    points_award(member_id=member.pk, points=1000, kind=PointsKind.SIGN_IN, reference="S1")
    points_spend(member_id=member.pk, points=301, reference="ORDER-11")  # paid ¥99.99 in cash besides
    points_award(member_id=member.pk, points=99, kind=PointsKind.PURCHASE, reference="ORDER-11")
    refunded, returned, reversed_ = 0, [], []
    for i, part in enumerate([1234, 3000, 1, 5764]):
        refunded += part
        back = points_return_for_refund(member_id=member.pk, reference="ORDER-11", paid_fen=9999,
                                        refunded_total_fen=refunded, refund_reference=f"R{i}")
        taken = points_reverse_for_refund(member_id=member.pk, reference="ORDER-11", paid_fen=9999,
                                          refunded_total_fen=refunded, reversal_reference=f"R{i}")
        again = points_return_for_refund(member_id=member.pk, reference="ORDER-11", paid_fen=9999,
                                         refunded_total_fen=refunded, refund_reference=f"R{i}")
        assert again is None
        returned.append(back.delta if back else 0)
        reversed_.append(-taken.delta if taken else 0)

    assert returned == [37, 90, 0, 174] and sum(returned) == 301
    assert reversed_ == [13, 29, 0, 57] and sum(reversed_) == 99
    assert balance(member) == 1000
    assert_books_close(member)


@pytest.mark.django_db
def test_proportional_refund_amounts_are_checked():
    member = MemberFactory.create()
    cases: list[dict[str, Any]] = [{"paid_fen": 0, "refunded_total_fen": 10},
                                   {"paid_fen": 100, "refunded_total_fen": 0}]
    for kwargs in cases:
        with pytest.raises(DomainError) as refused:
            points_return_for_refund(member_id=member.pk, reference="X", refund_reference="R", **kwargs)
        assert refused.value.code == "invalid_points_refund_amount"


# --- reconcile -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reconcile_reports_an_injected_drift_and_fixes_nothing(caplog):
    members = [MemberFactory.create() for _ in range(5)]
    for m in members:
        points_award(member_id=m.pk, points=100, kind=PointsKind.PURCHASE, reference="A")
    assert points_reconcile(batch_size=2) == []
    drifted, lot_drifted = members[3], members[1]
    Member.objects.filter(pk=drifted.pk).update(points_balance=130)  # someone edited the snapshot
    PointsLot.objects.filter(member=lot_drifted).update(remaining=60)  # or a lot

    with caplog.at_level(logging.WARNING, logger="members.services.points"):
        drifts = points_reconcile(batch_size=2)

    assert [(d.member_id, d.balance, d.ledger_sum, d.lots_remaining) for d in drifts] == [
        (lot_drifted.pk, 100, 100, 60), (drifted.pk, 130, 100, 100)]
    assert f"member {drifted.pk} balance 130, ledger sum 100, lots remaining 100" in caplog.text
    assert balance(drifted) == 130  # reported, not overwritten
    assert PointsLot.objects.get(member=lot_drifted).remaining == 60
    # The nightly task returns the same drifts, as plain values.
    from members.tasks import reconcile_points

    assert reconcile_points.apply().get() == [
        {"member_id": lot_drifted.pk, "balance": 100, "ledger_sum": 100, "lots_remaining": 60},
        {"member_id": drifted.pk, "balance": 130, "ledger_sum": 100, "lots_remaining": 100}]
