"""Checking every image a member uploads with WeChat (mediaCheckAsync v2) before others see it.

    check = media_check_create(kind="review_photo", object_id=photo.pk, member_id=…, openid=…,
                               media_name=photo.image.name)        # in the upload's transaction
    # after commit: wechat.tasks.submit_media_check(check.pk) → media_check_submit(check_id=…)
    # WeChat pushes its verdict (wxa_media_check) → media_check_record_verdict(event=…)
    # 待人工审核 in the console → media_check_decide(check_id=…, to="pass" | "risky", operator=…)

The apps that own images register a `MediaKind` (wechat.media_kinds, from their AppConfig.ready(),
like payable kinds): wechat knows nothing of reviews or after-sales, the owner shows an image only while its
check says pass, and `on_decided` lets it refresh what it derives from that (a review's 有图).

Submission runs after commit, outside any transaction: WeChat fetches the image itself through a
signed link (core.media). Transient failures (system busy, network, a rejected token) are retried
with exponential backoff — the task retries, and the `media-checks.sweep` job picks up what a lost
task or a dead worker left — up to WECHAT_MEDIA_CHECK_MAX_ATTEMPTS. A request WeChat refuses, or
the attempts running out, sends the image to an operator (review): no image is shown unchecked.

The verdict is idempotent per trace_id: only a pending check moves, once, and a repeat (WeChat
retries a push it got no "success" for) changes nothing. A trace_id we do not know yet is answered
404 so WeChat pushes again: the push can overtake the commit that stores the trace_id.

Lock order: the MediaCheck row, then whatever the kind's on_decided locks (the photo, then the
review it belongs to).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.audit import Actor
from core.errors import NotFound
from core.jobs import enqueue_after_commit
from core.media import private_storage
from wechat.errors import InvalidPush, WechatApiError
from wechat.media_kinds import media_kind
from wechat.miniprogram import TOKEN_REJECTED_ERRCODES
from wechat.models import MEDIA_CHECK_MACHINE, MediaCheck, MediaCheckAction, MediaCheckStatus
from wechat.security import LABELS, Scene, media_check_async

logger = logging.getLogger(__name__)

SUBMIT_TASK = "wechat.tasks.submit_media_check"
EVENT = "wxa_media_check"
# Worth another try: system busy, no answer at all, a token still rejected after a refresh.
TRANSIENT_ERRCODES = frozenset({"-1", "NETWORK_ERROR", "HTTP_ERROR", "BAD_RESPONSE",
                                *(str(code) for code in TOKEN_REJECTED_ERRCODES)})
# A run that is due a little later than now still goes (clocks, the task's own countdown).
DUE_TOLERANCE = dt.timedelta(seconds=1)
VERDICTS = frozenset({MediaCheckStatus.PASS, MediaCheckStatus.REVIEW, MediaCheckStatus.RISKY})
OPERATOR_DECISIONS = frozenset({MediaCheckStatus.PASS, MediaCheckStatus.RISKY})


class UnknownMediaCheck(NotFound):
    code = "media_check_not_found"
    message = "没有该图片检测"


# --- creating and submitting ---------------------------------------------------------------------


def media_check_create(*, kind: str, object_id: int, member_id: int | None, openid: str,
                       media_name: str) -> MediaCheck:
    """A pending check of the private file `media_name`, submitted to WeChat after the caller's
    transaction commits (robustly: if the task cannot be queued, the sweep submits it).

    Call it in the transaction that stores the image. One check per (kind, object_id).
    """
    if media_kind(kind) is None:
        raise ValueError(f"no media kind {kind!r} is registered")
    check = MediaCheck.objects.create(kind=kind, object_id=object_id, member_id=member_id, openid=openid,
                                      media_name=media_name, next_attempt_at=timezone.now())
    MEDIA_CHECK_MACHINE.record(check, action=MediaCheckAction.CREATED, from_status="", actor=Actor.MEMBER)
    enqueue_after_commit(SUBMIT_TASK, check.pk, robust=True)
    return check


def media_check_url(media_name: str) -> str:
    """The absolute, signed and expiring link WeChat fetches the image through."""
    url = private_storage().url(media_name)
    return url if url.startswith(("http://", "https://")) else settings.SITE_URL + url


@dataclass(frozen=True)
class SubmitOutcome:
    """What a submission did: "submitted", "retrying", "review" (given to an operator) or
    "skipped" (not due, already submitted or decided). `retry_in` is set when the task should
    try again after that many seconds."""

    state: str
    retry_in: float | None = None


def media_check_submit(*, check_id: int, now: dt.datetime | None = None) -> SubmitOutcome:
    """Submit one pending check to WeChat if it is due. Safe to run twice and in two workers.

    Claims the row (SKIP LOCKED, a lease in next_attempt_at) in one short transaction, calls
    WeChat outside any, stores the trace_id in another. See the module docstring for failures.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        check = (MediaCheck.objects.select_for_update(skip_locked=True)
                 .filter(pk=check_id, status=MediaCheckStatus.PENDING, trace_id__isnull=True).first())
        if check is None or check.next_attempt_at is None or check.next_attempt_at > now + DUE_TOLERANCE:
            return SubmitOutcome("skipped")
        check.attempts += 1
        # The lease: if this worker dies mid-call, the sweep submits again once it has passed.
        check.next_attempt_at = now + dt.timedelta(seconds=2 * settings.WECHAT_HTTP_TIMEOUT + 30)
        check.save(update_fields=["attempts", "next_attempt_at"])
    try:
        trace_id = media_check_async(media_url=media_check_url(check.media_name), openid=check.openid,
                                     scene=Scene.COMMENT)
    except WechatApiError as exc:
        return _submit_failed(check_id=check_id, error=f"[{exc.errcode}] {exc.errmsg}".strip(),
                              transient=str(exc.errcode) in TRANSIENT_ERRCODES)
    with transaction.atomic(durable=True):
        check = MediaCheck.objects.select_for_update().get(pk=check_id)
        if check.trace_id is not None or check.status != MediaCheckStatus.PENDING:
            return SubmitOutcome("skipped")  # an operator decided meanwhile
        check.trace_id, check.submitted_at, check.next_attempt_at, check.last_error = trace_id, now, None, ""
        check.save(update_fields=["trace_id", "submitted_at", "next_attempt_at", "last_error"])
        MEDIA_CHECK_MACHINE.record(check, action=MediaCheckAction.SUBMITTED, data={"trace_id": trace_id,
                                                                                   "attempt": check.attempts})
    return SubmitOutcome("submitted")


def _submit_failed(*, check_id: int, error: str, transient: bool) -> SubmitOutcome:
    with transaction.atomic(durable=True):
        check = MediaCheck.objects.select_for_update().get(pk=check_id)
        if check.status != MediaCheckStatus.PENDING:
            return SubmitOutcome("skipped")
        retry_in = None
        if transient and check.attempts < settings.WECHAT_MEDIA_CHECK_MAX_ATTEMPTS:
            retry_in = _backoff_seconds(check.attempts)
        check.last_error = error[:300]
        check.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in) if retry_in is not None else None
        check.save(update_fields=["last_error", "next_attempt_at"])
        MEDIA_CHECK_MACHINE.record(check, action=MediaCheckAction.SUBMIT_FAILED, note=error,
                                   data={"attempt": check.attempts, "transient": transient, "retry_in": retry_in})
        if retry_in is None:
            _move(check, to=MediaCheckStatus.REVIEW, action=MediaCheckAction.VERDICT, actor=Actor.SYSTEM,
                  note=f"无法提交微信检测（{error}），转人工审核")
    logger.warning("media check %s not submitted (attempt %s): %s", check_id, check.attempts, error)
    return SubmitOutcome("retrying" if retry_in is not None else "review", retry_in=retry_in)


def _backoff_seconds(attempts: int) -> float:
    """base × 2^(attempts−1), at most an hour."""
    return float(min(settings.WECHAT_MEDIA_CHECK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), 3600))


def media_checks_due(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Ids of pending checks not yet accepted by WeChat whose (re)submission time has passed."""
    now = now or timezone.now()
    return list(MediaCheck.objects.filter(status=MediaCheckStatus.PENDING, trace_id__isnull=True,
                                          next_attempt_at__lte=now)
                .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


# --- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaVerdict:
    """What a wxa_media_check event says about one trace_id."""

    trace_id: str
    suggest: str  # pass | review | risky
    label: int | None
    strategy: str = ""
    errcode: int = 0


def media_verdict_from_event(event: Mapping[str, Any]) -> MediaVerdict:
    """Read a pushed wxa_media_check event (JSON, or XML with text values). Raises InvalidPush
    when it is not one. A non-zero errcode (WeChat could not check the file) asks for review."""
    trace_id = event.get("trace_id")
    result = event.get("result")
    if not isinstance(trace_id, str) or not trace_id or len(trace_id) > 64 or not isinstance(result, dict):
        raise InvalidPush(detail={"reason": "not_a_media_check"})
    suggest = result.get("suggest")
    if suggest not in VERDICTS:
        raise InvalidPush(detail={"reason": "suggest"})
    errcode = _int(event.get("errcode"), default=0)
    label = _int(result.get("label"), default=None)
    details = event.get("detail")
    items = details if isinstance(details, list) else [details]
    strategy = next((str(item.get("strategy") or "")[:32] for item in items
                     if isinstance(item, dict) and item.get("suggest") == suggest and suggest != "pass"), "")
    if errcode:
        suggest = MediaCheckStatus.REVIEW
    return MediaVerdict(trace_id=trace_id, suggest=str(suggest), label=label, strategy=strategy,
                        errcode=errcode or 0)


def _int(value: Any, *, default: int | None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 12:
        return int(value)
    return default


def media_check_record_verdict(*, verdict: MediaVerdict) -> str:
    """Record WeChat's verdict on a check. Idempotent per trace_id.

    One durable transaction: locks the check by trace_id (UnknownMediaCheck, 404, when none has
    it yet); a check no longer pending (a repeat, or an operator decided first) is left alone
    ("duplicate"); else it moves to the verdict and its kind's on_decided runs ("recorded").
    """
    with transaction.atomic(durable=True):
        check = MediaCheck.objects.select_for_update().filter(trace_id=verdict.trace_id).first()
        if check is None:
            raise UnknownMediaCheck(detail={"trace_id": verdict.trace_id})
        if check.status != MediaCheckStatus.PENDING:
            return "duplicate"
        label_text = LABELS.get(verdict.label, str(verdict.label)) if verdict.label is not None else ""
        note = f"微信判定：{MediaCheckStatus(verdict.suggest).label}"
        if verdict.suggest != MediaCheckStatus.PASS and label_text:
            note += f"（{label_text}）"
        if verdict.errcode:
            note = f"微信无法检测该图片（{verdict.errcode}），转人工审核"
        _move(check, to=verdict.suggest, action=MediaCheckAction.VERDICT, actor=Actor.SYSTEM, note=note,
              fields={"label": verdict.label, "strategy": verdict.strategy},
              data={"trace_id": verdict.trace_id, "label": verdict.label, "errcode": verdict.errcode})
    return "recorded"


def media_check_decide(*, check_id: int, to: str, operator: AbstractBaseUser | None, note: str = "") -> MediaCheck:
    """人工审核: an operator decides a check WeChat sent to review (or one still pending): pass
    shows the image, risky never does. Idempotent; a check already passed or risky is refused."""
    if to not in OPERATOR_DECISIONS:
        raise ValueError(f"an operator decides pass or risky, not {to!r}")
    with transaction.atomic(durable=True):
        check = MediaCheck.objects.select_for_update().filter(pk=check_id).first()
        if check is None:
            raise UnknownMediaCheck(detail={"id": check_id})
        _move(check, to=to, action=MediaCheckAction.DECIDED, actor=Actor.OPERATOR, operator=operator,
              note=note or f"人工审核：{MediaCheckStatus(to).label}",
              allowed_from=(MediaCheckStatus.PENDING, MediaCheckStatus.REVIEW))
        check.refresh_from_db()
    return check


def _move(check: MediaCheck, *, to: str, action: str, actor: str, note: str,
          operator: AbstractBaseUser | None = None, fields: Mapping[str, Any] | None = None,
          data: dict[str, Any] | None = None, allowed_from: Iterable[str] | None = None) -> None:
    """The transition, then the owner's on_decided, in the caller's transaction (check locked)."""
    _, changed = MEDIA_CHECK_MACHINE.transition(pk=check.pk, to=to, action=action, actor=actor, operator=operator,
                                                note=note, fields=fields, data=data, allowed_from=allowed_from)
    kind = media_kind(check.kind)
    if changed and kind is not None and kind.on_decided is not None:
        kind.on_decided(object_id=check.object_id, status=to)


def media_checks_delete(*, ids: Iterable[int]) -> int:
    """Delete checks (and their audit rows) of images that are gone, in the caller's transaction:
    a deleted member's photos take the openid they were checked under with them."""
    _, deleted = MediaCheck.objects.filter(pk__in=[i for i in ids if i]).delete()
    return deleted.get(MediaCheck._meta.label, 0)
