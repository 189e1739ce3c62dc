"""What must hold: a targeted issue to a segment of 10,000 members runs as a job on a
real Celery worker, is idempotent, and its counts add up."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db.models import Count

from campaigns.models import Coupon, CouponEvent, CouponQuota, CouponSource, TargetedIssue
from campaigns.services.coupons import coupon_grant
from campaigns.services.targeted import targeted_issue_create, targeted_issue_preview, targeted_issue_start
from campaigns.tasks import run_targeted_issue
from members.models import Member, Segment, SegmentMember
from tests.celery_worker import real_worker, run_on_worker
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)

SEGMENT_SIZE = 10_000


def wait_until_finished(issue_id: int, *, timeout: float = 300) -> TargetedIssue:
    deadline = time.monotonic() + timeout
    while True:
        issue = TargetedIssue.objects.get(pk=issue_id)
        if issue.status in (TargetedIssue.Status.DONE, TargetedIssue.Status.FAILED):
            return issue
        assert time.monotonic() < deadline, f"the worker did not finish the issue ({issue.status})"
        time.sleep(0.2)


def test_a_segment_of_ten_thousand_is_issued_by_the_job_once_with_counts_that_add_up():
    # given a segment of 10,000: 300 inactive, 200 who have paid before (the template is for new
    # customers), 150 who already hold the coupon (per member 1), the rest can receive it
    template = CouponTemplateFactory.create(name="新客专享满100减10", new_customer_only=True, per_member_limit=1)
    tag = uuid.uuid4().hex[:6]
    people = Member.objects.bulk_create(
        [Member(openid=f"o-seg-{tag}-{i:05d}", is_active=i % 50 != 7,
                paid_order_count=1 if i % 50 == 11 else 0) for i in range(SEGMENT_SIZE)], batch_size=5000)
    inactive = [m for m in people if not m.is_active]
    paid = [m for m in people if m.paid_order_count]
    holders = [m for m in people if m.is_active and not m.paid_order_count][::62][:150]
    for member in holders:
        coupon_grant(template=template, member=member, source=CouponSource.CENTER)
    segment = Segment.objects.create(name="一万人")
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m) for m in people], batch_size=5000)
    assert (len(inactive), len(paid), len(holders)) == (200, 200, 150)
    receivers = SEGMENT_SIZE - 200 - 200 - 150

    # when the operator previews, confirms, and the job runs on a real worker
    preview = targeted_issue_preview(template_id=template.pk, target="segment", segment_id=segment.pk)
    issue = targeted_issue_create(template_id=template.pk, target="segment", segment_id=segment.pk)
    with real_worker():
        started = time.monotonic()
        targeted_issue_start(issue_id=issue.pk)
        issue = wait_until_finished(issue.pk)
        seconds = time.monotonic() - started

        # then every count is exact and they add up to the target
        assert (preview.targeted, preview.eligible_estimate) == (SEGMENT_SIZE, receivers)
        assert (issue.status, issue.error) == ("done", "")
        assert (issue.targeted_count, issue.processed_count) == (SEGMENT_SIZE, SEGMENT_SIZE)
        assert (issue.issued_count, issue.skipped_limit_count, issue.skipped_ineligible_count) == (receivers, 150, 400)
        assert issue.issued_count + issue.skipped_limit_count + issue.skipped_ineligible_count == issue.targeted_count
        issued = Coupon.objects.filter(targeted_issue=issue)
        assert issued.count() == receivers
        assert not issued.filter(member__in=inactive + paid + holders).exists()
        assert CouponEvent.objects.filter(coupon__targeted_issue=issue, action="issued").count() == receivers
        assert not Coupon.objects.values("member").annotate(n=Count("pk")).filter(n__gt=1).exists()
        assert CouponQuota.objects.filter(template=template, claimed_total=1).count() == receivers + 150
        template.refresh_from_db()
        assert template.issued_count == receivers + 150

        # when the operator starts it again (a done issue: nothing is queued), and the job is
        # delivered again and runs to its end on the worker
        assert targeted_issue_start(issue_id=issue.pk).status == TargetedIssue.Status.DONE
        counts = run_on_worker(run_targeted_issue, issue.pk)
        assert TargetedIssue.objects.get(pk=issue.pk).status == TargetedIssue.Status.DONE

    # then nothing more was issued
    issue.refresh_from_db()
    assert (issue.issued_count, issue.processed_count) == (receivers, SEGMENT_SIZE)
    assert Coupon.objects.filter(template=template).count() == receivers + 150
    template.refresh_from_db()
    assert template.issued_count == receivers + 150
    assert (counts["issued"], counts["processed"]) == (receivers, SEGMENT_SIZE)
    print(f"\ntargeted issue of {SEGMENT_SIZE} members on the worker: {seconds:.2f}s")
