"""定向发放 racing other writers on the real database, each on its own connection."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from django.db.models import Count

from campaigns.models import Coupon, CouponQuota, TargetedIssue
from campaigns.services.claims import coupon_claim
from campaigns.services.targeted import targeted_issue_create, targeted_issue_run, targeted_issue_start
from members.models import Member
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_members_claiming_while_the_job_issues_never_pass_the_per_member_limit(settings):
    # given 2,000 targeted members in chunks of 100, a template of one per member, and 23 of the
    # members claiming it in the coupon centre while the job runs
    settings.TARGETED_ISSUE_CHUNK = 100
    template = CouponTemplateFactory.create(per_member_limit=1)
    tag = uuid.uuid4().hex[:6]
    people = Member.objects.bulk_create([Member(openid=f"o-race-{tag}-{i}") for i in range(2000)])
    claimers = people[::87]
    issue = targeted_issue_create(template_id=template.pk, target="members", member_ids=[m.pk for m in people])
    targeted_issue_start(issue_id=issue.pk)

    def act(i: int):
        if i == 0:
            return targeted_issue_run(issue_id=issue.pk)
        # The members the job reaches first claim last, so some claims land before the job takes
        # the member and some after: both orders are exercised in one run.
        time.sleep((len(claimers) - i) * 0.03)
        return coupon_claim(member=claimers[i - 1], template_id=template.pk)

    # when the job and the claims run at the same moment
    results = run_concurrently(act, len(claimers) + 1)

    # then nobody holds two, every member got exactly one one way or the other, and the job's
    # counts add up, the members who claimed first counted as at their limit
    assert isinstance(results[0], dict), results[0]
    claims = Counter(type(r).__name__ for r in results[1:])
    assert set(claims) <= {"Coupon", "CouponLimitReached"}, claims
    issue.refresh_from_db()
    assert issue.status == TargetedIssue.Status.DONE
    assert not Coupon.objects.values("member").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert Coupon.objects.filter(template=template).count() == 2000
    assert issue.issued_count + claims["Coupon"] == 2000
    assert (issue.skipped_limit_count, issue.skipped_ineligible_count) == (claims["Coupon"], 0)
    assert set(CouponQuota.objects.filter(template=template).values_list("claimed_total", flat=True)) == {1}
    template.refresh_from_db()
    assert template.issued_count == 2000


def test_two_workers_given_the_same_issue_issue_each_coupon_once(settings):
    settings.TARGETED_ISSUE_CHUNK = 50
    template = CouponTemplateFactory.create(per_member_limit=5)
    tag = uuid.uuid4().hex[:6]
    people = Member.objects.bulk_create([Member(openid=f"o-twice-{tag}-{i}") for i in range(1000)])
    issue = targeted_issue_create(template_id=template.pk, target="members", member_ids=[m.pk for m in people])
    targeted_issue_start(issue_id=issue.pk)

    results = run_concurrently(lambda i: targeted_issue_run(issue_id=issue.pk), 2)

    assert all(isinstance(r, dict) for r in results), results
    issue.refresh_from_db()
    assert (issue.status, issue.issued_count, issue.processed_count) == ("done", 1000, 1000)
    assert Coupon.objects.filter(targeted_issue=issue).count() == 1000
    template.refresh_from_db()
    assert template.issued_count == 1000
