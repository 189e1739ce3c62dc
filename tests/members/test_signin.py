"""Sign-in: once per Shanghai day (a database constraint), streaks, the reward table, the calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from members.errors import AlreadySignedIn
from members.models import GrowthEntry, GrowthReason, Member, PointsEntry, PointsKind, SignIn, SignInReward
from members.services.signin import signin_calendar, signin_reward_for, signin_today
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory

SH = ZoneInfo("Asia/Shanghai")
# The migrated reward table: streak day → points (growth: the rule's 5 per sign-in).
POINTS = {1: 5, 2: 5, 3: 10, 4: 10, 5: 15, 6: 15, 7: 30}


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    """A moment in Shanghai time."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def state(member: Member) -> tuple[int, int, int]:
    member.refresh_from_db()
    return member.points_balance, member.growth, SignIn.objects.filter(member=member).count()


@pytest.fixture
def member(db) -> Member:
    return MemberFactory.create()


def test_the_first_sign_in_gives_the_first_reward_through_both_ledgers(member):
    result = signin_today(member=member, now=at(2026, 3, 1))

    assert (result.signin.day, result.signin.streak, result.signin.points, result.signin.growth) == (
        dt.date(2026, 3, 1), 1, 5, 5)
    assert state(member) == (5, 5, 1)
    points = PointsEntry.objects.get(member=member)
    growth = GrowthEntry.objects.get(member=member)
    assert (points.kind, points.delta, points.reference) == (PointsKind.SIGN_IN, 5, "signin:2026-03-01")
    assert (growth.reason, growth.delta, growth.reference) == (GrowthReason.SIGNIN, 5, "signin:2026-03-01")


def test_a_second_sign_in_the_same_day_is_a_409_and_changes_nothing(member):
    signin_today(member=member, now=at(2026, 3, 1, 8))

    with pytest.raises(AlreadySignedIn) as refused:
        signin_today(member=member, now=at(2026, 3, 1, 21))

    assert (refused.value.status, refused.value.code) == (409, "already_signed_in")
    assert state(member) == (5, 5, 1)
    assert PointsEntry.objects.filter(member=member).count() == 1


def test_the_seventh_day_gives_the_seventh_reward_and_the_eighth_repeats_the_last_row(member):
    results = [signin_today(member=member, now=at(2026, 3, 1) + dt.timedelta(days=i)) for i in range(9)]

    assert [r.signin.streak for r in results] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [r.signin.points for r in results] == [5, 5, 10, 10, 15, 15, 30, 30, 30]
    assert state(member) == (sum(POINTS.values()) + 60, 45, 9)


def test_a_missed_day_resets_the_streak(member):
    for day in (1, 2, 3):
        signin_today(member=member, now=at(2026, 3, day))
    after_gap = signin_today(member=member, now=at(2026, 3, 5))
    next_day = signin_today(member=member, now=at(2026, 3, 6))

    assert (after_gap.signin.streak, after_gap.signin.points) == (1, 5)
    assert (next_day.signin.streak, next_day.signin.points) == (2, 5)


def test_23_59_and_00_01_shanghai_are_two_days_though_the_same_utc_day(member):
    late = at(2026, 3, 1, 23, 59)
    early = at(2026, 3, 2, 0, 1)
    assert late.astimezone(dt.UTC).date() == early.astimezone(dt.UTC).date()  # both 2026-03-01 in UTC

    first = signin_today(member=member, now=late)
    second = signin_today(member=member, now=early)

    assert [(s.signin.day, s.signin.streak) for s in (first, second)] == [
        (dt.date(2026, 3, 1), 1), (dt.date(2026, 3, 2), 2)]


def test_00_01_and_23_59_shanghai_are_one_day_though_two_utc_days(member):
    early = at(2026, 3, 2, 0, 1)
    late = at(2026, 3, 2, 23, 59)
    assert early.astimezone(dt.UTC).date() != late.astimezone(dt.UTC).date()

    signin_today(member=member, now=early)
    with pytest.raises(AlreadySignedIn):
        signin_today(member=member, now=late)
    assert state(member)[2] == 1


def test_operators_reward_table_growth_and_gaps(member):
    SignInReward.objects.filter(streak_day=2).update(growth=50)
    SignInReward.objects.filter(streak_day__in=[3, 4]).delete()

    assert [(r.points, r.growth) for r in (signin_reward_for(streak=n) for n in (1, 2, 3, 4, 5, 99))] == [
        (5, 5), (5, 50), (5, 50), (5, 50), (15, 5), (30, 5)]


def test_an_empty_reward_table_still_counts_the_streak_and_the_rules_growth(member):
    SignInReward.objects.all().delete()
    result = signin_today(member=member, now=at(2026, 3, 1))
    assert (result.signin.points, result.signin.growth) == (0, 5)
    assert state(member) == (0, 5, 1)
    assert not PointsEntry.objects.filter(member=member).exists()


# --- the calendar --------------------------------------------------------------------------------


def test_the_calendar_shows_this_months_days_the_live_streak_and_the_next_reward(member):
    for day in (27, 28):
        signin_today(member=member, now=at(2026, 2, day))
    for day in (1, 2):
        signin_today(member=member, now=at(2026, 3, day))

    signed = signin_calendar(member=member, now=at(2026, 3, 2, 20))
    not_yet = signin_calendar(member=member, now=at(2026, 3, 3, 9))
    broken = signin_calendar(member=member, now=at(2026, 3, 4, 9))
    february = signin_calendar(member=member, month=dt.date(2026, 2, 1), now=at(2026, 3, 2, 20))

    assert (signed.month, signed.days, signed.signed_today, signed.streak) == (
        dt.date(2026, 3, 1), [dt.date(2026, 3, 1), dt.date(2026, 3, 2)], True, 4)
    assert (signed.next_reward.streak_day, signed.next_reward.points) == (5, 15)
    assert (not_yet.signed_today, not_yet.streak, not_yet.next_reward.streak_day) == (False, 4, 5)
    assert (broken.signed_today, broken.streak, broken.next_reward.streak_day, broken.next_reward.points) == (
        False, 0, 1, 5)
    assert february.days == [dt.date(2026, 2, 27), dt.date(2026, 2, 28)]


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_double_tapped_sign_in_gives_one_reward():
    member = MemberFactory.create()
    now = timezone.now()

    results = run_concurrently(lambda i: signin_today(member=Member.objects.get(pk=member.pk), now=now), 4)

    refused = [r for r in results if isinstance(r, AlreadySignedIn)]
    assert len(refused) == 3, results
    assert state(member) == (5, 5, 1)
    assert PointsEntry.objects.filter(member=member).count() == 1
    assert GrowthEntry.objects.filter(member=member).count() == 1


# --- the API ---------------------------------------------------------------------------------------------


def test_api_sign_in_then_again_then_the_calendar(shopper):
    first = shopper.client.post("/api/v1/me/signin")
    again = shopper.client.post("/api/v1/me/signin")
    calendar = shopper.client.get("/api/v1/me/signin/calendar")

    today = timezone.localdate()
    assert first.status_code == 201
    assert first.json() == {"day": today.isoformat(), "streak": 1, "points": 5, "growth": 5, "tier_changed": True}
    assert again.status_code == 409
    assert again.json()["code"] == "already_signed_in"
    assert calendar.status_code == 200
    assert calendar.json() == {
        "month": f"{today:%Y-%m}", "days": [today.isoformat()], "today": today.isoformat(), "signed_today": True,
        "streak": 1, "next_reward": {"streak_day": 2, "points": 5, "growth": 5}}
    assert state(shopper.member) == (5, 5, 1)


def test_api_calendar_of_another_month(shopper):
    signin_today(member=shopper.member, now=at(2025, 12, 31, 23, 59))
    response = shopper.client.get("/api/v1/me/signin/calendar", {"month": "2025-12"})
    assert response.status_code == 200
    assert response.json()["days"] == ["2025-12-31"]


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "abc", "1999-12", "2026-00"])
def test_api_calendar_refuses_a_malformed_month(shopper, month):
    response = shopper.client.get("/api/v1/me/signin/calendar", {"month": month})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_month"


def test_api_sign_in_needs_a_login(api_client, db):
    response = api_client.post("/api/v1/me/signin")
    assert response.status_code == 401
    assert not SignIn.objects.exists()
