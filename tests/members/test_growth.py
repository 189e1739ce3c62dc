"""Growth: award and reverse exactly once, never below zero, the tier follows at once both ways."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.errors import NotFound, ValidationFailed
from members.models import GrowthEntry, GrowthReason, GrowthRule, Member, Tier, TierChange
from members.services.growth import (
    growth_adjust,
    growth_award,
    growth_for_payment,
    growth_for_review,
    growth_reverse,
    growth_reverse_for_refund,
    member_growth_overview,
    member_may_buy_early,
    member_tiers_recompute,
)
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory

PURCHASE, REFUND = GrowthReason.PURCHASE, GrowthReason.REFUND


def tier(name: str) -> Tier:
    return Tier.objects.get(name=name)


def growth_of(member: Member) -> tuple[int, str | None]:
    member.refresh_from_db()
    return member.growth, member.tier.name if member.tier else None


def history(member: Member) -> list[tuple[str | None, str, int]]:
    return [(c.from_tier.name if c.from_tier else None, c.to_tier.name, c.growth)
            for c in TierChange.objects.filter(member=member).order_by("id")]


@pytest.fixture
def member(db) -> Member:
    return MemberFactory.create()


# --- awards -------------------------------------------------------------------------------------


def test_an_award_adds_growth_writes_the_ledger_and_upgrades_at_once(member):
    first = growth_award(member_id=member.pk, amount=800, reason=PURCHASE, reference="2026050100000001")
    second = growth_award(member_id=member.pk, amount=300, reason=PURCHASE, reference="2026050100000002")

    assert (first.delta, first.growth, first.tier_changed, first.created) == (800, 800, True, True)
    assert (second.delta, second.growth, second.tier_changed) == (300, 1100, True)
    assert growth_of(member) == (1100, "白银会员")
    assert history(member) == [(None, "普通会员", 800), ("普通会员", "白银会员", 1100)]
    entries = list(GrowthEntry.objects.filter(member=member).order_by("id").values_list(
        "reason", "delta", "growth_after", "reference"))
    assert entries == [(PURCHASE, 800, 800, "2026050100000001"), (PURCHASE, 300, 1100, "2026050100000002")]


def test_the_same_reference_awards_once(member):
    first = growth_award(member_id=member.pk, amount=1200, reason=PURCHASE, reference="A1")
    again = growth_award(member_id=member.pk, amount=1200, reason=PURCHASE, reference="A1")

    assert again.created is False
    assert again.entry_id == first.entry_id
    assert (again.delta, again.growth) == (1200, 1200)
    assert growth_of(member) == (1200, "白银会员")
    assert GrowthEntry.objects.filter(member=member).count() == 1
    assert TierChange.objects.filter(member=member).count() == 1


def test_the_same_reference_for_another_reason_or_member_is_another_award(member):
    other = MemberFactory.create()
    growth_award(member_id=member.pk, amount=10, reason=PURCHASE, reference="R1")
    growth_award(member_id=member.pk, amount=5, reason=GrowthReason.REVIEW, reference="R1")
    growth_award(member_id=other.pk, amount=7, reason=PURCHASE, reference="R1")
    assert growth_of(member)[0] == 15
    assert growth_of(other)[0] == 7


def test_an_award_of_zero_writes_nothing(member):
    change = growth_award(member_id=member.pk, amount=0, reason=PURCHASE, reference="small")
    assert (change.delta, change.created, change.entry_id) == (0, False, None)
    assert not GrowthEntry.objects.filter(member=member).exists()
    assert growth_of(member) == (0, None)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"amount": -1}, "invalid_growth_amount"),
    ({"reason": REFUND}, "invalid_growth_reason"),
    ({"reason": "gift"}, "invalid_growth_reason"),
])
def test_bad_awards_are_refused_and_change_nothing(member, kwargs, code):
    args = {"member_id": member.pk, "amount": 10, "reason": PURCHASE, "reference": "X", **kwargs}
    with pytest.raises(ValidationFailed) as refused:
        growth_award(**args)
    assert refused.value.code == code
    assert growth_of(member) == (0, None)
    assert not GrowthEntry.objects.exists()


def test_an_unknown_member_is_not_found(db):
    with pytest.raises(NotFound) as refused:
        growth_award(member_id=987654321, amount=10, reason=PURCHASE, reference="X")
    assert refused.value.code == "member_not_found"
    assert not GrowthEntry.objects.exists()


def test_growth_is_part_of_the_callers_transaction(member):
    with pytest.raises(RuntimeError), transaction.atomic():
        growth_award(member_id=member.pk, amount=2000, reason=PURCHASE, reference="rolled-back")
        raise RuntimeError("the payment failed after the award")
    assert growth_of(member) == (0, None)
    assert not GrowthEntry.objects.exists()
    assert not TierChange.objects.exists()


# --- rules -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_growth_for_payment_is_whole_yuan_times_the_rule():
    assert [growth_for_payment(paid_fen=f) for f in (0, -100, 99, 100, 9999, 123456)] == [0, 0, 0, 1, 99, 1234]
    GrowthRule.objects.filter(pk=1).update(per_yuan=2, per_review=25)
    assert growth_for_payment(paid_fen=9999) == 198
    assert growth_for_review() == 25


# --- reversals -----------------------------------------------------------------------------------------


def test_a_full_refund_takes_the_award_back_and_downgrades_at_once(member):
    growth_award(member_id=member.pk, amount=300, reason=PURCHASE, reference="O1")
    growth_award(member_id=member.pk, amount=900, reason=PURCHASE, reference="O2")
    assert growth_of(member) == (1200, "白银会员")

    change = growth_reverse(member_id=member.pk, reference="O2", amount=None, reversal_reference="RF-O2")

    assert (change.delta, change.growth, change.tier_changed) == (-900, 300, True)
    assert growth_of(member) == (300, "普通会员")
    assert history(member)[-1] == ("白银会员", "普通会员", 300)
    assert change.entry_id is not None
    row = GrowthEntry.objects.get(pk=change.entry_id)
    assert (row.reason, row.reference, row.reverses_reference, row.delta, row.growth_after) == (
        REFUND, "RF-O2", "O2", -900, 300)


def test_partial_refunds_never_take_back_more_than_was_awarded(member):
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")
    growth_award(member_id=member.pk, amount=50, reason=PURCHASE, reference="O-other")

    a = growth_reverse(member_id=member.pk, reference="O1", amount=30, reversal_reference="RF1")
    b = growth_reverse(member_id=member.pk, reference="O1", amount=60, reversal_reference="RF2")
    c = growth_reverse(member_id=member.pk, reference="O1", amount=60, reversal_reference="RF3")
    d = growth_reverse(member_id=member.pk, reference="O1", amount=None, reversal_reference="RF4")

    assert [x.delta for x in (a, b, c, d)] == [-30, -60, -10, 0]
    assert growth_of(member)[0] == 50  # the other order's growth is untouched
    assert GrowthEntry.objects.filter(member=member, reason=REFUND).count() == 3


def test_a_repeated_reversal_changes_nothing(member):
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")
    first = growth_reverse(member_id=member.pk, reference="O1", amount=40, reversal_reference="RF1")
    again = growth_reverse(member_id=member.pk, reference="O1", amount=40, reversal_reference="RF1")
    assert (again.created, again.entry_id, again.delta) == (False, first.entry_id, -40)
    assert growth_of(member)[0] == 60


def test_a_reversal_never_takes_growth_below_zero(member, admin_user):
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")
    growth_adjust(member_id=member.pk, delta=-80, note="误操作补正", operator=admin_user)

    change = growth_reverse(member_id=member.pk, reference="O1", amount=None, reversal_reference="RF1")

    assert (change.delta, change.growth) == (-20, 0)
    assert growth_of(member)[0] == 0


def test_reversing_a_reference_that_awarded_nothing_writes_nothing(member):
    change = growth_reverse(member_id=member.pk, reference="never-paid", amount=10, reversal_reference="RF1")
    assert (change.delta, change.created) == (0, False)
    assert not GrowthEntry.objects.exists()


@pytest.mark.parametrize("kwargs", [{"reference": ""}, {"reversal_reference": ""}, {"amount": -1}])
def test_bad_reversals_are_refused(member, kwargs):
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")
    args = {"member_id": member.pk, "reference": "O1", "amount": 10, "reversal_reference": "RF1", **kwargs}
    with pytest.raises(ValidationFailed):
        growth_reverse(**args)
    assert growth_of(member)[0] == 100


def test_refunds_take_back_the_refunded_share_and_a_full_refund_all_of_it(member):
    paid = 19999
    growth_award(member_id=member.pk, amount=growth_for_payment(paid_fen=paid), reason=PURCHASE, reference="O1")
    growth_award(member_id=member.pk, amount=10, reason=GrowthReason.REVIEW, reference="O1")  # not the payment's

    steps = [growth_reverse_for_refund(member_id=member.pk, reference="O1", paid_fen=paid, refunded_total_fen=total,
                                       reversal_reference=f"RF{i}")
             for i, total in enumerate((5000, 15000, 19999))]
    repeat = growth_reverse_for_refund(member_id=member.pk, reference="O1", paid_fen=paid, refunded_total_fen=19999,
                                       reversal_reference="RF2")

    # keeps ⌊199 × 14999 / 19999⌋ = 149, then ⌊199 × 4999 / 19999⌋ = 49, then 0
    assert [s.delta for s in steps] == [-50, -100, -49]
    assert (repeat.created, repeat.delta) == (False, -49)
    assert growth_of(member)[0] == 10


def test_a_refund_share_does_not_change_when_the_rule_changes_after_the_award(member):
    growth_award(member_id=member.pk, amount=growth_for_payment(paid_fen=10000), reason=PURCHASE, reference="O1")
    GrowthRule.objects.filter(pk=1).update(per_yuan=3)
    change = growth_reverse_for_refund(member_id=member.pk, reference="O1", paid_fen=10000, refunded_total_fen=5000,
                                       reversal_reference="RF1")
    assert (change.delta, change.growth) == (-50, 50)


@pytest.mark.parametrize(("paid", "refunded"), [(0, 100), (100, 0), (-1, 1)])
def test_a_refund_share_with_nonsense_amounts_is_refused(member, paid, refunded):
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")
    with pytest.raises(ValidationFailed):
        growth_reverse_for_refund(member_id=member.pk, reference="O1", paid_fen=paid, refunded_total_fen=refunded,
                                  reversal_reference="RF1")
    assert growth_of(member)[0] == 100


# --- operator adjustments -------------------------------------------------------------------------------


def test_an_operator_adjustment_records_who_and_why_and_moves_the_tier(member, admin_user):
    up = growth_adjust(member_id=member.pk, delta=5000, note="补偿", operator=admin_user)
    down = growth_adjust(member_id=member.pk, delta=-4500, note="撤销补偿", operator=admin_user)

    assert (up.growth, down.growth) == (5000, 500)
    assert history(member) == [(None, "黄金会员", 5000), ("黄金会员", "普通会员", 500)]
    rows = list(GrowthEntry.objects.filter(member=member).order_by("id").values_list(
        "reason", "delta", "note", "operator_id"))
    assert rows == [(GrowthReason.ADJUST, 5000, "补偿", admin_user.pk), (GrowthReason.ADJUST, -4500, "撤销补偿",
                                                                         admin_user.pk)]


@pytest.mark.parametrize(("delta", "note", "code"), [
    (-1, "扣减", "growth_would_be_negative"), (0, "无", "invalid_growth_amount"),
    (5, " ", "growth_adjust_note_required"),
])
def test_an_adjustment_that_makes_no_sense_is_refused(member, admin_user, delta, note, code):
    with pytest.raises(ValidationFailed) as refused:
        growth_adjust(member_id=member.pk, delta=delta, note=note, operator=admin_user)
    assert refused.value.code == code
    assert growth_of(member) == (0, None)
    assert not GrowthEntry.objects.exists()


# --- tiers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("growth", "required", "allowed"), [
    (0, None, False), (1000, None, False), (5000, None, True), (15000, None, True),
    (5000, 2, True), (5000, 3, False), (15000, 3, True), (1000, 1, False),  # 白银 has no early access
])
def test_early_access_follows_the_tier_benefit_and_the_required_level(db, growth, required, allowed):
    member = MemberFactory.create(growth=growth)  # tier not stored yet: it follows the growth
    assert member_may_buy_early(member_id=member.pk, required_tier_level=required) is allowed


def test_early_access_is_refused_when_the_tier_loses_the_benefit(db):
    member = MemberFactory.create(growth=6000, tier=tier("黄金会员"))
    Tier.objects.filter(name="黄金会员").update(early_access=False)
    assert member_may_buy_early(member_id=member.pk, required_tier_level=None) is False


def test_recompute_moves_members_after_operators_change_the_thresholds(db):
    silver = MemberFactory.create(growth=1500, tier=tier("白银会员"))
    gold = MemberFactory.create(growth=6000, tier=tier("黄金会员"))
    untouched = MemberFactory.create(growth=100, tier=tier("普通会员"))
    Tier.objects.filter(name="白银会员").update(min_growth=2000)
    Tier.objects.filter(name="黄金会员").update(min_growth=4000)

    moved = member_tiers_recompute(batch_size=1)
    again = member_tiers_recompute()

    assert (moved, again) == (1, 0)
    assert [growth_of(m)[1] for m in (silver, gold, untouched)] == ["普通会员", "黄金会员", "普通会员"]
    assert history(silver) == [("白银会员", "普通会员", 1500)]


def test_the_overview_shows_the_tier_the_next_one_and_recent_entries(member):
    growth_award(member_id=member.pk, amount=1200, reason=PURCHASE, reference="O1")
    member.refresh_from_db()
    overview = member_growth_overview(member=member)
    assert overview.tier is not None and overview.next_tier is not None
    assert (overview.growth, overview.tier.name, overview.next_tier.name, overview.growth_to_next) == (
        1200, "白银会员", "黄金会员", 3800)
    assert [t.name for t in overview.tiers] == ["普通会员", "白银会员", "黄金会员", "钻石会员"]
    assert [e.delta for e in overview.recent] == [1200]


# --- concurrency -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_award_add_growth_once():
    member = MemberFactory.create()

    results = run_concurrently(lambda i: growth_award(member_id=member.pk, amount=1000, reason=PURCHASE,
                                                      reference="O-race"), 6)

    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert growth_of(member) == (1000, "白银会员")
    assert GrowthEntry.objects.filter(member=member).count() == 1
    assert TierChange.objects.filter(member=member).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_partial_refunds_take_back_at_most_the_award():
    member = MemberFactory.create()
    growth_award(member_id=member.pk, amount=100, reason=PURCHASE, reference="O1")

    results = run_concurrently(lambda i: growth_reverse(member_id=member.pk, reference="O1", amount=30,
                                                        reversal_reference=f"RF{i}"), 6)

    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.delta for r in results) == [-30, -30, -30, -10, 0, 0]
    assert growth_of(member)[0] == 0
    assert sum(GrowthEntry.objects.filter(member=member).values_list("delta", flat=True)) == 0
