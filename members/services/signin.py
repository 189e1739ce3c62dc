"""Sign-in (签到): once per member per Shanghai day, a streak, a reward by streak day.

The database enforces "once a day" (a UNIQUE (member, day) constraint): of two taps at the same
moment, the second insert waits for the first to commit and then fails, and its whole
transaction — reward included — is rolled back. No check-then-insert in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.tracking import track
from members.errors import AlreadySignedIn
from members.models import GrowthReason, Member, PointsKind, SignIn, SignInReward
from members.services.growth import growth_award, growth_rule_current
from members.services.points import points_award


@dataclass(frozen=True)
class Reward:
    streak_day: int  # the streak this reward is for
    points: int
    growth: int


@dataclass(frozen=True)
class SignInResult:
    signin: SignIn
    reward: Reward
    tier_changed: bool


def signin_reward_for(*, streak: int) -> Reward:
    """The reward for the `streak`-th consecutive day: the table row for that day, or the last row
    before it (so past the end of the table the last row repeats; a gap repeats the row before it).
    A row's empty growth means the growth rule's per-sign-in value."""
    row = SignInReward.objects.filter(streak_day__lte=streak).order_by("-streak_day").first()
    points = row.points if row else 0
    growth = row.growth if row and row.growth is not None else growth_rule_current().per_signin
    return Reward(streak_day=streak, points=points, growth=growth)


def signin_today(*, member: Member, now: dt.datetime | None = None) -> SignInResult:
    """Sign the member in for today (the Shanghai calendar day of `now`) and give the reward.

    The streak is yesterday's streak + 1, or 1 after a missed day. Points go through
    points_award (kind 签到, reference "signin:<day>"), growth through growth_award (same
    reference): both exactly once per day by their own ledgers too. One durable transaction:
    a second sign-in the same day raises AlreadySignedIn (409) and changes nothing.
    """
    now = now or timezone.now()
    day = timezone.localdate(now)
    with transaction.atomic(durable=True):
        yesterday = SignIn.objects.filter(member=member, day=day - dt.timedelta(days=1)).values_list(
            "streak", flat=True).first()
        streak = (yesterday or 0) + 1
        reward = signin_reward_for(streak=streak)
        try:
            with transaction.atomic():
                signin = SignIn.objects.create(member=member, day=day, streak=streak, points=reward.points,
                                               growth=reward.growth)
        except IntegrityError:
            raise AlreadySignedIn(detail={"day": day.isoformat()}) from None
        reference = f"signin:{day.isoformat()}"
        if reward.points:
            points_award(member_id=member.pk, points=reward.points, kind=PointsKind.SIGN_IN, reference=reference)
        change = growth_award(member_id=member.pk, amount=reward.growth, reason=GrowthReason.SIGNIN,
                              reference=reference)
        track("member_signed_in", member_id=member.pk,
              properties={"day": day.isoformat(), "streak": streak, "points": reward.points,
                          "growth": reward.growth})
    return SignInResult(signin=signin, reward=reward, tier_changed=change.tier_changed)


# ---------------------------------------------------------------------------------------------
# Reads


@dataclass(frozen=True)
class SignInCalendar:
    month: dt.date  # the first day of the month shown
    days: list[dt.date]  # the days of that month the member signed in, in order
    today: dt.date
    signed_today: bool
    streak: int  # the current streak: today's, else yesterday's (still alive), else 0
    next_reward: Reward  # what the next sign-in gives (today's, or tomorrow's if signed today)


def signin_calendar(*, member: Member, month: dt.date | None = None, now: dt.datetime | None = None) -> SignInCalendar:
    """The member's sign-ins in `month` (default: this Shanghai month), the live streak and the
    next reward. Two queries plus the reward lookup, whatever the month."""
    today = timezone.localdate(now or timezone.now())
    first = (month or today).replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    days = list(SignIn.objects.filter(member=member, day__gte=first, day__lt=following)
                .order_by("day").values_list("day", flat=True))
    recent = dict(SignIn.objects.filter(member=member, day__gte=today - dt.timedelta(days=1), day__lte=today)
                  .values_list("day", "streak"))
    signed_today = today in recent
    streak = recent.get(today) or recent.get(today - dt.timedelta(days=1)) or 0
    next_reward = signin_reward_for(streak=streak + 1)
    return SignInCalendar(month=first, days=days, today=today, signed_today=signed_today, streak=streak,
                          next_reward=next_reward)
