"""Claiming a coupon in the coupon centre (领券中心).

    coupon_claim(member=…, template_id=…)                          -> Coupon
    coupon_claim_keyed(member=…, template_id=…, idempotency_key=…) -> Grant (.coupon, .created)

Everything that limits a claim (per member, per day, total quantity, budget) is taken by
`coupon_grant()` with conditional UPDATEs; this module decides which templates the centre offers
and makes a retried request safe.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from campaigns.errors import CouponTemplateNotFound
from campaigns.models import Coupon, CouponSource, CouponTemplate
from campaigns.services.coupons import Grant, coupon_grant
from core.idempotency import IdempotencyKeyReused
from members.models import Member

ISSUE_KEY_MAX = 80  # Coupon.issue_key


def claim_issue_key(*, member_id: int, idempotency_key: str) -> str:
    """"claim:<member_id>:<key>"; a key too long for the column is replaced by its SHA-256 prefix."""
    issue_key = f"claim:{member_id}:{idempotency_key}"
    if len(issue_key) <= ISSUE_KEY_MAX:
        return issue_key
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"claim:{member_id}:sha256:{digest}"


def coupon_claim(*, member: Member, template_id: int, idempotency_key: str | None = None,
                 now: dt.datetime | None = None) -> Coupon:
    """The member claims one coupon of a template offered in the coupon centre.

    Only active templates shown in the centre can be claimed here; any other id (unknown, hidden,
    inactive) raises CouponTemplateNotFound (404), so the centre does not reveal templates meant
    for codes, channels or targeted issues. Eligibility (window, new customers, tier, segment)
    raises CouponNotClaimable (403, the rule's code); limits raise CouponLimitReached,
    CouponDailyLimitReached, CouponSoldOut or CouponBudgetExhausted (409). Nothing changes on a
    refusal.

    One durable transaction; coupon_grant() locks the member's quota row, then the template row.
    With an `idempotency_key` the claim is idempotent per (member, key): a retry returns the
    first coupon, even when the template allows several per member; the same key used for
    another template raises IdempotencyKeyReused (409).
    """
    return coupon_claim_keyed(member=member, template_id=template_id, idempotency_key=idempotency_key,
                              now=now).coupon


def coupon_claim_keyed(*, member: Member, template_id: int, idempotency_key: str | None,
                       now: dt.datetime | None = None) -> Grant:
    """coupon_claim(), also telling whether the coupon is new (`created`) or a replay of the key."""
    now = now or timezone.now()
    issue_key = claim_issue_key(member_id=member.pk, idempotency_key=idempotency_key) if idempotency_key else None
    if issue_key:
        # A retry returns the first coupon even if the template has since been hidden or stopped.
        first = Coupon.objects.filter(issue_key=issue_key).first()
        if first is not None:
            return _replay(first, template_id)
    template = (
        CouponTemplate.objects.filter(pk=template_id, is_active=True, show_in_center=True)
        .prefetch_related("tiers", "segments")
        .first()
    )
    if template is None:
        raise CouponTemplateNotFound(detail={"template_id": template_id})
    with transaction.atomic(durable=True):
        grant = coupon_grant(template=template, member=member, source=CouponSource.CENTER, issue_key=issue_key,
                             now=now)
    if not grant.created:  # a concurrent request with the same key won
        return _replay(grant.coupon, template_id)
    return grant


def _replay(first: Coupon, template_id: int) -> Grant:
    if first.template_id != template_id:
        raise IdempotencyKeyReused(detail={"template_id": first.template_id})
    return Grant(first, False)

