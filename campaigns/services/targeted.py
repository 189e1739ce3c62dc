"""定向发放: an operator issues one template to a segment, a tag or an uploaded list of members.

The wizard previews (how many are targeted, how many would likely receive it), creates a draft —
which freezes the target: the member ids, sorted, go into `TargetedIssue.member_ids` and their
number into `targeted_count` — then starts it; a Celery job (`campaigns.tasks.run_targeted_issue`)
runs `targeted_issue_run()`.

The job walks the frozen ids in order, a chunk of settings.TARGETED_ISSUE_CHUNK at a time, one
transaction per chunk doing in bulk what coupon_grant() does for one member: eligibility as a SQL
filter, the members' quota rows locked in member order, total quantity and budget taken from the
template with one conditional UPDATE for the whole chunk, the coupons and their ISSUED ledger
rows inserted by one statement, the quota rows and the issue's cursor and counts updated. So a
crash loses at most the chunk in flight (rolled back, redone on resume), a second run issues
nothing twice, and issued + skipped_limit + skipped_ineligible == targeted when it is done.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns.errors import CouponTemplateNotFound, TargetedIssueInvalid, TargetedIssueNotFound
from campaigns.models import (
    Coupon,
    CouponEvent,
    CouponQuota,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    TargetedIssue,
    Validity,
)
from campaigns.services.coupons import (
    STOCK_FIELDS,
    coupon_quotas_lock,
    coupon_room,
    coupon_stock_take_many,
    coupon_validity,
)
from core.jobs import enqueue_after_commit
from core.operators import operator_id
from core.tracking import track
from members.models import Member, MemberTag, Segment, SegmentMember, Tag

Target = TargetedIssue.Target
Status = TargetedIssue.Status
# Member ids go to the database this many at a time outside the job (preview, freezing a list).
_ID_BATCH = 10_000


@dataclass(frozen=True)
class TargetPreview:
    targeted: int  # members in the target (segment / tag rows; list: ids that exist and are active)
    eligible_estimate: int  # of those, how many would receive a coupon if the job ran now


def targeted_issue_preview(*, template_id: int, target: str, segment_id: int | None = None,
                           tag_id: int | None = None, member_ids: list[int] | None = None) -> TargetPreview:
    """How many members `target` holds and how many of them would receive the template now.

    The estimate applies what the job applies — eligibility (active member, new customers only,
    tiers, segments), the per-member and per-day limits, the total quantity and budget left — to
    the members as they are now; the job re-checks everything when it runs. Reads only.
    Raises CouponTemplateNotFound, TargetedIssueInvalid.
    """
    template = _template(template_id)
    ids = _target_ids(target=target, segment_id=segment_id, tag_id=tag_id, member_ids=member_ids)
    now = timezone.now()
    condition = _eligibility(template, now)
    receivable = 0
    if condition is not None:
        for chunk in _batches(ids, _ID_BATCH):
            eligible = Member.objects.filter(condition, pk__in=chunk).values("pk")
            blocked = CouponQuota.objects.filter(_limit_reached(template, timezone.localdate(now)),
                                                 template=template, member_id__in=eligible).count()
            receivable += eligible.count() - blocked
    return TargetPreview(targeted=len(ids), eligible_estimate=min(receivable, _stock_left(template)))


def targeted_issue_create(*, template_id: int, target: str, segment_id: int | None = None, tag_id: int | None = None,
                          member_ids: list[int] | None = None,
                          operator: AbstractBaseUser | None = None) -> TargetedIssue:
    """A draft issue with its target frozen: the member ids (sorted) and targeted_count.

    Segment and tag: every member in it now (inactive ones will be counted as not eligible).
    Uploaded list: the ids that exist and are active, each once. Nothing is issued until
    targeted_issue_start(). Raises CouponTemplateNotFound, TargetedIssueInvalid (no such
    segment / tag, an empty list, or nobody in the target).
    """
    template = _template(template_id)
    ids = _target_ids(target=target, segment_id=segment_id, tag_id=tag_id, member_ids=member_ids)
    if not ids:
        raise TargetedIssueInvalid("发放对象中没有会员", detail={"target": target})
    with transaction.atomic(durable=True):
        return TargetedIssue.objects.create(
            template=template, target=target, segment_id=segment_id if target == Target.SEGMENT else None,
            tag_id=tag_id if target == Target.TAG else None, member_ids=ids, targeted_count=len(ids),
            status=Status.DRAFT, created_by_id=operator_id(operator))


def targeted_issue_start(*, issue_id: int, operator: AbstractBaseUser | None = None) -> TargetedIssue:
    """Confirm a draft (or retry a failed issue): status → queued, and the job is enqueued after commit.

    Idempotent: a done issue is returned as it is (nothing more is ever issued); a queued or
    running one is enqueued again without changing it — for a job whose worker was lost — which
    is safe because every chunk locks the issue row and continues from its cursor.
    Raises TargetedIssueNotFound.
    """
    del operator  # who confirmed is the operator's admin log entry; the issue keeps its creator
    with transaction.atomic(durable=True):
        issue = TargetedIssue.objects.select_for_update().filter(pk=issue_id).first()
        if issue is None:
            raise TargetedIssueNotFound(detail={"issue_id": issue_id})
        if issue.status == Status.DONE:
            return issue
        if issue.status in (Status.DRAFT, Status.FAILED):
            issue.status, issue.error = Status.QUEUED, ""
            issue.save(update_fields=["status", "error"])
        enqueue_after_commit("campaigns.tasks.run_targeted_issue", issue_id)
    return issue


def targeted_issue_run(*, issue_id: int, max_chunks: int | None = None) -> dict[str, int]:
    """The job: issue the template to the frozen target, chunk by chunk; returns the counts.

    Runs a queued or running issue (resuming after its cursor); a draft, done or failed one is
    left alone and its counts returned. Each chunk is one durable transaction that locks the
    issue row first, so two workers given the same issue take turns and never issue twice; a
    coupon also carries issue_key "targeted:<issue>:<member>" (unique). Per chunk:

    - not eligible (inactive member, template inactive or its fixed validity over, new customers
      only, tiers, segments — as coupon_ineligibility() with check_window=False): skipped_ineligible;
    - at the per-member or per-day limit (quota rows locked FOR UPDATE in member order, the
      order coupon_grant() locks them in, then the template): skipped_limit;
    - the rest take total quantity and budget with one conditional UPDATE on the template; what
      it cannot cover (the first members in id order get the coupons) is skipped_limit too.

    `max_chunks` stops after that many chunks with the issue still running (a long job may
    re-enqueue itself; it leaves exactly the state a crash between chunks leaves). An error in
    a chunk rolls that chunk back, marks the issue failed with the error, and is raised.
    """
    with transaction.atomic(durable=True):
        issue = TargetedIssue.objects.select_for_update().filter(pk=issue_id).first()
        if issue is None:
            raise TargetedIssueNotFound(detail={"issue_id": issue_id})
        if issue.status == Status.QUEUED:
            issue.status = Status.RUNNING
            issue.started_at = issue.started_at or timezone.now()
            issue.save(update_fields=["status", "started_at"])
        elif issue.status != Status.RUNNING:
            return _counts(issue)
    ids: list[int] = list(issue.member_ids)
    chunk_size = max(1, int(settings.TARGETED_ISSUE_CHUNK))
    chunks = 0
    try:
        while max_chunks is None or chunks < max_chunks:
            chunks += 1
            if _chunk_run(issue_id=issue_id, ids=ids, size=chunk_size):
                break
    except Exception as exc:
        TargetedIssue.objects.filter(pk=issue_id, status=Status.RUNNING).update(
            status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:200])
        raise
    issue = TargetedIssue.objects.get(pk=issue_id)
    if issue.status == Status.DONE:
        track("targeted_issue_done", properties={"issue_id": issue_id, **_counts(issue)})
    return _counts(issue)


def _chunk_run(*, issue_id: int, ids: list[int], size: int) -> bool:
    """Process the next chunk after the cursor; True when there is nothing left (issue done)."""
    with transaction.atomic(durable=True):
        issue = TargetedIssue.objects.select_for_update().get(pk=issue_id)
        if issue.status != Status.RUNNING:
            return True
        start = bisect.bisect_right(ids, issue.cursor)
        chunk = ids[start:start + size]
        if not chunk:
            issue.status, issue.finished_at = Status.DONE, timezone.now()
            issue.save(update_fields=["status", "finished_at"])
            return True
        template = CouponTemplate.objects.get(pk=issue.template_id)
        now = timezone.now()
        today = timezone.localdate(now)
        condition = _eligibility(template, now)
        eligible = [] if condition is None else list(
            Member.objects.filter(condition, _id_in(f"{Member._meta.db_table}.id", chunk)).order_by("pk")
            .values_list("pk", flat=True))
        quota = CouponQuota._meta.db_table
        under = [member_id for member_id, reason in coupon_quotas_lock(template=template, member_ids=eligible,
                                                                        today=today) if not reason]
        winners = under[:coupon_stock_take_many(template, len(under))]
        if winners:
            _issue(template=template, issue_id=issue.pk, member_ids=winners, now=now)
            CouponQuota.objects.filter(_id_in(f"{quota}.member_id", winners), template=template).update(
                claimed_total=F("claimed_total") + 1,
                claimed_on_day=Case(When(day=today, then=F("claimed_on_day") + 1), default=Value(1)),
                day=today)
        TargetedIssue.objects.filter(pk=issue.pk).update(
            cursor=chunk[-1], processed_count=F("processed_count") + len(chunk),
            issued_count=F("issued_count") + len(winners),
            skipped_limit_count=F("skipped_limit_count") + len(eligible) - len(winners),
            skipped_ineligible_count=F("skipped_ineligible_count") + len(chunk) - len(eligible))
    return False


def _issue(*, template: CouponTemplate, issue_id: int, member_ids: list[int], now: dt.datetime) -> None:
    """Insert the coupons and their ISSUED ledger rows in one statement (the job's hot path:
    bulk_create would build a model instance per row and need a second round trip)."""
    valid_from, valid_until = coupon_validity(template=template, now=now)
    coupon, event = Coupon._meta.db_table, CouponEvent._meta.db_table
    sql = f"""
        WITH issued AS (
            INSERT INTO {coupon} (template_id, member_id, status, valid_from, valid_until, source, issue_key,
                                  targeted_issue_id, discount_fen, claimed_at)
            SELECT %(template)s, m, %(status)s, %(valid_from)s, %(valid_until)s, %(source)s,
                   'targeted:' || %(issue)s || ':' || m, %(issue)s, 0, %(now)s
            FROM unnest(%(members)s::bigint[]) AS m
            RETURNING id, issue_key
        )
        INSERT INTO {event} (coupon_id, action, reference, amount_fen, created_at)
        SELECT id, %(action)s, issue_key, %(face)s, %(now)s FROM issued
    """  # table names from our models; every value is bound
    with connection.cursor() as cursor:
        cursor.execute(sql, {
            "template": template.pk, "status": CouponStatus.AVAILABLE, "valid_from": valid_from,
            "valid_until": valid_until, "source": CouponSource.TARGETED, "issue": issue_id, "now": now,
            "members": member_ids, "action": CouponEvent.Action.ISSUED, "face": template.face_value_fen,
        })


def _id_in(column: str, ids: list[int]) -> RawSQL:
    """`column = ANY(ids)`: one array parameter instead of an IN list of thousands."""
    return RawSQL(f"{column} = ANY(%s::bigint[])", (ids,), output_field=BooleanField())


def _stock_left(template: CouponTemplate) -> int:
    row = CouponTemplate.objects.values(*STOCK_FIELDS).get(pk=template.pk)
    return max(0, coupon_room(row, template.face_value_fen))


def _eligibility(template: CouponTemplate, now: dt.datetime) -> Q | None:
    """The members who may receive `template` now, as a filter on Member; None when nobody may.

    The same rules as coupon_ineligibility(check_window=False), plus an active member."""
    if not template.is_active:
        return None
    if template.validity == Validity.FIXED and template.valid_until and now >= template.valid_until:
        return None
    condition = Q(is_active=True)
    if template.new_customer_only:
        condition &= Q(paid_order_count=0)
    tier_ids = list(template.tiers.values_list("pk", flat=True))
    if tier_ids:
        condition &= Q(tier_id__in=tier_ids)
    segment_ids = list(template.segments.values_list("pk", flat=True))
    if segment_ids:
        condition &= Q(Exists(SegmentMember.objects.filter(member_id=OuterRef("pk"), segment_id__in=segment_ids)))
    return condition


def _limit_reached(template: CouponTemplate, today: dt.date) -> Q:
    """Quota rows at the per-member or (today) per-day limit."""
    reached = Q(claimed_total__gte=template.per_member_limit)
    if template.per_day_limit:
        reached |= Q(day=today, claimed_on_day__gte=template.per_day_limit)
    return reached


def _target_ids(*, target: str, segment_id: int | None, tag_id: int | None,
                member_ids: list[int] | None) -> list[int]:
    """The target's member ids, sorted, each once."""
    if target == Target.SEGMENT:
        if segment_id is None or not Segment.objects.filter(pk=segment_id).exists():
            raise TargetedIssueInvalid("人群不存在", detail={"segment_id": segment_id})
        rows = SegmentMember.objects.filter(segment_id=segment_id)
        return list(rows.order_by("member_id").values_list("member_id", flat=True))
    if target == Target.TAG:
        if tag_id is None or not Tag.objects.filter(pk=tag_id).exists():
            raise TargetedIssueInvalid("标签不存在", detail={"tag_id": tag_id})
        tagged = MemberTag.objects.filter(tag_id=tag_id)
        return list(tagged.order_by("member_id").values_list("member_id", flat=True))
    if target == Target.MEMBERS:
        if not member_ids:
            raise TargetedIssueInvalid("上传名单为空", detail={"member_ids": []})
        wanted = sorted({m for m in member_ids if isinstance(m, int) and not isinstance(m, bool) and 0 < m < 1 << 63})
        found: list[int] = []
        for chunk in _batches(wanted, _ID_BATCH):
            found += Member.objects.filter(pk__in=chunk, is_active=True).order_by("pk").values_list("pk", flat=True)
        return found
    raise TargetedIssueInvalid(detail={"target": target, "choices": list(Target.values)})


def _template(template_id: int) -> CouponTemplate:
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise CouponTemplateNotFound(detail={"template_id": template_id})
    return template


def _counts(issue: TargetedIssue) -> dict[str, int]:
    return {
        "targeted": issue.targeted_count,
        "processed": issue.processed_count,
        "issued": issue.issued_count,
        "skipped_limit": issue.skipped_limit_count,
        "skipped_ineligible": issue.skipped_ineligible_count,
    }


def _batches(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

