"""Reads about coupons for the mini-program: the coupon centre, a member's coupons, one coupon.

    coupon_centre_templates(now=…)                          -> QuerySet[CouponTemplate]   (to paginate)
    coupon_centre_entries(templates=[…], member=…|None, now=…) -> list[CentreEntry]        (one page)
    coupon_list_for_member(member=…, status="available", now=…) -> QuerySet[Coupon]
    coupon_detail_for_member(member=…, coupon_id=…)          -> Coupon (CouponNotFound otherwise)

Plus the texts shoppers read on a coupon: threshold_text() "满100可用" / "无门槛",
benefit_text() "减10元" / "8.5折，最高减20元" / "免运费", validity_text().
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.errors import CouponNotFound
from campaigns.models import Coupon, CouponKind, CouponQuota, CouponStatus, CouponTemplate, Validity
from campaigns.services.coupons import INELIGIBLE, coupon_ineligibility, coupon_window_ineligibility
from core.errors import ValidationFailed
from members.models import Member, SegmentMember

# --- texts ---------------------------------------------------------------------------------------


def yuan_text(fen: int) -> str:
    """Yuan without needless zeros: 10000 → "100", 1050 → "10.5", 1005 → "10.05"."""
    whole, cents = divmod(int(fen), 100)
    if not cents:
        return str(whole)
    return f"{whole}.{cents:02d}".rstrip("0")


def discount_text(pay_percent: int) -> str:
    """85 → "8.5折", 90 → "9折"."""
    tens, ones = divmod(pay_percent, 10)
    return f"{tens}折" if not ones else f"{tens}.{ones}折"


def threshold_text(template: CouponTemplate) -> str:
    """"满100可用", or "无门槛" when there is no threshold."""
    return f"满{yuan_text(template.threshold_fen)}可用" if template.threshold_fen > 0 else "无门槛"


def benefit_text(template: CouponTemplate) -> str:
    """What the coupon takes off: "减10元", "8.5折，最高减20元", "免运费", "运费减5元"."""
    if template.kind == CouponKind.DISCOUNT:
        text = discount_text(template.pay_percent or 100)
        if template.max_discount_fen:
            text += f"，最高减{yuan_text(template.max_discount_fen)}元"
        return text
    if template.kind == CouponKind.FREIGHT:
        return f"运费减{yuan_text(template.amount_fen)}元" if template.amount_fen else "免运费"
    return f"减{yuan_text(template.amount_fen)}元"


def _day_text(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y.%m.%d")


def validity_text(template: CouponTemplate) -> str:
    """"领取后7天内有效", or the fixed dates "2026.11.01-2026.11.11" (the last day it can be used)."""
    if template.validity == Validity.FIXED and template.valid_from and template.valid_until:
        last = template.valid_until - dt.timedelta(microseconds=1)
        return f"{_day_text(template.valid_from)}-{_day_text(last)}"
    return f"领取后{template.valid_days or 1}天内有效"


# --- the coupon centre ---------------------------------------------------------------------------


class CentreState(StrEnum):
    CLAIMABLE = "claimable"
    CLAIMED = "claimed"
    SOLD_OUT = "sold_out"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NOT_ELIGIBLE = "not_eligible"


CENTRE_STATE_LABELS = {
    CentreState.CLAIMABLE: "立即领取",
    CentreState.CLAIMED: "已领取",
    CentreState.SOLD_OUT: "已抢光",
    CentreState.BUDGET_EXHAUSTED: "已发完",
    CentreState.NOT_ELIGIBLE: "不可领取",
}
DAILY_LIMIT_REASON = "coupon_daily_limit_reached"
REASON_MESSAGES = {**INELIGIBLE, DAILY_LIMIT_REASON: "今日领取已达上限，明天再来"}


@dataclass(frozen=True)
class CentreEntry:
    """A template in the coupon centre as one caller sees it.

    `claimed_count` is None for an anonymous caller. `remaining_percent` (0–100, for a progress
    bar) is None when neither the quantity nor the budget is limited; a template with anything
    left never shows 0.
    """

    template: CouponTemplate
    state: CentreState
    reason_code: str
    reason_message: str
    claimed_count: int | None
    remaining_quantity: int | None
    remaining_percent: int | None

    @property
    def state_label(self) -> str:
        return CENTRE_STATE_LABELS[self.state]


def coupon_centre_templates(*, now: dt.datetime) -> QuerySet[CouponTemplate]:
    """Templates the centre shows: active, shown in the centre, whose claim window (and fixed
    validity) has not ended. Not-yet-open ones are listed (as not eligible: 未到领取时间).
    Newest first; tiers and segments prefetched for the eligibility checks."""
    return (
        CouponTemplate.objects.filter(is_active=True, show_in_center=True)
        .filter(Q(claim_ends_at__isnull=True) | Q(claim_ends_at__gt=now))
        .exclude(validity=Validity.FIXED, valid_until__lte=now)
        .prefetch_related("tiers", "segments")
        .order_by("-id")
    )


def coupon_centre_entries(*, templates: Sequence[CouponTemplate], member: Member | None,
                          now: dt.datetime) -> list[CentreEntry]:
    """The state of each template for `member` (None: an anonymous caller, who sees states
    without member information). Two queries for a member whatever the number of templates
    (their quotas, their segments); none for an anonymous caller."""
    quotas: dict[int, CouponQuota] = {}
    member_segment_ids: set[int] = set()
    if member is not None and templates:
        template_ids = [t.pk for t in templates]
        quotas = {q.template_id: q for q in CouponQuota.objects.filter(member=member, template_id__in=template_ids)}
        segment_ids = {s.pk for t in templates for s in t.segments.all()}
        if segment_ids:
            member_segment_ids = set(SegmentMember.objects.filter(member=member, segment_id__in=segment_ids)
                                     .values_list("segment_id", flat=True))
    today = timezone.localdate(now)
    entries = []
    for template in templates:
        quota = quotas.get(template.pk)
        state, reason = _centre_state(template, member=member, quota=quota, today=today, now=now,
                                      member_segment_ids=member_segment_ids)
        remaining_quantity = (max(template.total_quantity - template.issued_count, 0)
                              if template.total_quantity is not None else None)
        entries.append(CentreEntry(
            template=template, state=state, reason_code=reason, reason_message=REASON_MESSAGES.get(reason, ""),
            claimed_count=(quota.claimed_total if quota else 0) if member is not None else None,
            remaining_quantity=remaining_quantity, remaining_percent=_remaining_percent(template)))
    return entries


def _centre_state(template: CouponTemplate, *, member: Member | None, quota: CouponQuota | None, today: dt.date,
                  now: dt.datetime, member_segment_ids: set[int]) -> tuple[CentreState, str]:
    # What the shopper most needs to know comes first: they already hold it (去使用), then
    # whether anyone can still get it, then whether they may.
    if quota is not None and quota.claimed_total >= template.per_member_limit:
        return CentreState.CLAIMED, ""
    if template.total_quantity is not None and template.issued_count >= template.total_quantity:
        return CentreState.SOLD_OUT, ""
    if _budget_exhausted(template):
        return CentreState.BUDGET_EXHAUSTED, ""
    if member is None:
        reason = coupon_window_ineligibility(template=template, now=now)
    else:
        reason = coupon_ineligibility(template=template, member=member, now=now,
                                      member_segment_ids=member_segment_ids)
    if reason:
        return CentreState.NOT_ELIGIBLE, reason
    if (template.per_day_limit and quota is not None and quota.day == today
            and quota.claimed_on_day >= template.per_day_limit):
        return CentreState.NOT_ELIGIBLE, DAILY_LIMIT_REASON
    return CentreState.CLAIMABLE, ""


def _budget_exhausted(template: CouponTemplate) -> bool:
    """The same test coupon_grant() makes: one more coupon would pass the budget, or redemptions reached it."""
    if template.budget_fen is None:
        return False
    return (template.issued_value_fen + template.face_value_fen > template.budget_fen
            or template.redeemed_value_fen >= template.budget_fen)


def _remaining_percent(template: CouponTemplate) -> int | None:
    shares: list[tuple[int, int]] = []  # (left, total)
    if template.total_quantity is not None:
        shares.append((template.total_quantity - template.issued_count, template.total_quantity))
    if template.budget_fen is not None:
        used = max(template.issued_value_fen, template.redeemed_value_fen)
        if _budget_exhausted(template):
            used = template.budget_fen
        shares.append((template.budget_fen - used, template.budget_fen))
    if not shares:
        return None
    percents = []
    for left, total in shares:
        left = max(left, 0)
        if total <= 0:
            percents.append(0)
            continue
        percent = left * 100 // total
        percents.append(1 if left > 0 and percent == 0 else percent)
    return min(percents)


# --- a member's coupons --------------------------------------------------------------------------


class MineStatus(StrEnum):
    AVAILABLE = "available"
    USED = "used"
    EXPIRED = "expired"


MINE_STATUS_LABELS = {MineStatus.AVAILABLE: "未使用", MineStatus.USED: "已使用", MineStatus.EXPIRED: "已过期"}


def coupon_list_for_member(*, member: Member, status: str, now: dt.datetime) -> QuerySet[Coupon]:
    """The member's coupons in one tab of 我的优惠券.

    available: not used and not past valid_until (even if the expiry job has not run yet), plus
    those an unpaid order holds (locked), soonest to expire first. used: newest use first.
    expired: marked expired, or available but past valid_until; latest expiry first.
    ValidationFailed (invalid_status) for another status.
    """
    if status not in {s.value for s in MineStatus}:
        raise ValidationFailed("status 须为 available、used 或 expired", code="invalid_status",
                               detail={"status": status})
    rows = Coupon.objects.filter(member=member).select_related("template")
    if status == MineStatus.AVAILABLE:
        return rows.filter(Q(status=CouponStatus.AVAILABLE, valid_until__gt=now)
                           | Q(status=CouponStatus.LOCKED)).order_by("valid_until", "id")
    if status == MineStatus.USED:
        return rows.filter(status=CouponStatus.USED).order_by("-used_at", "-id")
    return rows.filter(Q(status=CouponStatus.EXPIRED)
                       | Q(status=CouponStatus.AVAILABLE, valid_until__lte=now)).order_by("-valid_until", "-id")


def coupon_detail_for_member(*, member: Member, coupon_id: int) -> Coupon:
    """One of the member's coupons; CouponNotFound (404) for anyone else's or an unknown id."""
    coupon = Coupon.objects.filter(member=member, pk=coupon_id).select_related("template").first()
    if coupon is None:
        raise CouponNotFound(detail={"coupon_id": coupon_id})
    return coupon


def coupon_status_now(coupon: Coupon, *, now: dt.datetime) -> str:
    """The status a shopper should see: an available coupon past valid_until is expired
    whether or not the expiry job has run."""
    if coupon.status == CouponStatus.AVAILABLE and coupon.valid_until <= now:
        return CouponStatus.EXPIRED
    return coupon.status
