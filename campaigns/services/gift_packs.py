"""The monthly gift pack of paid membership cards (会员卡每月礼包).

Each month, on the day of the month the member's card run started (the 31st falls on the last
day of shorter months), every member whose card is active gets one coupon of each template in
their plan's pack (campaigns.models.CardGiftPack). If that day's run was missed, the next run
in the same month catches up. Idempotent per member, template and month: the coupon's
issue_key is "gift_pack:<YYYY-MM>:<template>:<member>", unique, so running the job twice (or
on two workers) issues once.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import defaultdict

from django.utils import timezone

from campaigns.models import CardGiftPack, Coupon, CouponSource, CouponTemplate
from campaigns.services.coupons import coupon_grant
from core.errors import DomainError
from members.models import MemberCard

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def gift_pack_issue_key(*, month: dt.date, template_id: int, member_id: int) -> str:
    return f"gift_pack:{month:%Y-%m}:{template_id}:{member_id}"


def gift_pack_due_day(*, card_start: dt.date, month: dt.date) -> dt.date:
    """The day in `month` a card that started on `card_start` gets its pack (31 → 30/29/28)."""
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=min(card_start.day, last))


def card_gift_packs_issue(*, day: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Issue this month's gift packs that are due by `day` (default: today in Shanghai) to members
    whose card is active at `now`. Returns how many coupons were issued by this run.

    A coupon that cannot be issued (the template's limit, stock or budget reached, or its
    rules exclude the member) is logged and skipped; the rest of the run goes on. Each coupon is
    its own transaction (coupon_grant); cards are read in batches.
    """
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    packs: dict[int, list[CouponTemplate]] = defaultdict(list)
    for pack in (CardGiftPack.objects.filter(is_active=True, plan__monthly_gift_pack=True)
                 .select_related("template").order_by("plan_id", "id")):
        packs[pack.plan_id].append(pack.template)
    if not packs:
        return 0
    cards = (MemberCard.objects.filter(plan_id__in=list(packs), starts_at__lte=now, ends_at__gt=now,
                                       member__deleted_at__isnull=True, member__is_active=True)
             .select_related("member").order_by("id"))
    if day.day < calendar.monthrange(day.year, day.month)[1]:
        cards = cards.filter(starts_at__day__lte=day.day)  # (Shanghai day of month) others are not due yet
    issued = skipped = 0
    batch: list[MemberCard] = []
    for card in cards.iterator(chunk_size=BATCH_SIZE):
        batch.append(card)
        if len(batch) == BATCH_SIZE:
            i, s = _issue_batch(batch, packs=packs, day=day, now=now)
            issued, skipped, batch = issued + i, skipped + s, []
    if batch:
        i, s = _issue_batch(batch, packs=packs, day=day, now=now)
        issued, skipped = issued + i, skipped + s
    logger.info("card gift packs for %s: %s issued, %s skipped", day, issued, skipped)
    return issued


def _issue_batch(cards: list[MemberCard], *, packs: dict[int, list[CouponTemplate]], day: dt.date,
                 now: dt.datetime) -> tuple[int, int]:
    month = day.replace(day=1)
    wanted: dict[str, tuple[MemberCard, CouponTemplate]] = {}
    for card in cards:
        if gift_pack_due_day(card_start=timezone.localdate(card.starts_at), month=month) > day:
            continue
        for template in packs[card.plan_id]:
            key = gift_pack_issue_key(month=month, template_id=template.pk, member_id=card.member_id)
            wanted[key] = (card, template)
    done = set(Coupon.objects.filter(issue_key__in=list(wanted)).values_list("issue_key", flat=True))
    issued = skipped = 0
    for key, (card, template) in wanted.items():
        if key in done:
            continue
        try:
            grant = coupon_grant(template=template, member=card.member, source=CouponSource.GIFT_PACK,
                                 issue_key=key, now=now, check_window=False)
        except DomainError as exc:
            logger.warning("gift pack coupon %s not issued: %s (%s)", key, exc.code, exc.message)
            skipped += 1
            continue
        issued += int(grant.created)
    return issued, skipped
