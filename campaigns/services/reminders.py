"""The coupon lifecycle jobs: expire what is past its validity, remind before it expires.

Both are run by Celery beat (campaigns.tasks) and are safe to run twice or on two workers at once:
they claim their rows with SELECT … FOR UPDATE SKIP LOCKED in small chunks, and every change is
a conditional UPDATE whose row count decides whether the ledger row is written.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.models import Coupon, CouponEvent, CouponStatus
from wechat.messages import subscribe_message_queue

logger = logging.getLogger(__name__)

CHUNK = 500
REMIND_TEMPLATE_KEY = "coupon_expiring"
REMIND_REMARK = "优惠券即将过期，请尽快使用"


def coupons_expire(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> int:
    """Mark every AVAILABLE coupon whose valid_until has passed EXPIRED, each with an EXPIRED event.

    Chunks of `chunk` coupons, one durable transaction each, claimed with FOR UPDATE SKIP LOCKED
    so concurrent runs share the work and a coupon an order is locking right now is left for the
    next run. Idempotent: a second run finds nothing. Locked
    and used coupons are not touched (an order holds them). Returns how many expired.
    """
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(
                Coupon.objects.select_for_update(skip_locked=True)
                .filter(status=CouponStatus.AVAILABLE, valid_until__lte=now)
                .order_by("id").values_list("id", flat=True)[:chunk]
            )
            if not ids:
                return expired
            # The rows are ours until commit, and FOR UPDATE re-checked the WHERE clause on each.
            Coupon.objects.filter(pk__in=ids).update(status=CouponStatus.EXPIRED)
            CouponEvent.objects.bulk_create(
                [CouponEvent(coupon_id=pk, action=CouponEvent.Action.EXPIRED, reference="expiry") for pk in ids],
                ignore_conflicts=True)
            expired += len(ids)


def coupons_remind_expiring(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> int:
    """Send the `coupon_expiring` subscribe message once per coupon that is still available and
    expires within settings.COUPON_EXPIRY_REMIND_DAYS days.

    "Once" is a conditional UPDATE setting reminded_at where it is still NULL (and the coupon
    still available), plus a REMINDED event, in the chunk's durable transaction; the message is
    queued in the same transaction and sent after commit (wechat.messages: it needs the member's
    consent — without a credit it is logged as no_credit and the coupon still counts as
    reminded, so no coupon is reminded twice). Chunks are claimed with FOR UPDATE SKIP LOCKED.
    A message that cannot be queued is logged and never undoes the chunk. Returns how many
    coupons were reminded.
    """
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=settings.COUPON_EXPIRY_REMIND_DAYS)
    reminded = 0
    while True:
        with transaction.atomic(durable=True):
            coupons = list(
                Coupon.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=CouponStatus.AVAILABLE, reminded_at__isnull=True, valid_until__gt=now,
                        valid_until__lte=horizon)
                .select_related("template", "member")
                .order_by("id")[:chunk]
            )
            if not coupons:
                return reminded
            for coupon in coupons:
                taken = Coupon.objects.filter(pk=coupon.pk, reminded_at__isnull=True,
                                              status=CouponStatus.AVAILABLE).update(reminded_at=now)
                if not taken:
                    continue
                CouponEvent.objects.create(coupon=coupon, action=CouponEvent.Action.REMINDED, reference="expiry")
                _queue_reminder(coupon)
                reminded += 1


def _queue_reminder(coupon: Coupon) -> None:
    try:
        with transaction.atomic():
            subscribe_message_queue(
                member_id=coupon.member_id, openid=coupon.member.openid, template_key=REMIND_TEMPLATE_KEY,
                reference=f"coupon:{coupon.pk}",
                values={
                    "coupon": coupon.template.name,
                    # valid_until is exclusive: the last day it can be used is the day before at midnight.
                    "expires_on": timezone.localtime(coupon.valid_until - dt.timedelta(microseconds=1)).date(),
                    "remark": REMIND_REMARK,
                },
            )
    except Exception:  # a message must never undo the reminder bookkeeping of the whole chunk
        logger.exception("coupon %s: the expiry reminder was not queued", coupon.pk)
