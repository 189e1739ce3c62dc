"""Handing coupons to members: the one grant primitive every way of issuing goes through.

`coupon_grant()` checks eligibility, then takes the member's quota and the template's stock and
budget with conditional UPDATEs (the limits are WHERE clauses, never read-modify-write), then
inserts the coupon and its ledger row — all or nothing. Automatic issues pass an `issue_key`,
which is unique on Coupon, so a repeat returns the first coupon.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Value, When, prefetch_related_objects
from django.utils import timezone

from campaigns.errors import (
    CouponBudgetExhausted,
    CouponDailyLimitReached,
    CouponLimitReached,
    CouponNotClaimable,
    CouponSoldOut,
)
from campaigns.models import Coupon, CouponEvent, CouponQuota, CouponStatus, CouponTemplate, Validity
from core.db import require_transaction
from core.tracking import track
from members.models import Member, SegmentMember

# A template's fields that say how many more coupons it may issue (coupon_room).
STOCK_FIELDS = ("total_quantity", "issued_count", "budget_fen", "issued_value_fen", "redeemed_value_fen")

# Why a member may not claim a template: code → message. Also used to explain the coupon centre.
INELIGIBLE: dict[str, str] = {
    "coupon_inactive": "优惠券已停用",
    "coupon_claim_not_started": "未到领取时间",
    "coupon_claim_ended": "领取已结束",
    "coupon_new_customer_only": "仅限新客领取",
    "coupon_tier_restricted": "会员等级不符合领取条件",
    "coupon_segment_restricted": "不在本券的活动人群内",
}


def coupon_validity(*, template: CouponTemplate, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[valid_from, valid_until) of a coupon of `template` claimed at `now`."""
    if template.validity == Validity.FIXED:
        assert template.valid_from is not None and template.valid_until is not None
        return template.valid_from, template.valid_until
    days = template.valid_days or 1
    # N days from claim: to the end of the Nth Shanghai day (claimed today counts as day 1).
    last_day = timezone.localdate(now) + dt.timedelta(days=days - 1)
    end = timezone.make_aware(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min))
    return now, end


def coupon_ineligibility(*, template: CouponTemplate, member: Member, now: dt.datetime,
                         check_window: bool = True, member_segment_ids: set[int] | None = None) -> str | None:
    """The code of the first rule that stops `member` claiming `template`, or None.

    Limits, stock and budget are not checked here: they are taken atomically by coupon_grant().
    Automatic issues (gifts, targeted) pass check_window=False: the claim window is for claims.
    Reads `template.tiers` / `template.segments` (prefetch them for many templates); a caller
    that already knows which segments the member is in passes `member_segment_ids` and saves
    the query.
    """
    reason = coupon_window_ineligibility(template=template, now=now, check_window=check_window)
    if reason:
        return reason
    if template.new_customer_only and member.paid_order_count > 0:
        return "coupon_new_customer_only"
    tier_ids = {t.pk for t in template.tiers.all()}
    if tier_ids and member.tier_id not in tier_ids:
        return "coupon_tier_restricted"
    segment_ids = {s.pk for s in template.segments.all()}
    if segment_ids:
        if member_segment_ids is None:
            inside = SegmentMember.objects.filter(member=member, segment_id__in=segment_ids).exists()
        else:
            inside = bool(segment_ids & member_segment_ids)
        if not inside:
            return "coupon_segment_restricted"
    return None


def coupon_window_ineligibility(*, template: CouponTemplate, now: dt.datetime, check_window: bool = True) -> str | None:
    """The rules that hold for everyone (active, claim window, a fixed validity not yet over), or None."""
    if not template.is_active:
        return "coupon_inactive"
    if check_window and template.claim_starts_at and now < template.claim_starts_at:
        return "coupon_claim_not_started"
    if check_window and template.claim_ends_at and now >= template.claim_ends_at:
        return "coupon_claim_ended"
    if template.validity == Validity.FIXED and template.valid_until and now >= template.valid_until:
        return "coupon_claim_ended"
    return None


@dataclass(frozen=True)
class Grant:
    coupon: Coupon
    created: bool  # False: the issue_key had already been used, this is the first coupon


def coupon_grant(*, template: CouponTemplate, member: Member, source: str, issue_key: str | None = None,
                 channel_id: int | None = None, targeted_issue_id: int | None = None,
                 now: dt.datetime | None = None, check_window: bool = True) -> Grant:
    """Give `member` one coupon of `template`, or raise why not. All or nothing.

    Runs in the caller's transaction if there is one (a savepoint), else its own. Takes the
    member's quota row, then the template row (per-member and per-day limits, total quantity,
    budget: each a conditional UPDATE whose row count is checked). Idempotent per `issue_key`,
    also under concurrency: a grant racing another with the same key returns the winner's coupon
    (created=False) instead of the limit error it would otherwise meet.
    """
    now = now or timezone.now()
    if issue_key:
        existing = Coupon.objects.filter(issue_key=issue_key).first()
        if existing is not None:
            return Grant(existing, False)
    reason = coupon_ineligibility(template=template, member=member, now=now, check_window=check_window)
    if reason:
        raise CouponNotClaimable(INELIGIBLE[reason], code=reason)
    valid_from, valid_until = coupon_validity(template=template, now=now)
    try:
        with transaction.atomic():
            _quota_take(template=template, member_id=member.pk, today=timezone.localdate(now))
            _stock_take(template)
            coupon = Coupon.objects.create(
                template=template, member=member, valid_from=valid_from, valid_until=valid_until,
                source=source, issue_key=issue_key, channel_id=channel_id, targeted_issue_id=targeted_issue_id)
            CouponEvent.objects.create(coupon=coupon, action=CouponEvent.Action.ISSUED,
                                       reference=(issue_key or source)[:64], amount_fen=template.face_value_fen)
    except (IntegrityError, CouponLimitReached, CouponDailyLimitReached, CouponSoldOut, CouponBudgetExhausted):
        # A concurrent grant with the same key may have won: it either made our insert fail
        # (unique issue_key) or, when it took the last of a limit we were waiting on, made our
        # conditional UPDATE find nothing. Either way it has committed by now: a retried
        # request gets the first coupon, not an error.
        if issue_key:
            existing = Coupon.objects.filter(issue_key=issue_key).first()
            if existing is not None:
                return Grant(existing, False)
        raise
    track("coupon_issued", member_id=member.pk,
          properties={"template_id": template.pk, "source": source, "channel_id": channel_id})
    return Grant(coupon, True)


def _quota_take(*, template: CouponTemplate, member_id: int, today: dt.date) -> None:
    CouponQuota.objects.bulk_create([CouponQuota(template=template, member_id=member_id)], ignore_conflicts=True)
    condition = Q(claimed_total__lt=template.per_member_limit)
    if template.per_day_limit:
        condition &= ~Q(day=today) | Q(day__isnull=True) | Q(claimed_on_day__lt=template.per_day_limit)
    # Every expression in an UPDATE sees the row as it was, so `day` here is yesterday's day.
    updated = CouponQuota.objects.filter(Q(template=template, member_id=member_id) & condition).update(
        claimed_total=F("claimed_total") + 1,
        claimed_on_day=Case(When(day=today, then=F("claimed_on_day") + 1), default=Value(1)),
        day=today,
    )
    if updated:
        return
    quota = CouponQuota.objects.get(template=template, member_id=member_id)
    if quota.claimed_total >= template.per_member_limit:
        raise CouponLimitReached(detail={"per_member_limit": template.per_member_limit})
    raise CouponDailyLimitReached(detail={"per_day_limit": template.per_day_limit})


def _stock_take(template: CouponTemplate) -> None:
    face = template.face_value_fen
    condition = Q(pk=template.pk)
    if template.total_quantity is not None:
        condition &= Q(issued_count__lt=F("total_quantity"))
    if template.budget_fen is not None:
        condition &= Q(issued_value_fen__lte=F("budget_fen") - face) & Q(redeemed_value_fen__lt=F("budget_fen"))
    updated = CouponTemplate.objects.filter(condition).update(
        issued_count=F("issued_count") + 1, issued_value_fen=F("issued_value_fen") + face)
    if updated:
        return
    fresh = CouponTemplate.objects.get(pk=template.pk)
    if fresh.total_quantity is not None and fresh.issued_count >= fresh.total_quantity:
        raise CouponSoldOut()
    raise CouponBudgetExhausted(detail={"budget_fen": fresh.budget_fen})


def coupon_quotas_lock(*, template: CouponTemplate, member_ids: Sequence[int],
                       today: dt.date) -> list[tuple[int, str]]:
    """Lock the members' quota rows of `template` (made when missing), in member order — the
    order every claim takes one in, so no deadlock with a claim — and say for each member, in that
    order, why they may not have one more ("coupon_limit_reached", "coupon_daily_limit_reached")
    or "" when they may. Call inside the transaction that grants."""
    quota = CouponQuota._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quota} (template_id, member_id, claimed_total, claimed_on_day) "
                       "SELECT %s, unnest(%s::bigint[]), 0, 0 ON CONFLICT (template_id, member_id) DO NOTHING",
                       [template.pk, list(member_ids)])
        cursor.execute(f"SELECT member_id, claimed_total, day, claimed_on_day FROM {quota} "
                       "WHERE template_id = %s AND member_id = ANY(%s::bigint[]) ORDER BY member_id FOR UPDATE",
                       [template.pk, list(member_ids)])
        quotas = cursor.fetchall()
    return [(member_id, "coupon_limit_reached" if total >= template.per_member_limit
             else "coupon_daily_limit_reached" if template.per_day_limit and day == today
             and on_day >= template.per_day_limit else "")
            for member_id, total, day, on_day in quotas]


def coupon_grant_many(*, template: CouponTemplate, members: list[Member], source: str, issue_keys: dict[int, str],
                      now: dt.datetime, check_window: bool = False) -> dict[int, Grant | str]:
    """coupon_grant() for many members at once, in the caller's transaction and a fixed number of
    statements: member id → its Grant, or the code of why it got none (the codes coupon_grant()
    raises: eligibility, coupon_limit_reached / coupon_daily_limit_reached, coupon_sold_out /
    coupon_budget_exhausted).

    `issue_keys` gives every member its unique issue key: a key that already has a coupon answers
    that coupon (created=False), so a repeat grants nothing twice. The same rules and locks as
    coupon_grant(), in its order: the quota rows locked in member order, then the template's
    stock and budget taken for all with one conditional UPDATE (what they cannot cover goes to the
    members last in id order); then the coupons and their ISSUED ledger rows in one INSERT.
    """
    require_transaction("coupon_grant_many()")
    prefetch_related_objects([template], "tiers", "segments")
    result: dict[int, Grant | str] = {}
    by_key = {c.issue_key: c for c in Coupon.objects.filter(issue_key__in=[issue_keys[m.pk] for m in members])
              .select_related("template")}
    for member in members:
        existing = by_key.get(issue_keys[member.pk])
        if existing is not None:
            result[member.pk] = Grant(existing, False)
    wanted = sorted((m for m in members if m.pk not in result), key=lambda m: m.pk)
    window = coupon_window_ineligibility(template=template, now=now, check_window=check_window)
    segment_ids = {s.pk for s in template.segments.all()}
    inside = set(SegmentMember.objects.filter(member_id__in=[m.pk for m in wanted], segment_id__in=segment_ids)
                 .values_list("member_id", flat=True)) if segment_ids and not window else set()
    eligible: list[int] = []
    for member in wanted:
        reason = window or coupon_ineligibility(template=template, member=member, now=now, check_window=check_window,
                                                member_segment_ids=segment_ids if member.pk in inside else set())
        if reason:
            result[member.pk] = reason
        else:
            eligible.append(member.pk)
    if not eligible:
        return result
    today = timezone.localdate(now)
    under = []
    for member_id, reason in coupon_quotas_lock(template=template, member_ids=eligible, today=today):
        if reason:
            result[member_id] = reason
        else:
            under.append(member_id)
    taken = coupon_stock_take_many(template, len(under))
    if taken < len(under):
        fresh = CouponTemplate.objects.get(pk=template.pk)
        short = ("coupon_sold_out" if fresh.total_quantity is not None and fresh.issued_count >= fresh.total_quantity
                 else "coupon_budget_exhausted")
        result.update(dict.fromkeys(under[taken:], short))
    winners = under[:taken]
    if not winners:
        return result
    valid_from, valid_until = coupon_validity(template=template, now=now)
    with connection.cursor() as cursor:
        cursor.execute(_GRANT_MANY, {
            "template": template.pk, "status": CouponStatus.AVAILABLE, "valid_from": valid_from,
            "valid_until": valid_until, "source": source, "now": now, "members": winners,
            "keys": [issue_keys[m] for m in winners], "action": CouponEvent.Action.ISSUED,
            "face": template.face_value_fen})
        coupon_ids = dict(cursor.fetchall())
    CouponQuota.objects.filter(template=template, member_id__in=winners).update(
        claimed_total=F("claimed_total") + 1,
        claimed_on_day=Case(When(day=today, then=F("claimed_on_day") + 1), default=Value(1)),
        day=today)
    coupons = Coupon.objects.in_bulk(list(coupon_ids.values()))
    for coupon in coupons.values():
        coupon.template = template
    for member_id in winners:
        result[member_id] = Grant(coupons[coupon_ids[member_id]], True)
        track("coupon_issued", member_id=member_id,
              properties={"template_id": template.pk, "source": source, "channel_id": None})
    return result


# The coupons of coupon_grant_many() and their ISSUED ledger rows (reference: the issue key, as
# coupon_grant() writes it), in one statement; returns (member id, coupon id) pairs.
_GRANT_MANY = f"""
WITH wanted AS (SELECT * FROM unnest(%(members)s::bigint[], %(keys)s::text[]) AS w (member_id, issue_key)),
issued AS (
    INSERT INTO {Coupon._meta.db_table} (template_id, member_id, status, valid_from, valid_until, source, issue_key,
                                         discount_fen, claimed_at)
    SELECT %(template)s, member_id, %(status)s, %(valid_from)s, %(valid_until)s, %(source)s, issue_key, 0, %(now)s
    FROM wanted
    RETURNING id, member_id, issue_key),
logged AS (
    INSERT INTO {CouponEvent._meta.db_table} (coupon_id, action, reference, amount_fen, created_at)
    SELECT id, %(action)s, LEFT(issue_key, 64), %(face)s, %(now)s FROM issued)
SELECT member_id, id FROM issued
"""


def coupon_stock_take_many(template: CouponTemplate, wanted: int) -> int:
    """Take up to `wanted` coupons of total quantity and budget; returns how many were taken.

    One conditional UPDATE for the number that fits (`issued_count <= total - k`, and the
    budget likewise), its row count checked; if a concurrent claim took some meanwhile it
    finds no row, and the number is worked out again from the fresh row.
    """
    face = template.face_value_fen
    while wanted > 0:
        fresh = CouponTemplate.objects.values(*STOCK_FIELDS).get(pk=template.pk)
        take = min(wanted, coupon_room(fresh, face))
        if take <= 0:
            return 0
        condition = Q(pk=template.pk)
        if fresh["total_quantity"] is not None:
            condition &= Q(issued_count__lte=F("total_quantity") - take)
        if fresh["budget_fen"] is not None:
            condition &= Q(issued_value_fen__lte=F("budget_fen") - take * face) & Q(
                redeemed_value_fen__lt=F("budget_fen"))
        if CouponTemplate.objects.filter(condition).update(
                issued_count=F("issued_count") + take, issued_value_fen=F("issued_value_fen") + take * face):
            return take
    return 0


def coupon_room(row: dict[str, Any], face: int) -> int:
    """How many more coupons the template's total quantity and budget allow (a large number: no
    limit); `row` holds the template's stock fields (STOCK_FIELDS)."""
    room = 1 << 62
    if row["total_quantity"] is not None:
        room = min(room, row["total_quantity"] - row["issued_count"])
    if row["budget_fen"] is not None:
        if row["redeemed_value_fen"] >= row["budget_fen"]:
            return 0
        if face > 0:
            room = min(room, (row["budget_fen"] - row["issued_value_fen"]) // face)
    return room
