"""Sending subscribe messages: queue in the caller's transaction, send after commit, log all.

    log = subscribe_message_queue(member_id=…, openid=…, template_key="order_shipped",
                                  values={…}, reference="M2026…:12")   # inside the change's transaction
    # after commit: wechat.tasks.send_subscribe_message(log.pk) → subscribe_message_send(log_id=…)

A send takes one of the member's credits for the template with a conditional UPDATE
(credits >= 1), before WeChat is called. No credit: nothing goes to WeChat, the log says
no_credit. WeChat's answer then decides:

    0                 sent; the credit is spent.
    43101             no consent left at WeChat (our count was wrong): credits set to 0, no retry.
    -1, 43108, network, HTTP 5xx, a token still rejected after a refresh
                      transient: retried with exponential backoff, up to
                      WECHAT_SUBSCRIBE_MAX_ATTEMPTS attempts; then failed.
    anything else     rejected (invalid data, template, page or openid): no retry.

WeChat spends a consent only on a delivered message, so on rejected and failed the credit is
given back. Every call to WeChat is a MessageAttempt row. No network I/O runs inside a
transaction: the credit is claimed in one short transaction, WeChat is called, and the answer
is recorded in another.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.jobs import enqueue
from wechat.errors import WechatApiError
from wechat.messages.fields import FieldFormatError
from wechat.messages.templates import render, template_get
from wechat.miniprogram import TOKEN_REJECTED_ERRCODES, _call, _token_after_rejection, get_access_token
from wechat.models import FINAL_OUTCOMES, MessageAttempt, MessageLog, MessageOutcome, SubscribeConsent

logger = logging.getLogger(__name__)

NO_CONSENT_ERRCODE = 43101
# Worth another try: system busy, the same user messaged concurrently, no answer at all.
TRANSIENT_ERRCODES = frozenset({"-1", "43108", "NETWORK_ERROR", "HTTP_ERROR", "BAD_RESPONSE",
                                *(str(code) for code in TOKEN_REJECTED_ERRCODES)})
# How long a sender may hold a message before another may take it over (it must have crashed).
SENDING_CLAIM_SECONDS = 120
# The sweeper leaves an unfinished message alone for this long past its time.
STALE_AFTER_SECONDS = 300

ERRMSG_NO_CREDIT = "用户未订阅该消息或订阅次数已用完，未发送"
ERRMSG_NO_CONSENT = "微信返回 43101：用户拒绝接收或订阅次数已用完，订阅次数已清零"


@dataclass(frozen=True)
class SendResult:
    """What a send call did. `retry_in` (seconds) is set when the task should try again."""

    outcome: str
    retry_in: int | None = None


@dataclass(frozen=True)
class _Claim:
    log_id: int
    attempt: int
    openid: str
    template_id: str
    page: str
    data: dict[str, str]


def subscribe_message_queue(*, member_id: int, openid: str, template_key: str, values: Mapping[str, Any],
                            reference: str = "") -> MessageLog:
    """Log a message to send and send it after the current transaction commits.

    Call it inside the transaction of the change the message tells about: the log row commits
    with the change, and nothing is sent for a change that rolls back. Values are cut to their
    WeChat types' limits here (wechat.messages.fields); a value that cannot be shown logs the
    message as rejected instead of sending it, a template without an id logs it as failed, and a
    member with no credit for the template logs it as no_credit — none of these is queued.
    Idempotent on (member_id, template_key, reference) when `reference` is given: asking again
    returns the first log and sends nothing more. Raises UnknownTemplate for a key not in
    settings (a mistake in the calling code).
    """
    template = template_get(template_key)
    outcome, errcode, errmsg = MessageOutcome.PENDING, "", ""
    data: dict[str, str] = {}
    page = ""
    try:
        data, page = render(template, values)
    except FieldFormatError as exc:
        outcome, errcode, errmsg = MessageOutcome.REJECTED, "format_error", str(exc)[:300]
    if outcome == MessageOutcome.PENDING and not template.id:
        outcome, errcode, errmsg = MessageOutcome.FAILED, "not_configured", "模板 ID 未配置"
    if outcome == MessageOutcome.PENDING and not SubscribeConsent.objects.filter(
            member_id=member_id, template_id=template.id, credits__gte=1).exists():
        # Most shoppers never subscribe: settle it here rather than queue a task to find out.
        # (A credit is still taken only by the send, with its conditional UPDATE.)
        outcome, errcode, errmsg = MessageOutcome.NO_CREDIT, "no_credit", ERRMSG_NO_CREDIT
    now = timezone.now()
    reference = reference[:64]
    fields = {"openid": openid, "template_id": template.id, "page": page, "data": data, "outcome": outcome,
              "errcode": errcode, "errmsg": errmsg, "updated_at": now,
              "next_attempt_at": now if outcome == MessageOutcome.PENDING else None}
    if reference:
        existing = MessageLog.objects.filter(member_id=member_id, template_key=template_key,
                                             reference=reference).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            log = MessageLog.objects.create(member_id=member_id, template_key=template_key, reference=reference,
                                            **fields)
    except IntegrityError:  # the same reference queued concurrently
        return MessageLog.objects.get(member_id=member_id, template_key=template_key, reference=reference)
    if log.outcome == MessageOutcome.PENDING:
        # robust: a broker outage must not fail the change that already committed; the log
        # stays pending and the sweeper queues it again.
        transaction.on_commit(lambda: _enqueue(log.pk), robust=True)
    return log


def _enqueue(log_id: int) -> None:
    enqueue("wechat.tasks.send_subscribe_message", log_id)


def subscribe_message_send(*, log_id: int, now: dt.datetime | None = None) -> SendResult:
    """Send a queued message once: take a credit, call WeChat, record the answer (see module doc).

    Safe to run twice and concurrently: a finished message is left alone, and a message another
    sender is working on (its claim younger than SENDING_CLAIM_SECONDS) is skipped. A retry does
    not take a second credit. Returns the outcome and, for a transient failure with attempts
    left, how many seconds to wait before the next try.
    """
    claim = _claim(log_id, now or timezone.now())
    if isinstance(claim, SendResult):
        return claim
    errcode, errmsg = _post(claim)
    return _record(claim, errcode, errmsg, timezone.now())


def _claim(log_id: int, now: dt.datetime) -> _Claim | SendResult:
    with transaction.atomic(durable=True):
        log = MessageLog.objects.select_for_update().filter(pk=log_id).first()
        if log is None:
            return SendResult(outcome="missing")
        if log.outcome in FINAL_OUTCOMES:
            return SendResult(outcome=log.outcome)
        if log.outcome == MessageOutcome.SENDING and log.next_attempt_at and log.next_attempt_at > now:
            return SendResult(outcome=log.outcome)
        if not log.credit_used:
            taken = SubscribeConsent.objects.filter(
                member_id=log.member_id, template_id=log.template_id, credits__gte=1
            ).update(credits=F("credits") - 1, updated_at=now)
            if not taken:
                MessageLog.objects.filter(pk=log.pk).update(
                    outcome=MessageOutcome.NO_CREDIT, errcode="no_credit", errmsg=ERRMSG_NO_CREDIT,
                    next_attempt_at=None, updated_at=now)
                return SendResult(outcome=MessageOutcome.NO_CREDIT)
        attempt = log.attempts + 1
        MessageLog.objects.filter(pk=log.pk).update(
            outcome=MessageOutcome.SENDING, credit_used=True, attempts=attempt,
            next_attempt_at=now + dt.timedelta(seconds=SENDING_CLAIM_SECONDS), updated_at=now)
        return _Claim(log_id=log.pk, attempt=attempt, openid=log.openid, template_id=log.template_id,
                      page=log.page, data=dict(log.data))


def _post(claim: _Claim) -> tuple[str, str]:
    """(errcode, errmsg) of one subscribeMessage.send; "0" when delivered. Network I/O only."""
    body: dict[str, Any] = {
        "touser": claim.openid,
        "template_id": claim.template_id,
        "data": {key: {"value": value} for key, value in claim.data.items()},
        "miniprogram_state": settings.WECHAT_SUBSCRIBE_MINIPROGRAM_STATE,
        "lang": "zh_CN",
    }
    if claim.page:
        body["page"] = claim.page
    try:
        token = get_access_token()
        try:
            _call("post", "cgi-bin/message/subscribe/send", params={"access_token": token}, data=body)
        except WechatApiError as exc:
            if exc.errcode not in TOKEN_REJECTED_ERRCODES:
                raise
            # Another process refreshed the token: once more with the current one.
            _call("post", "cgi-bin/message/subscribe/send", params={"access_token": _token_after_rejection(token)},
                  data=body)
    except WechatApiError as exc:
        return str(exc.errcode), str(exc.errmsg)[:300]
    return "0", "ok"


def _record(claim: _Claim, errcode: str, errmsg: str, now: dt.datetime) -> SendResult:
    max_attempts = settings.WECHAT_SUBSCRIBE_MAX_ATTEMPTS
    retry_in: int | None = None
    if errcode == "0":
        outcome = MessageOutcome.SENT
    elif errcode == str(NO_CONSENT_ERRCODE):
        outcome = MessageOutcome.NO_CONSENT
    elif errcode in TRANSIENT_ERRCODES and claim.attempt < max_attempts:
        outcome = MessageOutcome.RETRYING
        retry_in = settings.WECHAT_SUBSCRIBE_RETRY_BASE_SECONDS * 2 ** (claim.attempt - 1)
    elif errcode in TRANSIENT_ERRCODES:
        outcome = MessageOutcome.FAILED
    else:
        outcome = MessageOutcome.REJECTED
    if errcode == "0":
        errcode = errmsg = ""
    with transaction.atomic(durable=True):
        log = MessageLog.objects.select_for_update().get(pk=claim.log_id)
        MessageAttempt.objects.create(log=log, number=claim.attempt, outcome=outcome, errcode=errcode,
                                      errmsg=errmsg)
        changes: dict[str, Any] = {"outcome": outcome, "updated_at": now, "next_attempt_at": None,
                                   "errcode": errcode, "errmsg": errmsg}
        consent = SubscribeConsent.objects.filter(member_id=log.member_id, template_id=log.template_id)
        if outcome == MessageOutcome.SENT:
            changes["sent_at"] = now
        elif outcome == MessageOutcome.NO_CONSENT:
            consent.update(credits=0, updated_at=now)
            changes["errmsg"] = ERRMSG_NO_CONSENT
        elif outcome == MessageOutcome.RETRYING:
            assert retry_in is not None
            changes["next_attempt_at"] = now + dt.timedelta(seconds=retry_in)
        elif log.credit_used:  # rejected or failed: WeChat did not spend the consent
            consent.update(credits=F("credits") + 1, updated_at=now)
            changes["credit_used"] = False
        MessageLog.objects.filter(pk=log.pk).update(**changes)
    if outcome in (MessageOutcome.FAILED, MessageOutcome.REJECTED):
        logger.warning("subscribe message %s %s: %s %s", claim.log_id, outcome, errcode, errmsg)
    return SendResult(outcome=outcome, retry_in=retry_in)


def subscribe_message_requeue_stale(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Queue again the messages whose send never happened (the broker was down at commit, a
    worker died mid-send, a retry was lost): unfinished and more than STALE_AFTER_SECONDS past
    their time. Safe to run any time: a send that is in fact still running skips the message.
    Returns how many were queued."""
    now = now or timezone.now()
    ids = list(
        MessageLog.objects.filter(
            outcome__in=[MessageOutcome.PENDING, MessageOutcome.SENDING, MessageOutcome.RETRYING],
            next_attempt_at__lt=now - dt.timedelta(seconds=STALE_AFTER_SECONDS),
        ).order_by("next_attempt_at").values_list("pk", flat=True)[:batch_size]
    )
    for log_id in ids:
        _enqueue(log_id)
    return len(ids)
