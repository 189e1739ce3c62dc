"""Birthday and registration-anniversary greetings: the 09:00 job, and what the API and console read.

    greetings_send_today(today=None, batch_size=500) -> {"birthday": n, "anniversary": n, "coupons": n,
                                                         "messages": n, "skipped": {...}}
    greeting_poster_ensure(greeting=g) -> g                  # the poster, drawn on the member's first view

Who is due today (Shanghai calendar): members whose birthday (month, day) is today, and members
registered on today's month and day in an earlier year. 29 February falls on 28 February in
other years. Deleted and inactive members are never greeted.

Which coupon: the newest active GiftRule of trigger 生日 / 注册纪念日 whose window contains now.
No such rule: that kind is switched off (no greeting at all). A birthday coupon goes only to
members whose tier has the birthday-gift benefit (Tier.birthday_gift); they all get the poster.

The job, for each batch of due members (keyset by id over the member_birthday_md /
member_registered_md indexes — never a scan of every member in Python), in ONE transaction:
the batch's Greetings in one INSERT (UNIQUE per member, kind, year, so a second run finds them),
the coupons through coupon_grant_many() (coupon_grant()'s rules and locks for the whole batch in a
fixed number of statements) with issue_key "birthday:<year>:<member>" ("anniversary:<year>:<member>",
so even a lost Greeting could not give a second coupon), the
greetings' coupon / skip reason in one UPDATE, and each member's subscribe message queued (sent
after commit; only where the member has a consent credit; idempotent on reference
"greeting:<id>"). A batch is all or nothing, so a run that dies half-way is finished by the next.

The poster is not drawn by the job: the mini-program code (getwxacodeunlimit, network) and the PNG
cost ~0.1 s each, which made the job's time grow with the greetings. Most greeted members never
open the poster, and the job's message already points to it, so it is drawn on the member's first
view through the API (greeting_poster_ensure), outside any transaction, and stored with a
conditional UPDATE (WHERE poster = ''): the first view stores it, later views only read it, and of
two concurrent first views one file is kept (the other's is deleted). A failed draw (WeChat down)
is recorded in poster_error and retried by the next view.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import Coupon, CouponKind, CouponSource, GiftRule, Greeting, GreetingKind
from campaigns.posters import PosterContent, PosterCoupon, drawable, poster_render
from campaigns.selectors.coupons import discount_text, threshold_text, yuan_text
from campaigns.services.coupons import coupon_grant_many
from core.media import private_storage
from members.models import Member
from wechat import miniprogram
from wechat.messages import subscribe_message_queue, templates
from wechat.models import MessageOutcome

logger = logging.getLogger(__name__)

TRIGGERS = {GreetingKind.BIRTHDAY: GiftRule.Trigger.BIRTHDAY, GreetingKind.ANNIVERSARY: GiftRule.Trigger.ANNIVERSARY}
SOURCES = {GreetingKind.BIRTHDAY: CouponSource.BIRTHDAY, GreetingKind.ANNIVERSARY: CouponSource.ANNIVERSARY}

# Why a greeting came without a coupon: code → what the console shows.
SKIP_REASONS = {
    "tier_no_birthday_gift": "会员等级不含生日礼",
    "coupon_inactive": "优惠券已停用",
    "coupon_claim_ended": "优惠券已过期",
    "coupon_new_customer_only": "优惠券仅限新客",
    "coupon_tier_restricted": "会员等级不符合优惠券条件",
    "coupon_segment_restricted": "不在优惠券的活动人群内",
    "coupon_limit_reached": "已达优惠券每人限领数量",
    "coupon_daily_limit_reached": "已达优惠券每日限领数量",
    "coupon_sold_out": "优惠券已发完",
    "coupon_budget_exhausted": "优惠券补贴预算已用完",
}


@dataclass
class Tally:
    birthday: int = 0
    anniversary: int = 0
    coupons: int = 0
    messages: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"birthday": self.birthday, "anniversary": self.anniversary, "coupons": self.coupons,
                "messages": self.messages,
                "skipped": dict(self.skipped)}


# ---------------------------------------------------------------------------------------------
# Who is due


def due_month_days(today: dt.date) -> list[tuple[int, int]]:
    """(month, day) pairs celebrated today: 29 February moves to 28 February in common years."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def due_members(*, kind: str, today: dt.date) -> QuerySet[Member]:
    """Active members whose birthday / registration anniversary (≥ 1 year) is `today`.

    Filters on EXTRACT(MONTH/DAY FROM …), the expressions of the member_birthday_md and
    member_registered_md indexes (the anniversary's in Shanghai time), so the job's keyset walk
    (`pk__gt=…` ordered by pk) reads only today's members.
    """
    members = Member.objects.filter(is_active=True, deleted_at__isnull=True)
    when = Q()
    if kind == GreetingKind.BIRTHDAY:
        for month, day in due_month_days(today):
            when |= Q(birthday__month=month, birthday__day=day)
        return members.filter(when)
    for month, day in due_month_days(today):
        when |= Q(registered_at__month=month, registered_at__day=day)
    start_of_year = timezone.make_aware(dt.datetime(today.year, 1, 1))
    return members.filter(when, registered_at__lt=start_of_year)


def active_rule(*, kind: str, now: dt.datetime) -> GiftRule | None:
    """The gift rule that configures `kind` now (newest active one in its window), or None."""
    return (GiftRule.objects.select_related("template")
            .filter(trigger=TRIGGERS[GreetingKind(kind)], is_active=True)
            .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .order_by("-id").first())


# ---------------------------------------------------------------------------------------------
# The job


def greetings_send_today(*, today: dt.date | None = None, batch_size: int = 500) -> dict[str, Any]:
    """Greet everyone due today: greeting, coupon, subscribe message. Idempotent per member, kind, year.

    See the module docstring for the steps, transactions and what makes a repeat harmless.
    Returns counts of this run: greetings created per kind, coupons granted, messages queued, and
    skip reasons. Posters are drawn on first view (greeting_poster_ensure), not here.
    """
    now = timezone.now()
    today = today or timezone.localdate(now)
    tally = Tally()
    for kind in (GreetingKind.BIRTHDAY, GreetingKind.ANNIVERSARY):
        rule = active_rule(kind=kind, now=now)
        if rule is None:
            continue
        cursor = 0
        due = due_members(kind=kind, today=today)
        while True:
            ids = list(due.filter(pk__gt=cursor).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            cursor = ids[-1]
            _greetings_create(kind=kind, today=today, rule=rule, member_ids=ids, now=now, tally=tally)
    return tally.as_dict()


def _greetings_create(*, kind: str, today: dt.date, rule: GiftRule, member_ids: list[int], now: dt.datetime,
                      tally: Tally) -> None:
    """One batch, one transaction: the greetings that do not exist yet (one INSERT), their coupons,
    their coupon / skip reason (one UPDATE) and their messages (sent after commit)."""
    with transaction.atomic(durable=True):
        greetings = _greetings_insert(kind=kind, today=today, member_ids=member_ids)
        if not greetings:
            return
        setattr(tally, kind, getattr(tally, kind) + len(greetings))
        gifted = [g.member for g in greetings
                  if kind != GreetingKind.BIRTHDAY or (g.member.tier and g.member.tier.birthday_gift)]
        grants = coupon_grant_many(template=rule.template, members=gifted, source=SOURCES[GreetingKind(kind)],
                                   issue_keys={m.pk: f"{kind}:{today.year}:{m.pk}" for m in gifted}, now=now)
        for greeting in greetings:
            grant = grants.get(greeting.member_id, "tier_no_birthday_gift")
            if isinstance(grant, str):
                greeting.skip_reason = grant
                tally.skipped[grant] = tally.skipped.get(grant, 0) + 1
            else:
                greeting.coupon = grant.coupon
                tally.coupons += int(grant.created)
        Greeting.objects.bulk_update(greetings, ["coupon", "skip_reason"])
        for greeting in greetings:
            if _message_queue(greeting):
                tally.messages += 1


def _greetings_insert(*, kind: str, today: dt.date, member_ids: list[int]) -> list[Greeting]:
    """The batch's greetings that did not exist yet, created in one INSERT (with their members
    and tiers attached). A concurrent run that created some first makes the INSERT fail on the
    UNIQUE constraint: the batch is then read again without them."""
    members = {m.pk: m for m in Member.objects.select_related("tier").filter(pk__in=member_ids)}
    anniversary = kind == GreetingKind.ANNIVERSARY
    while True:
        existing = set(Greeting.objects.filter(kind=kind, year=today.year, member_id__in=member_ids)
                       .values_list("member_id", flat=True))
        greetings = [
            Greeting(member=member, kind=kind, year=today.year, day=today,
                     years=today.year - timezone.localtime(member.registered_at).year if anniversary else 0)
            for pk, member in sorted(members.items()) if pk not in existing]
        if not greetings:
            return []
        try:
            with transaction.atomic():
                return Greeting.objects.bulk_create(greetings)
        except IntegrityError:  # a concurrent run greeted some of them first
            continue


def greeting_poster_ensure(*, greeting: Greeting) -> Greeting:
    """`greeting` with its poster: drawn and stored now if it has none yet (the member's first view).

    Network and drawing happen outside any transaction (never call this inside one). The poster
    is stored with a conditional UPDATE, so it is made once: a concurrent first view that stored
    its poster first wins, ours is deleted and the winner's returned. When the code or the
    drawing fails the reason goes to poster_error and the greeting comes back without a poster;
    the next view tries again. Returns a fresh Greeting when it changed.
    """
    if greeting.poster:
        return greeting
    try:
        png = greeting_poster_png(greeting=greeting)
        name = private_storage().save(f"greetings/{greeting.year}/{secrets.token_hex(16)}.png", ContentFile(png))
    except Exception as exc:  # noqa: BLE001 - WeChat down, a storage hiccup: the next view tries again
        logger.warning("greeting %s: poster not made: %s", greeting.pk, exc)
        error = (getattr(exc, "message", "") or str(exc) or exc.__class__.__name__)[:200]
        Greeting.objects.filter(pk=greeting.pk, poster="").update(poster_error=error)
        greeting.poster_error = error
        return greeting
    stored = Greeting.objects.filter(pk=greeting.pk, poster="").update(
        poster=name, poster_at=timezone.now(), poster_error="")
    if not stored:  # a concurrent first view stored its poster first: keep that one
        private_storage().delete(name)
    greeting.refresh_from_db(fields=["poster", "poster_at", "poster_error"])
    return greeting


def greeting_poster_png(*, greeting: Greeting) -> bytes:
    """The mini-program code (from WeChat: network I/O) and the poster drawn around it."""
    coupon = greeting.coupon
    if coupon is not None:
        scene, page = f"coupon={coupon.pk}", settings.GREETING_COUPON_PAGE
    else:
        scene, page = f"greeting={greeting.pk}", settings.GREETING_HOME_PAGE
    code_png = miniprogram.get_wxacode_unlimit(scene=scene, page=page, width=430)
    return poster_render(poster_content(greeting=greeting, code_png=code_png))


def poster_content(*, greeting: Greeting, code_png: bytes) -> PosterContent:
    """What the poster says for this greeting."""
    birthday = greeting.kind == GreetingKind.BIRTHDAY
    coupon = greeting.coupon
    poster_coupon = None
    if coupon is not None:
        template = coupon.template
        poster_coupon = PosterCoupon(face=face_text(coupon), condition=threshold_text(template), name=template.name,
                                     valid_until=timezone.localdate(coupon.valid_until - dt.timedelta(microseconds=1)))
    if birthday:
        headline, message = "生日快乐", "愿你的每一天都闪闪发光，这份生日礼物请收下"
        caption = ("长按识别小程序码", "查看你的生日礼券" if coupon else "来商城逛逛吧")
    else:
        headline = f"相伴 {greeting.years} 周年" if greeting.years > 1 else "相伴一周年"
        message = f"感谢你这 {greeting.years} 年的陪伴，送你一份纪念日礼物" if greeting.years > 1 else \
            "感谢你这一年的陪伴，送你一份纪念日礼物"
        caption = ("长按识别小程序码", "查看你的纪念日礼券" if coupon else "来商城逛逛吧")
    return PosterContent(kind=greeting.kind, nickname=greeting.member.nickname, headline=headline, message=message,
                         coupon=poster_coupon, code_png=code_png, code_caption=caption,
                         brand=settings.GREETING_POSTER_BRAND)


def face_text(coupon: Coupon) -> str:
    """The big text on the coupon: "¥20", "8.5折", "免运费"."""
    template = coupon.template
    if template.kind == CouponKind.DISCOUNT:
        return discount_text(template.pay_percent or 100)
    if template.kind == CouponKind.FREIGHT and not template.amount_fen:
        return "免运费"
    return f"¥{yuan_text(template.amount_fen)}"


def _message_queue(greeting: Greeting) -> bool:
    """Queue the kind's subscribe message (settings.GREETING_MESSAGE_TEMPLATES) in the current
    transaction; True when it will be sent (the member has a credit). Idempotent by reference."""
    key = settings.GREETING_MESSAGE_TEMPLATES.get(greeting.kind)
    if not key or key not in templates():
        return False
    member = greeting.member
    coupon = greeting.coupon
    name = drawable(member.nickname)[:8] or "亲爱的会员"
    if greeting.kind == GreetingKind.BIRTHDAY:
        text = f"{name}，生日快乐"
    else:
        text = f"{name}，注册{greeting.years}周年快乐"
    values = {
        "greeting": text,
        "gift": coupon.template.name if coupon else "专属祝福海报",
        "valid_until": timezone.localdate(coupon.valid_until - dt.timedelta(microseconds=1)) if coupon
        else greeting.day,
        "remark": "点击查看你的祝福海报和礼券" if coupon else "点击查看你的祝福海报",
        "greeting_id": greeting.pk,
    }
    log = subscribe_message_queue(member_id=member.pk, openid=member.openid, template_key=key, values=values,
                                  reference=f"greeting:{greeting.pk}")
    return log.outcome == MessageOutcome.PENDING


# ---------------------------------------------------------------------------------------------
# Account deletion (settings.MEMBER_DELETED_HOOKS)


def greetings_forget_member(*, member_id: int) -> int:
    """A member deleted their account: delete their poster files (they show the nickname).

    The Greeting rows stay (the coupons they reference are part of the books). Idempotent.
    """
    names = list(Greeting.objects.filter(member_id=member_id).exclude(poster="").values_list("poster", flat=True))
    Greeting.objects.filter(member_id=member_id).exclude(poster="").update(poster="")
    for name in names:
        private_storage().delete(name)
    return len(names)
