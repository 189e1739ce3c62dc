"""Automatic coupon gifts: 新人礼 on first login, 支付有礼 after a paid order.

Both run after the change that triggers them has committed (the login, the payment), one short
transaction per gift rule, and both are idempotent through the coupon's unique issue_key. A gift
that cannot be given (sold out, over budget, the member not eligible) is skipped and logged: a
gift must never break a login or a payment.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import Coupon, CouponSource, GiftRule
from campaigns.services.coupons import coupon_grant
from core.errors import DomainError
from members.models import Member

logger = logging.getLogger(__name__)


def gift_new_member(*, member_id: int) -> list[Coupon]:
    """Give a member who just joined the coupons of every active 新人礼 rule (trigger NEW_MEMBER,
    within the rule's window, template active).

    Called after the first login commits (settings.MEMBER_JOINED_HOOKS). Idempotent: one coupon
    per rule and member (issue_key "new_member:<rule>:<member>"), so running it again gives
    nothing more. The template's claim window does not apply (check_window=False); its limits,
    stock and budget do. One durable transaction per rule; a rule that cannot be given is skipped
    and logged. Returns the member's coupons from these rules (earlier ones included).
    """
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        logger.warning("new-member gift: member %s does not exist", member_id)
        return []
    now = timezone.now()
    rules = _rules(GiftRule.Trigger.NEW_MEMBER, now)
    return _give(rules, member=member, source=CouponSource.NEW_MEMBER, now=now,
                 issue_key=lambda rule: f"new_member:{rule.pk}:{member.pk}")


def gift_after_payment(*, member_id: int, order_no: str, paid_fen: int) -> list[Coupon]:
    """支付有礼: the coupons of every active PAID_ORDER rule whose min_paid_fen the order reaches.

    Called by the shop after the payment commits, with plain values. Idempotent per order and
    rule (issue_key "pay_gift:<rule>:<order_no>"): a repeated payment notification gives
    nothing more. Claim windows do not apply; limits, stock and budget do. One durable
    transaction per rule; a rule that cannot be given is skipped and logged. Returns the coupons
    this order earned (earlier ones included).
    """
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        logger.warning("pay gift for %s: member %s does not exist", order_no, member_id)
        return []
    now = timezone.now()
    rules = _rules(GiftRule.Trigger.PAID_ORDER, now).filter(min_paid_fen__lte=paid_fen)
    return _give(rules, member=member, source=CouponSource.PAY_GIFT, now=now,
                 issue_key=lambda rule: f"pay_gift:{rule.pk}:{order_no}")


def _rules(trigger: str, now: dt.datetime) -> QuerySet[GiftRule]:
    return (
        GiftRule.objects.filter(trigger=trigger, is_active=True, template__is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("template")
        .prefetch_related("template__tiers", "template__segments")
        .order_by("id")
    )


def _give(rules: QuerySet[GiftRule], *, member: Member, source: str, now: dt.datetime,
          issue_key: Callable[[GiftRule], str]) -> list[Coupon]:
    given: list[Coupon] = []
    for rule in rules:
        key = issue_key(rule)
        try:
            with transaction.atomic(durable=True):
                grant = coupon_grant(template=rule.template, member=member, source=source, issue_key=key,
                                     now=now, check_window=False)
        except DomainError as exc:
            logger.warning("gift rule %s (%s) skipped for member %s: %s %s", rule.pk, rule.name, member.pk,
                           exc.code, exc.message)
            continue
        given.append(grant.coupon)
    return given
