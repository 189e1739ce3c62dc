"""Funnel drop-offs saved as a member segment, for the targeted coupon issue to reach.

The members who dropped at a step are tagged (a tag named after the funnel, the step and the
day it was saved) and a segment is made whose rule is that tag, then evaluated: the segment
keeps exactly these members through the nightly re-evaluation, and campaigns' 定向发券 targets
it like any segment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from analytics.models import Funnel
from analytics.selectors.funnels import funnel_dropoffs
from core.errors import ValidationFailed
from members.models import Segment
from members.services.segments import segment_evaluate, segment_save, tag_add, tag_get_or_create


@dataclass(frozen=True)
class SavedDropoffs:
    segment: Segment
    members: int  # members in the segment
    anonymous: int  # people who dropped without ever logging in: not reachable, not in it


def funnel_dropoffs_save(*, funnel: Funnel, first: dt.date, last: dt.date, step: int,
                         operator: AbstractBaseUser | None) -> SavedDropoffs:
    """Save the members who reached step `step` - 1 of `funnel` but not `step` (people entering on
    `first`..`last`) as a new segment, evaluated at once.

    Saving the same drop-off again the same day reuses the tag and the segment (its name is the
    same), so a double click makes one segment. The tag and segment writes are members' services
    (their own transactions, audit rows for the tags).
    """
    if not 2 <= step <= len(funnel.steps):
        raise ValidationFailed(f"只能保存第 2 到第 {len(funnel.steps)} 步的流失用户", code="invalid_step")
    member_ids, anonymous = funnel_dropoffs(funnel=funnel, first=first, last=last, step=step)
    if not member_ids:
        raise ValidationFailed("这一步没有可触达的流失会员（流失的都是未登录访客）", code="no_dropoffs",
                               detail={"anonymous": anonymous})
    today = timezone.localdate()
    tag = tag_get_or_create(name=f"漏斗{funnel.pk}第{step}步流失{today:%y%m%d}")
    tag_add(tag=tag, member_ids=member_ids, operator=operator)
    name = f"{funnel.name[:30]} 第{step}步流失 {first:%m%d}-{last:%m%d}"
    segment = Segment.objects.filter(name=name).first() or Segment(name=name)
    segment.description = (f"转化漏斗「{funnel.name}」{first}~{last} 进入漏斗、完成第 {step - 1} 步但未完成"
                           f"第 {step} 步的会员")[:200]
    segment.rules = {"all": [{"type": "tag", "tag_ids": [tag.pk]}]}
    segment_save(segment=segment)
    count = segment_evaluate(segment_id=segment.pk)
    return SavedDropoffs(segment=segment, members=count, anonymous=anonymous)
