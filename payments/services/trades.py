"""Trades (money in): every trade, of every payable kind, goes through these functions.

- `payment_prepay()` creates the trade for a payable the kind's own service has checked.
- `payment_handle_notify()` takes WeChat's signed notify; `payment_settle_by_query()` asks WeChat
  about a trade whose payable timed out. Both end in
- `payment_record_paid()`, the one place WeChat's word that a trade was paid is recorded: lock
  the trade, check the amount, store the notification under its transaction id (a repeat is a
  no-op), move the trade to paid through its state machine, then call the payable kind's
  `on_paid` (payments.registry) in the same durable transaction.

No network call ever runs inside a transaction: prepay, query and close talk to WeChat between
short transactions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from core.audit import Actor
from payments.errors import AmountMismatch, TradeMismatch, UnknownTrade
from payments.models import PAYMENT_MACHINE, Payment, PaymentEvent, PaymentNotification, PaymentStatus
from payments.registry import payable_kind
from wechat.errors import TradeAlreadyPaid
from wechat.gateway import PaymentGateway, PaymentNotice, PrepayResult, TradeState
from wechat.pay_v2 import get_gateway

logger = logging.getLogger(__name__)

# Where WeChat's word came from (stored with the audit row; the raw text of a query answer is
# stored like a notify's).
SOURCE_NOTIFY = "notify"
SOURCE_QUERY = "orderquery"


def payment_gateway() -> PaymentGateway:
    """The configured payment gateway (WeChat Pay v2 today). Settings are read at each call, so
    tests and the demo point it at the sandbox."""
    return get_gateway()


def payment_notify_url() -> str:
    """The URL WeChat notifies a trade's payment to (one for every kind)."""
    return settings.SITE_URL + reverse("payment-wechat-notify")


def payment_prepay(*, kind: str, out_trade_no: str, amount_fen: int, description: str, openid: str,
                   client_ip: str, expires_at: dt.datetime) -> PrepayResult:
    """Create (or re-create) the WeChat trade for a payable; return the wx.requestPayment parameters.

    The caller (the kind's own prepay: order_prepay, card_purchase_prepay) has checked that its
    payable may be paid now. Safe to repeat: the Payment row is got or created once per
    out_trade_no in a short durable transaction, and WeChat returns the same prepay for the same
    trade. Refuses an unregistered kind (UnknownPayableKind: it could never be recorded as paid)
    and a number that already belongs to another kind or amount (TradeMismatch). WeChat is
    called outside any transaction; the prepay id is stored after it answers.
    """
    payable_kind(kind)
    with transaction.atomic(durable=True):
        payment, _ = Payment.objects.get_or_create(out_trade_no=out_trade_no,
                                                   defaults={"kind": kind, "amount_fen": amount_fen})
    if (payment.kind, payment.amount_fen) != (kind, amount_fen):
        raise TradeMismatch(detail={"out_trade_no": out_trade_no})
    result = payment_gateway().prepay(
        out_trade_no=out_trade_no, amount_fen=amount_fen, description=description, openid=openid,
        client_ip=client_ip, notify_url=payment_notify_url(), expires_at=expires_at)
    Payment.objects.filter(pk=payment.pk).update(prepay_id=result.prepay_id, prepay_expires_at=expires_at)
    return result


@dataclass(frozen=True)
class NotifyOutcome:
    accepted: bool  # whether to answer WeChat with SUCCESS
    outcome: str


def payment_handle_notify(*, body: bytes) -> NotifyOutcome:
    """Handle a payment notification from WeChat, for a trade of any kind.

    The gateway verifies it (signature, appid, mch_id), then payment_record_paid() records it.
    A forged or mismatched notify raises DomainError and changes nothing; a repeat (same
    transaction id, or a trade already paid) is accepted as a no-op.
    """
    notice = payment_gateway().parse_notify(body)
    return payment_record_paid(notice=notice, source=SOURCE_NOTIFY)


def payment_record_paid(*, notice: PaymentNotice, source: str) -> NotifyOutcome:
    """Record that WeChat says a trade was paid, and let its payable kind act. Idempotent.

    One durable transaction: locks the Payment row; refuses an unknown trade (UnknownTrade) or
    another amount (AmountMismatch), changing nothing; stores the notification under its
    transaction id — a transaction id stored before answers "duplicate" and changes nothing;
    moves the trade to paid (PaymentEvent written; a closed trade is paid too: WeChat's word
    wins); then calls the kind's `on_paid`, whose outcome ("paid", "revived", "card_paid"…) is
    stored on the notification. A trade already paid under another transaction id only stores
    the notification, with outcome "already_paid".
    """
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().filter(out_trade_no=notice.out_trade_no).first()
        if payment is None:
            raise UnknownTrade(detail={"out_trade_no": notice.out_trade_no})
        if notice.amount_fen != payment.amount_fen:
            logger.warning("amount mismatch on %s: notified %s, expected %s", notice.out_trade_no,
                           notice.amount_fen, payment.amount_fen)
            raise AmountMismatch(detail={"out_trade_no": notice.out_trade_no})
        record = _notification_store(notice=notice, source=source)
        if record is None:
            return NotifyOutcome(True, "duplicate")
        _, changed = PAYMENT_MACHINE.transition(
            pk=payment.pk, to=PaymentStatus.PAID, action=PaymentEvent.Action.PAID, actor=Actor.WECHAT,
            data={"transaction_id": notice.transaction_id, "amount_fen": notice.amount_fen, "source": source},
            fields={"transaction_id": notice.transaction_id, "paid_at": notice.paid_at})
        outcome = payable_kind(payment.kind).on_paid(notice=notice, source=source) if changed else "already_paid"
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return NotifyOutcome(True, outcome)


def _notification_store(*, notice: PaymentNotice, source: str) -> PaymentNotification | None:
    """Store the notification under its transaction id; None when it was stored before (a repeat).

    Runs in the caller's transaction, after it locked the trade: concurrent repeats wait there.
    """
    try:
        with transaction.atomic():
            return PaymentNotification.objects.create(
                transaction_id=notice.transaction_id, out_trade_no=notice.out_trade_no,
                total_fee_fen=notice.amount_fen, raw_xml=notice.raw or f"[{source}]")
    except IntegrityError:
        return None


def payment_settle_by_query(*, out_trade_no: str) -> bool:
    """Ask WeChat about a trade whose payable is due to be given up (the auto-cancel jobs).

    True when WeChat says it was paid: that is recorded through payment_record_paid() (source
    "orderquery": the notification is stored like a notify's), and the payable must not be
    cancelled. False otherwise: the trade is closed at WeChat first, so it can no longer be
    paid, and the Payment moves to closed — then the caller may cancel its payable. A close
    that WeChat refuses because the trade was paid meanwhile is answered by querying again and
    recording the payment. No trade (the payer never opened the pay sheet) is False without
    asking WeChat. Network calls run outside transactions; safe to repeat and to run in two
    workers at once.
    """
    payment = Payment.objects.filter(out_trade_no=out_trade_no).first()
    if payment is None:
        return False
    gateway = payment_gateway()
    result = gateway.query(out_trade_no=out_trade_no)
    if result.trade_state == TradeState.SUCCESS and result.notice is not None:
        payment_record_paid(notice=result.notice, source=SOURCE_QUERY)
        return True
    if result.trade_state != TradeState.NOT_FOUND:
        try:
            gateway.close(out_trade_no=out_trade_no)
        except TradeAlreadyPaid:
            paid = gateway.query(out_trade_no=out_trade_no)
            if paid.notice is None:
                raise
            payment_record_paid(notice=paid.notice, source=SOURCE_QUERY)
            return True
    _payment_close(payment_id=payment.pk, trade_state=result.trade_state)
    return False


def _payment_close(*, payment_id: int, trade_state: str) -> None:
    """A pending trade that WeChat closed (or never knew) becomes closed; a paid one stays paid."""
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if PAYMENT_MACHINE.can(payment, PaymentStatus.CLOSED):
            PAYMENT_MACHINE.transition(pk=payment_id, to=PaymentStatus.CLOSED, action=PaymentEvent.Action.CLOSED,
                                       actor=Actor.SYSTEM, data={"trade_state": trade_state})
