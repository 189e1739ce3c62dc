"""Tags (标签) and segments (人群): writes. The rule engine itself is members.segments.

    tag_add(tag=…, member_ids=[…], operator=…)      -> how many members got the tag now
    tag_remove(tag=…, member_ids=[…], operator=…)   -> how many lost it
    segment_save(segment=…)                          validates the rules, saves
    segment_preview(rules=…)                         -> count, nothing saved
    segment_evaluate(segment_id=…)                   -> count, SegmentMember materialised
    segments_evaluate_all()                          the nightly job
    member_record_category_purchase(member_id=…, category_ids=[…], at=…)   the shop, on payment
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core.db import require_transaction
from core.errors import ValidationFailed
from core.operators import operator_id
from members.errors import SegmentNotFound
from members.models import (
    Member,
    MemberAudit,
    MemberAuditAction,
    MemberCategoryPurchase,
    MemberTag,
    Segment,
    SegmentMember,
    Tag,
)
from members.segments import eligible_members, rules_validate, segment_queryset

logger = logging.getLogger(__name__)

BULK_CHUNK = 5000


# ---------------------------------------------------------------------------------------------
# Tags


def tag_get_or_create(*, name: str) -> Tag:
    """The tag called `name` (stripped), created if new. Safe under concurrency (name is unique)."""
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise ValidationFailed("标签名须为 1–32 个字", code="invalid_tag_name")
    tag, _ = Tag.objects.get_or_create(name=name)
    return tag


def tag_add(*, tag: Tag, member_ids: Iterable[int], operator: AbstractBaseUser | None) -> int:
    """Give `tag` to these members; returns how many did not have it yet.

    Unknown and deleted members are skipped. Idempotent (the (tag, member) pair is unique:
    INSERT … ON CONFLICT DO NOTHING), so a repeat or a concurrent import adds nothing twice.
    One audit row per member that got the tag. Runs in the caller's transaction if there is one
    (the import's), else its own.
    """
    ids = sorted(set(member_ids))
    added = 0
    with transaction.atomic():
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = list(Member.objects.filter(pk__in=ids[start:start + BULK_CHUNK], deleted_at__isnull=True)
                         .values_list("pk", flat=True))
            already = set(MemberTag.objects.filter(tag=tag, member_id__in=chunk).values_list("member_id", flat=True))
            fresh = [pk for pk in chunk if pk not in already]
            # A concurrent tag_add of the same pair loses quietly here (and both write an audit row).
            MemberTag.objects.bulk_create(
                [MemberTag(tag=tag, member_id=pk, operator_id=operator_id(operator)) for pk in fresh],
                ignore_conflicts=True)
            MemberAudit.objects.bulk_create(
                [MemberAudit(member_id=pk, action=MemberAuditAction.TAG_ADDED, operator_id=operator_id(operator),
                             changes={"tag": tag.name}) for pk in fresh])
            added += len(fresh)
    return added


def tag_remove(*, tag: Tag, member_ids: Iterable[int], operator: AbstractBaseUser | None) -> int:
    """Take `tag` from these members; returns how many had it. Idempotent; audit row per removal."""
    ids = sorted(set(member_ids))
    removed = 0
    with transaction.atomic():
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start:start + BULK_CHUNK]
            gone = list(MemberTag.objects.filter(tag=tag, member_id__in=chunk).values_list("member_id", flat=True))
            MemberTag.objects.filter(tag=tag, member_id__in=gone).delete()
            MemberAudit.objects.bulk_create(
                [MemberAudit(member_id=pk, action=MemberAuditAction.TAG_REMOVED, operator_id=operator_id(operator),
                             changes={"tag": tag.name}) for pk in gone])
            removed += len(gone)
    return removed


# ---------------------------------------------------------------------------------------------
# Segments


def segment_save(*, segment: Segment) -> Segment:
    """Validate and normalise `segment.rules`, then save it (new or changed). SegmentRulesInvalid
    changes nothing. Does not evaluate: the count is of the last evaluation until 立即计算 or the
    nightly job."""
    segment.rules = rules_validate(segment.rules)
    segment.save()
    return segment


def segment_preview(*, rules: object, now: dt.datetime | None = None) -> int:
    """How many members the rules select right now; nothing is saved. One COUNT query."""
    return segment_queryset(rules=rules, now=now).count()


def segment_evaluate(*, segment_id: int, now: dt.datetime | None = None) -> int:
    """Materialise the segment's members in SegmentMember; returns the count.

    One outermost transaction: the segment row is locked (two evaluations of one segment queue
    up), its old memberships deleted and the new ones inserted with one INSERT … SELECT of the
    compiled rule query, then member_count / evaluated_at set. Readers (campaigns targeting the
    segment) see the old set or the new one, never half. Idempotent for unchanged data.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
        if segment is None:
            raise SegmentNotFound()
        select_sql, params = segment_queryset(rules=segment.rules, now=now).values_list("pk").query.sql_with_params()
        SegmentMember.objects.filter(segment_id=segment.pk).delete()
        table = SegmentMember._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f'INSERT INTO "{table}" ("segment_id", "member_id") '
                           f"SELECT %s, q.member_id FROM ({select_sql}) AS q(member_id)", [segment.pk, *params])
            count = cursor.rowcount
        Segment.objects.filter(pk=segment.pk).update(member_count=count, evaluated_at=now)
    return count


def segments_evaluate_all(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The nightly job: evaluate every segment, each in its own transaction.

    A segment that fails (rules no longer valid) is logged and skipped; the others still run.
    Returns {"segments": evaluated, "failed": failed, "members": total memberships}.
    """
    evaluated = failed = members = 0
    for segment_id in Segment.objects.order_by("pk").values_list("pk", flat=True):
        try:
            members += segment_evaluate(segment_id=segment_id, now=now)
        except Exception:
            logger.exception("segment %s could not be evaluated", segment_id)
            failed += 1
        else:
            evaluated += 1
    return {"segments": evaluated, "failed": failed, "members": members}


def segment_remove_inactive_members() -> int:
    """Drop memberships of members who were deleted or deactivated since the last evaluation."""
    return SegmentMember.objects.exclude(member__in=eligible_members()).delete()[0]


# ---------------------------------------------------------------------------------------------
# Purchase facts the shop reports (members knows nothing of orders)


def member_record_category_purchase(*, member_id: int, category_ids: Iterable[int], at: dt.datetime) -> None:
    """Record that the member bought from these categories at `at` (a paid order).

    The shop passes every category of the order's products *with their parents*, so a rule on
    a parent category matches purchases in its children. Runs in the caller's transaction (the
    payment's): INSERT … ON CONFLICT DO NOTHING, then `last_bought_at = GREATEST(last, at)`,
    so repeats and out-of-order calls never move it back. Idempotent.
    """
    require_transaction("member_record_category_purchase")
    ids = sorted({int(pk) for pk in category_ids})
    if not ids:
        return
    MemberCategoryPurchase.objects.bulk_create(
        [MemberCategoryPurchase(member_id=member_id, category_id=pk, first_bought_at=at, last_bought_at=at)
         for pk in ids], ignore_conflicts=True)
    MemberCategoryPurchase.objects.filter(member_id=member_id, category_id__in=ids).update(
        last_bought_at=Greatest(F("last_bought_at"), Value(at)))
