"""Paid membership cards (付费会员卡): buying a plan, paying for it, the card it extends.

Paying goes through the payments core like an order: a purchase's trade is kind "card"
(CARD_PAYABLE_KIND) with the purchase number as out_trade_no. Whatever way WeChat's word that
a purchase was paid arrives (the notify, an orderquery), payments.services.payment_record_paid()
stores it and calls `card_purchase_on_payment()` — registered for the kind by
MembersConfig.ready() — which ends in `card_purchase_mark_paid()`, extending the card exactly
once per purchase.

No network call runs inside a transaction: prepay, query and close talk to WeChat between
short transactions, in the payments core.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.audit import Actor
from core.errors import DomainError
from core.tracking import track
from members.errors import (
    CardPlanNotFound,
    CardPurchaseAmountMismatch,
    CardPurchaseExpired,
    CardPurchaseNotFound,
    CardPurchaseNotPayable,
)
from members.models import (
    CARD_PAYABLE_KIND,
    CARD_PURCHASE_MACHINE,
    CARD_PURCHASE_PREFIX,
    CardPlan,
    CardPurchase,
    CardPurchaseAction,
    CardPurchaseStatus,
    Member,
    MemberCard,
    MemberCardPeriod,
)
from payments.errors import AmountMismatch, UnknownTrade
from payments.registry import PayableKind
from payments.services import payment_prepay, payment_settle_by_query
from wechat.gateway import PaymentNotice, PrepayResult

logger = logging.getLogger(__name__)

# How long a member has to pay for a card purchase (the same as an ordinary order).
CARD_PURCHASE_TIMEOUT = dt.timedelta(minutes=30)


# ---------------------------------------------------------------------------------------------
# Buying and paying


def card_purchase_create(*, member: Member, plan_id: int, now: dt.datetime | None = None) -> CardPurchase:
    """Start buying a plan: a pending purchase with its own number, the plan's price and days
    copied onto it, payable for 30 minutes. Raises CardPlanNotFound for an unknown or inactive
    plan. Durable transaction; not idempotent (each call is a new purchase; only a paid one
    counts)."""
    now = now or timezone.now()
    plan = CardPlan.objects.filter(pk=plan_id, is_active=True).first()
    if plan is None:
        raise CardPlanNotFound(detail={"plan_id": plan_id})
    for _attempt in range(5):
        try:
            with transaction.atomic(durable=True):
                purchase = CardPurchase.objects.create(
                    purchase_no=_new_purchase_no(now), member=member, plan=plan, plan_name=plan.name,
                    days=plan.days, amount_fen=plan.price_fen, expires_at=now + CARD_PURCHASE_TIMEOUT)
                track("card_purchase_created", member_id=member.pk,
                      properties={"purchase_no": purchase.purchase_no, "plan_id": plan.pk,
                                  "amount_fen": plan.price_fen})
                return purchase
        except IntegrityError:  # a random number met an existing one: draw again
            continue
    raise RuntimeError("could not draw a free card purchase number")


def _new_purchase_no(now: dt.datetime) -> str:
    # MC + Shanghai date + 10 random digits: 20 characters, fine as WeChat's out_trade_no (<= 32).
    return f"{CARD_PURCHASE_PREFIX}{timezone.localdate(now):%Y%m%d}{secrets.randbelow(10**10):010d}"


def card_purchase_prepay(*, member: Member, purchase_no: str, client_ip: str,
                         now: dt.datetime | None = None) -> PrepayResult:
    """Create (or re-create) the WeChat trade for a pending purchase; return wx.requestPayment params.

    Safe to repeat: out_trade_no is the purchase number. Refuses another member's purchase
    (404), a purchase that is not pending (409 card_purchase_not_payable) or past its deadline
    (409 card_purchase_expired). The trade (a "card" Payment) is made by payments.services.
    payment_prepay(): WeChat is called outside any transaction.
    """
    now = now or timezone.now()
    purchase = card_purchase_get_for_member(member=member, purchase_no=purchase_no)
    if purchase.status != CardPurchaseStatus.PENDING:
        raise CardPurchaseNotPayable(f"购卡订单{purchase.get_status_display()}，无需支付",
                                     detail={"status": purchase.status})
    if purchase.expires_at <= now:
        raise CardPurchaseExpired()
    return payment_prepay(kind=CARD_PAYABLE_KIND, out_trade_no=purchase.purchase_no, amount_fen=purchase.amount_fen,
                          description=f"付费会员卡-{purchase.plan_name}", openid=member.openid, client_ip=client_ip,
                          expires_at=purchase.expires_at)


def card_purchase_on_payment(*, notice: PaymentNotice, source: str) -> str:
    """The "card" payable kind's `on_paid`: WeChat says a purchase's trade was paid.

    Called by payments.services.payment_record_paid() once per trade, inside its durable
    transaction, after it locked the trade and checked the amount against it; locks the purchase,
    then card_purchase_mark_paid() extends the card. Returns "card_paid", or "already_paid" when
    the purchase was recorded paid before. An unknown purchase or another amount is refused the
    same way as an unknown trade (nothing changes).
    """
    status = (CardPurchase.objects.select_for_update().filter(purchase_no=notice.out_trade_no)
              .values_list("status", flat=True).first())
    if status is None:
        raise UnknownTrade(detail={"out_trade_no": notice.out_trade_no})
    try:
        card_purchase_mark_paid(purchase_no=notice.out_trade_no, paid_fen=notice.amount_fen,
                                transaction_id=notice.transaction_id, paid_at=notice.paid_at)
    except CardPurchaseAmountMismatch as exc:
        raise AmountMismatch(detail={"out_trade_no": notice.out_trade_no}) from exc
    return "already_paid" if status == CardPurchaseStatus.PAID else "card_paid"


def _card_purchase_console_url(purchase_no: str) -> str:
    return f"{reverse('admin:members_cardpurchase_changelist')}?{urlencode({'q': purchase_no})}"


# Registered by MembersConfig.ready(): what the payments core does when a purchase's trade is paid.
CARD_PAYABLE = PayableKind(slug=CARD_PAYABLE_KIND, label="付费会员卡", on_paid=card_purchase_on_payment,
                           console_url=_card_purchase_console_url)


def card_purchase_mark_paid(*, purchase_no: str, paid_fen: int, transaction_id: str, paid_at: dt.datetime,
                            now: dt.datetime | None = None) -> MemberCard:
    """Record that WeChat says the purchase was paid, and extend the member's card. Idempotent.

    For the payment path: call it with the verified notice's out_trade_no, total fee,
    transaction id and time end. A purchase already paid returns the card unchanged (repeats,
    concurrent notifies: exactly one extension). A cancelled purchase is paid anyway — the money
    arrived, the member gets the card. Raises CardPurchaseNotFound (unknown number) and
    CardPurchaseAmountMismatch (paid_fen differs from the purchase), changing nothing.

    Renewal: a card still active at `paid_at` is extended from its current end (its start is
    kept: the gift-pack day stays the same); otherwise a new run starts `now` (the moment this
    is recorded, default the current time: a late notify does not eat into the card).

    Runs in the caller's transaction (the payments core's, via card_purchase_on_payment) or its
    own: a savepoint.
    Locks the purchase row, then the member's card row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        purchase = CardPurchase.objects.select_for_update().filter(purchase_no=purchase_no).first()
        if purchase is None:
            raise CardPurchaseNotFound(detail={"purchase_no": purchase_no})
        if purchase.status == CardPurchaseStatus.PAID:
            return MemberCard.objects.get(member_id=purchase.member_id)
        if paid_fen != purchase.amount_fen:
            logger.warning("card purchase %s: paid %s, expected %s", purchase_no, paid_fen, purchase.amount_fen)
            raise CardPurchaseAmountMismatch(detail={"purchase_no": purchase_no})
        card, period = _card_extend(purchase=purchase, paid_at=paid_at, now=now)
        CARD_PURCHASE_MACHINE.transition(
            pk=purchase.pk, to=CardPurchaseStatus.PAID, action=CardPurchaseAction.PAID, actor=Actor.WECHAT,
            fields={"transaction_id": transaction_id, "paid_fen": paid_fen, "paid_at": paid_at},
            note="续费" if period.renewal else "开卡",
            data={"transaction_id": transaction_id, "paid_fen": paid_fen, "ends_at": card.ends_at.isoformat()})
        track("card_purchase_paid", member_id=purchase.member_id,
              properties={"purchase_no": purchase_no, "plan_id": purchase.plan_id, "paid_fen": paid_fen,
                          "renewal": period.renewal})
        return card


def _card_extend(*, purchase: CardPurchase, paid_at: dt.datetime, now: dt.datetime) -> tuple[MemberCard,
                                                                                            MemberCardPeriod]:
    days = dt.timedelta(days=purchase.days)
    card = MemberCard.objects.select_for_update().filter(member_id=purchase.member_id).first()
    if card is None:
        try:
            with transaction.atomic():
                card = MemberCard.objects.create(member_id=purchase.member_id, plan_id=purchase.plan_id,
                                                 starts_at=now, ends_at=now + days)
        except IntegrityError:  # another purchase of this member created the card first: extend it
            card = MemberCard.objects.select_for_update().get(member_id=purchase.member_id)
        else:
            period = MemberCardPeriod.objects.create(card=card, member_id=purchase.member_id, purchase=purchase,
                                                     plan_id=purchase.plan_id, starts_at=now, ends_at=now + days,
                                                     renewal=False)
            return card, period
    renewal = card.ends_at > paid_at
    start = card.ends_at if renewal else now
    ends_at = start + days
    starts_at = card.starts_at if renewal else now
    # The card row is locked; the WHERE clause still names the end we computed from.
    updated = MemberCard.objects.filter(pk=card.pk, ends_at=card.ends_at).update(
        plan_id=purchase.plan_id, starts_at=starts_at, ends_at=ends_at, updated_at=now)
    if updated != 1:
        raise RuntimeError(f"member card {card.pk} changed under a held lock")
    card.refresh_from_db()
    period = MemberCardPeriod.objects.create(card=card, member_id=purchase.member_id, purchase=purchase,
                                             plan_id=purchase.plan_id, starts_at=start, ends_at=ends_at,
                                             renewal=renewal)
    return card, period


def card_purchase_cancel(*, purchase_no: str, note: str, now: dt.datetime | None = None) -> CardPurchase:
    """Cancel a pending purchase (not paid in time). Idempotent: a cancelled one stays cancelled,
    a paid one is never moved back (returned as it is). The trade must already be closed at
    WeChat or never created (see card_purchases_cancel_expired). Durable transaction."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        purchase = CardPurchase.objects.select_for_update().filter(purchase_no=purchase_no).first()
        if purchase is None:
            raise CardPurchaseNotFound(detail={"purchase_no": purchase_no})
        if purchase.status != CardPurchaseStatus.PENDING:
            return purchase
        purchase, _ = CARD_PURCHASE_MACHINE.transition(
            pk=purchase.pk, to=CardPurchaseStatus.CANCELLED, action=CardPurchaseAction.CANCELLED,
            actor=Actor.SYSTEM, note=note, fields={"cancelled_at": now})
        return purchase


def card_purchases_cancel_expired(*, now: dt.datetime | None = None, batch_size: int = 100) -> dict[str, int]:
    """The housekeeping job: pending purchases past their deadline are settled with WeChat through
    payments.services.payment_settle_by_query() (paid → recorded like a notify) or closed there
    and cancelled here. Every step is idempotent, so two workers or a re-run after a crash do no
    harm. Returns {"cancelled", "paid", "failed"}."""
    now = now or timezone.now()
    counts = {"cancelled": 0, "paid": 0, "failed": 0}
    due = list(CardPurchase.objects.filter(status=CardPurchaseStatus.PENDING, expires_at__lte=now)
               .order_by("expires_at", "id").values_list("purchase_no", flat=True)[:batch_size])
    for purchase_no in due:
        try:
            if payment_settle_by_query(out_trade_no=purchase_no):
                counts["paid"] += 1
                continue
            purchase = card_purchase_cancel(purchase_no=purchase_no, note="超时未支付，系统自动取消", now=now)
            counts["cancelled" if purchase.status == CardPurchaseStatus.CANCELLED else "paid"] += 1
        except DomainError:
            logger.exception("auto-cancel of card purchase %s failed; will retry next run", purchase_no)
            counts["failed"] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Reads


@dataclass(frozen=True)
class ActiveCard:
    card_id: int
    plan_id: int
    plan_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    discount_percent: int
    points_multiplier: Decimal
    monthly_gift_pack: bool


def member_card_active(*, member_id: int, at: dt.datetime) -> ActiveCard | None:
    """The member's card if it is active at `at` (starts_at <= at < ends_at), with the benefits of
    its plan; None otherwise. One query."""
    card = (MemberCard.objects.select_related("plan")
            .filter(member_id=member_id, starts_at__lte=at, ends_at__gt=at).first())
    if card is None:
        return None
    plan = card.plan
    return ActiveCard(card_id=card.pk, plan_id=plan.pk, plan_name=plan.name, starts_at=card.starts_at,
                      ends_at=card.ends_at, discount_percent=plan.discount_percent,
                      points_multiplier=plan.points_multiplier, monthly_gift_pack=plan.monthly_gift_pack)


def card_plans_on_sale() -> list[CardPlan]:
    """The plans a member can buy now, in the operators' order."""
    return list(CardPlan.objects.filter(is_active=True).order_by("sort", "id"))


def card_purchase_get_for_member(*, member: Member, purchase_no: str) -> CardPurchase:
    """One of the member's purchases; another member's or an unknown number is a 404."""
    purchase = CardPurchase.objects.filter(member=member, purchase_no=purchase_no).first()
    if purchase is None:
        raise CardPurchaseNotFound(detail={"purchase_no": purchase_no})
    return purchase


def member_card_history(*, member: Member, limit: int = 50) -> list[MemberCardPeriod]:
    """The member's card periods, newest first (each paid purchase is one)."""
    return list(MemberCardPeriod.objects.filter(member=member).select_related("plan", "purchase")
                .order_by("-id")[:limit])
