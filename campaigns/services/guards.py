"""Abuse guards of the social campaigns: caps counted per member and per device, the operator's
block, the devices each member was seen on.

A cap is the WHERE clause of a conditional UPDATE on an ActionAllowance row (key, window), never a
count read first: two requests at once can never both take the last unit. The rows are taken
before any shared campaign row (docs/architecture.md, lock order: the member's own allowance
before the shared row).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F
from django.utils import timezone

from campaigns.errors import MemberBlockedFromCampaigns
from campaigns.models import ActionAllowance, DeviceSighting
from core.db import require_transaction
from members.models import Member

ALL_TIME = "all"


def day_window(at: dt.datetime | None = None) -> str:
    """The Shanghai business day of `at` (default now) as an allowance window: "2026-12-06"."""
    return timezone.localdate(at or timezone.now()).isoformat()


def allowance_take(*, key: str, window: str, limit: int) -> bool:
    """Use one unit of `key` in `window` if fewer than `limit` were used. Returns whether it was taken.

    Runs in the caller's transaction (it is given back when that rolls back): the row is inserted
    if missing, then a conditional UPDATE (count < limit) whose row count is checked. Locks the
    allowance row until the caller commits, so concurrent takers queue on it.
    """
    require_transaction("allowance_take")
    if limit <= 0:
        return False
    ActionAllowance.objects.bulk_create([ActionAllowance(key=key, window=window)], ignore_conflicts=True)
    return ActionAllowance.objects.filter(key=key, window=window, count__lt=limit).update(
        count=F("count") + 1) == 1


def allowance_used(*, key: str, window: str) -> int:
    """How many units of `key` were used in `window` (0 when none)."""
    return ActionAllowance.objects.filter(key=key, window=window).values_list("count", flat=True).first() or 0


def member_check_not_blocked(*, member_id: int) -> None:
    """MemberBlockedFromCampaigns (403 member_blocked) when an operator blocked the member, or the
    account is deleted: such a member may not launch, help, invite or earn. One query."""
    row = Member.objects.filter(pk=member_id).values("is_blocked", "deleted_at").first()
    if row is None or row["is_blocked"] or row["deleted_at"] is not None:
        raise MemberBlockedFromCampaigns(detail={"member_id": member_id})


def device_seen(*, device_id: str, member_id: int) -> None:
    """Remember that `member_id` used `device_id` (the mini-program's own device id); once per pair."""
    if device_id:
        DeviceSighting.objects.bulk_create([DeviceSighting(device_id=device_id[:64], member_id=member_id)],
                                           ignore_conflicts=True)
