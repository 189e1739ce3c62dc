"""Helpers for the shop's loyalty checkout tests: tiers, paid cards, the stacking policy and points,
each set up through the members models and services the way the members issue defines them.

Transactional tests flush the migrated tiers, so `tier()` (re)creates the default tier it names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from members.models import CardPlan, Member, MemberCard, MemberPriceSettings, PointsEntry, PointsKind, Tier
from members.services.points import points_award

# level: (name, min growth, discount %, free shipping above (fen), early access) — the defaults of
# members/migrations/0003_default_tiers.py
DEFAULT_TIERS = {
    0: ("普通会员", 0, 100, None, False),
    1: ("白银会员", 1000, 98, None, False),
    2: ("黄金会员", 5000, 95, 9900, True),
    3: ("钻石会员", 15000, 90, 0, True),
}


def tier(level: int, **changes) -> Tier:
    """The default tier of `level` as the migrations seed it, with `changes` applied."""
    name, growth, discount, free_above, early = DEFAULT_TIERS[level]
    row, _ = Tier.objects.update_or_create(level=level, defaults={
        "name": name, "min_growth": growth, "discount_percent": discount,
        "free_shipping_threshold_fen": free_above, "early_access": early, **changes})
    return row


def put_in_tier(member: Member, level: int, **changes) -> Tier:
    row = tier(level, **changes)
    Member.objects.filter(pk=member.pk).update(tier=row, growth=row.min_growth)
    return row


def give_card(member: Member, *, discount_percent: int = 90) -> MemberCard:
    """An active paid card (started yesterday, ends in 30 days) with `discount_percent`."""
    plan, _ = CardPlan.objects.get_or_create(name=f"测试卡{discount_percent}",
                                             defaults={"price_fen": 1990, "days": 31,
                                                       "discount_percent": discount_percent})
    now = timezone.now()
    return MemberCard.objects.create(member=member, plan=plan, starts_at=now - dt.timedelta(days=1),
                                     ends_at=now + dt.timedelta(days=30))


def price_policy(policy: str, floor: str = "1.00") -> None:
    MemberPriceSettings.objects.update_or_create(pk=1, defaults={"policy": policy, "floor": Decimal(floor)})


def give_points(member: Member, points: int, reference: str = "seed") -> None:
    points_award(member_id=member.pk, points=points, kind=PointsKind.ADJUSTMENT, reference=f"{reference}-{member.pk}")


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def ledger_sum(member: Member) -> int:
    return sum(PointsEntry.objects.filter(member=member).values_list("delta", flat=True))
