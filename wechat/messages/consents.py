"""Consents: what a shopper accepted in wx.requestSubscribeMessage, as send credits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ValidationFailed
from wechat.messages.templates import UnknownTemplate, template_by_id, templates
from wechat.models import SubscribeConsent, SubscribeResult


@dataclass(frozen=True)
class TemplateCredits:
    """One template as the mini-program sees it: the id to ask for and the credits held."""

    key: str
    template_id: str
    title: str
    credits: int
    last_result: str


def subscribe_consent_record(*, member_id: int, openid: str, results: Mapping[str, str],
                             now: dt.datetime | None = None) -> list[TemplateCredits]:
    """Record what wx.requestSubscribeMessage answered: `results` maps template id → accept,
    reject, ban or filter. Each accept is one more send credit for that member and template;
    the other answers are remembered but change no credit (a reject does not cancel earlier
    accepts at WeChat either).

    Validates everything first: an unknown template id raises UnknownTemplate, an answer that
    is not one of the four raises ValidationFailed, and nothing is written. One transaction;
    credits grow by an UPDATE … credits + 1, so concurrent requests never lose an accept. Not
    idempotent: each answer is posted once (a replay would over-count until WeChat's 43101 sets
    the count right). Returns the member's credits for every configured template.
    """
    by_id = template_by_id()
    unknown = sorted(str(tid) for tid in results if tid not in by_id)
    if unknown:
        raise UnknownTemplate("未知的订阅消息模板", detail={"template_ids": unknown})
    invalid = {tid: answer for tid, answer in results.items() if answer not in SubscribeResult.values}
    if invalid:
        raise ValidationFailed("订阅结果只能是 accept、reject、ban 或 filter", code="invalid_subscribe_result",
                               detail={"results": invalid})
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        for template_id in sorted(results):  # one lock order for concurrent requests
            template, answer = by_id[template_id], results[template_id]
            added = 1 if answer == SubscribeResult.ACCEPT else 0
            changes = {"credits": F("credits") + added, "accepted_total": F("accepted_total") + added,
                       "last_result": answer, "last_result_at": now, "updated_at": now,
                       "openid": openid, "template_key": template.key}
            rows = SubscribeConsent.objects.filter(member_id=member_id, template_id=template_id)
            if rows.update(**changes):
                continue
            try:
                with transaction.atomic():
                    SubscribeConsent.objects.create(
                        member_id=member_id, openid=openid, template_key=template.key, template_id=template_id,
                        credits=added, accepted_total=added, last_result=answer, last_result_at=now,
                        updated_at=now)
            except IntegrityError:  # a concurrent request created the row first
                rows.update(**changes)
    return subscribe_credits_for_member(member_id=member_id)


def subscribe_credits_for_member(*, member_id: int) -> list[TemplateCredits]:
    """Every configured template with the member's credits for its current id (0 when none)."""
    configured = templates()
    ids = [t.id for t in configured.values() if t.id]
    rows = {c.template_id: c for c in SubscribeConsent.objects.filter(member_id=member_id, template_id__in=ids)}
    answer = []
    for template in configured.values():
        if not template.id:
            continue
        row = rows.get(template.id)
        answer.append(TemplateCredits(key=template.key, template_id=template.id, title=template.title,
                                      credits=row.credits if row else 0,
                                      last_result=row.last_result if row else ""))
    return answer
