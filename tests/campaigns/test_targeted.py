"""定向发放: preview, create (the target frozen), start and the job run in place (the job on a real
worker, 10,000 members and races are in test_targeted_job.py / test_targeted_concurrency.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from campaigns.errors import CouponTemplateNotFound, TargetedIssueInvalid, TargetedIssueNotFound
from campaigns.models import Coupon, CouponEvent, CouponQuota, CouponSource, TargetedIssue, Validity
from campaigns.services.coupons import coupon_grant, coupon_ineligibility
from campaigns.services.targeted import (
    targeted_issue_create,
    targeted_issue_preview,
    targeted_issue_run,
    targeted_issue_start,
)
from members.models import Member, MemberTag, Segment, SegmentMember, Tag, Tier
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


def members(n: int, **fields) -> list[Member]:
    batch = uuid.uuid4().hex[:8]
    return Member.objects.bulk_create([Member(openid=f"o-tgt-{batch}-{i}", **fields) for i in range(n)])


def segment_of(people: list[Member], name: str = "高价值人群") -> Segment:
    segment = Segment.objects.create(name=name)
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m) for m in people])
    return segment


def issue_and_run(template, **target) -> TargetedIssue:
    issue = targeted_issue_create(template_id=template.pk, **target)
    targeted_issue_start(issue_id=issue.pk)
    targeted_issue_run(issue_id=issue.pk)
    issue.refresh_from_db()
    return issue


def counts(issue: TargetedIssue) -> tuple[int, int, int, int]:
    return issue.targeted_count, issue.issued_count, issue.skipped_limit_count, issue.skipped_ineligible_count


# --- preview and create ---------------------------------------------------------------------------


def test_the_preview_counts_the_target_and_who_would_receive_it():
    # given a segment of 12: 2 inactive, 3 already at the limit, 7 who can receive it, and 5 coupons left
    template = CouponTemplateFactory.create(total_quantity=8)
    active, inactive = members(10), members(2, is_active=False)
    for member in active[:3]:
        coupon_grant(template=template, member=member, source=CouponSource.OPERATOR)
    segment = segment_of(active + inactive)

    preview = targeted_issue_preview(template_id=template.pk, target="segment", segment_id=segment.pk)

    assert (preview.targeted, preview.eligible_estimate) == (12, 5)
    assert TargetedIssue.objects.count() == 0


def test_a_draft_freezes_the_target_sorted_and_counted():
    people = members(5)
    segment = segment_of(list(reversed(people)))
    template = CouponTemplateFactory.create()

    issue = targeted_issue_create(template_id=template.pk, target="segment", segment_id=segment.pk)

    assert (issue.status, issue.targeted_count, issue.segment_id) == ("draft", 5, segment.pk)
    assert issue.member_ids == sorted(m.pk for m in people)
    assert Coupon.objects.count() == 0
    # the segment changing afterwards does not change the issue's target
    SegmentMember.objects.filter(segment=segment).delete()
    targeted_issue_start(issue_id=issue.pk)
    targeted_issue_run(issue_id=issue.pk)
    issue.refresh_from_db()
    assert counts(issue) == (5, 5, 0, 0)


def test_an_uploaded_list_targets_the_ids_that_exist_and_are_active_once_each():
    active, inactive = members(3), members(1, is_active=False)
    ids = [active[0].pk, active[1].pk, active[1].pk, inactive[0].pk, 99_999_999, active[2].pk]

    preview = targeted_issue_preview(template_id=CouponTemplateFactory.create().pk, target="members", member_ids=ids)
    issue = issue_and_run(CouponTemplateFactory.create(), target="members", member_ids=ids)

    assert preview.targeted == 3
    assert counts(issue) == (3, 3, 0, 0)
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == sorted(m.pk for m in active)


def test_a_tag_targets_its_members():
    tag = Tag.objects.create(name="宝妈")
    tagged, others = members(4), members(3)
    MemberTag.objects.bulk_create([MemberTag(tag=tag, member=m) for m in tagged])
    template = CouponTemplateFactory.create()

    issue = issue_and_run(template, target="tag", tag_id=tag.pk)

    assert counts(issue) == (4, 4, 0, 0)
    assert set(Coupon.objects.values_list("member_id", flat=True)) == {m.pk for m in tagged}
    assert not Coupon.objects.filter(member__in=others).exists()


@pytest.mark.parametrize(("target", "error"), [
    ({"target": "segment"}, TargetedIssueInvalid),
    ({"target": "segment", "segment_id": 987654}, TargetedIssueInvalid),
    ({"target": "tag", "tag_id": 987654}, TargetedIssueInvalid),
    ({"target": "members", "member_ids": []}, TargetedIssueInvalid),
    ({"target": "members", "member_ids": [987654]}, TargetedIssueInvalid),  # nobody in it
    ({"target": "everyone"}, TargetedIssueInvalid),
])
def test_a_bad_target_is_refused_and_nothing_is_created(target, error):
    template = CouponTemplateFactory.create()

    with pytest.raises(error) as refused:
        targeted_issue_create(template_id=template.pk, **target)

    assert (refused.value.status, refused.value.code) == (400, "targeted_issue_invalid")
    assert TargetedIssue.objects.count() == 0


def test_an_unknown_template_or_issue_is_not_found():
    with pytest.raises(CouponTemplateNotFound):
        targeted_issue_create(template_id=987654, target="members", member_ids=[m.pk for m in members(1)])
    with pytest.raises(TargetedIssueNotFound):
        targeted_issue_start(issue_id=987654)
    with pytest.raises(TargetedIssueNotFound):
        targeted_issue_run(issue_id=987654)


# --- the job, run in place --------------------------------------------------------------------


def test_coupons_are_issued_with_their_ledger_quota_and_attribution():
    template = CouponTemplateFactory.create(amount_fen=1500, per_member_limit=2)
    people = members(3)

    issue = issue_and_run(template, target="members", member_ids=[m.pk for m in people])

    coupons = list(Coupon.objects.order_by("member_id"))
    assert [(c.member_id, c.source, c.targeted_issue_id, c.issue_key) for c in coupons] == [
        (m.pk, CouponSource.TARGETED, issue.pk, f"targeted:{issue.pk}:{m.pk}") for m in people]
    assert all(c.status == "available" and c.valid_until - c.valid_from > dt.timedelta(days=6) for c in coupons)
    assert list(CouponEvent.objects.order_by("coupon__member_id").values_list("coupon_id", "action", "amount_fen")) == [
        (c.pk, "issued", 1500) for c in coupons]
    assert set(CouponQuota.objects.values_list("member_id", "claimed_total", "claimed_on_day", "day")) == {
        (m.pk, 1, 1, timezone.localdate()) for m in people}
    template.refresh_from_db()
    assert (template.issued_count, template.issued_value_fen) == (3, 4500)
    assert (issue.status, issue.processed_count, issue.cursor) == ("done", 3, people[-1].pk)
    assert issue.started_at is not None and issue.finished_at is not None


def test_the_total_quantity_stops_the_job_exactly_at_the_total(settings):
    settings.TARGETED_ISSUE_CHUNK = 10
    template = CouponTemplateFactory.create(total_quantity=25)
    people = members(60)

    issue = issue_and_run(template, target="segment", segment_id=segment_of(people).pk)

    assert counts(issue) == (60, 25, 35, 0)
    template.refresh_from_db()
    assert template.issued_count == 25
    # the first 25 in member order got them
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == [m.pk for m in people[:25]]
    assert CouponQuota.objects.filter(claimed_total=1).count() == 25


def test_the_budget_stops_the_job_where_the_money_ends(settings):
    settings.TARGETED_ISSUE_CHUNK = 4
    template = CouponTemplateFactory.create(amount_fen=1000, budget_fen=7500)

    issue = issue_and_run(template, target="members", member_ids=[m.pk for m in members(10)])

    assert counts(issue) == (10, 7, 3, 0)
    template.refresh_from_db()
    assert (template.issued_count, template.issued_value_fen) == (7, 7000)


def test_eligibility_means_what_it_means_for_a_claim():
    # given a template for 黄金 members of a segment, new customers only, and members of every kind
    gold = Tier.objects.create(name="测试金卡", level=91, min_growth=91_000_000)
    silver = Tier.objects.create(name="测试银卡", level=81, min_growth=81_000_000)
    vip = Segment.objects.create(name="VIP")
    template = CouponTemplateFactory.create(new_customer_only=True)
    template.tiers.set([gold])
    template.segments.set([vip])
    fits = members(3, tier=gold)
    wrong_tier = members(2, tier=silver)
    no_tier = members(1)
    paid = members(2, tier=gold, paid_order_count=1)
    not_in_vip = members(2, tier=gold)
    inactive = members(1, tier=gold, is_active=False)
    SegmentMember.objects.bulk_create([SegmentMember(segment=vip, member=m)
                                       for m in fits + wrong_tier + no_tier + paid + inactive])
    everyone = fits + wrong_tier + no_tier + paid + not_in_vip + inactive

    issue = issue_and_run(template, target="segment", segment_id=segment_of(everyone, name="全部").pk)

    # then exactly the members a claim would accept (and who are active) received it
    expected = {m.pk for m in everyone
                if m.is_active and coupon_ineligibility(template=template, member=m, now=timezone.now(),
                                                        check_window=False) is None}
    assert expected == {m.pk for m in fits}
    assert set(Coupon.objects.values_list("member_id", flat=True)) == expected
    assert counts(issue) == (11, 3, 0, 8)


def test_members_at_the_per_member_or_the_daily_limit_are_skipped():
    template = CouponTemplateFactory.create(per_member_limit=3, per_day_limit=1)
    full, today_done, fresh = members(1), members(1), members(1)
    CouponQuota.objects.create(template=template, member=full[0], claimed_total=3, day=dt.date(2020, 1, 1),
                               claimed_on_day=1)
    coupon_grant(template=template, member=today_done[0], source=CouponSource.OPERATOR)

    issue = issue_and_run(template, target="members", member_ids=[m.pk for m in full + today_done + fresh])

    assert counts(issue) == (3, 1, 2, 0)
    assert Coupon.objects.filter(targeted_issue=issue).get().member_id == fresh[0].pk


@pytest.mark.parametrize("change", ["inactive", "validity_over"])
def test_a_template_that_cannot_be_issued_skips_everyone_as_ineligible(change):
    if change == "inactive":
        template = CouponTemplateFactory.create(is_active=False)
    else:
        template = CouponTemplateFactory.create(validity=Validity.FIXED,
                                                valid_from=timezone.now() - dt.timedelta(days=9),
                                                valid_until=timezone.now() - dt.timedelta(days=1), valid_days=None)

    issue = issue_and_run(template, target="members", member_ids=[m.pk for m in members(4)])

    assert counts(issue) == (4, 0, 0, 4)
    assert Coupon.objects.count() == 0


def test_running_again_or_restarting_a_done_issue_issues_nothing_more():
    template = CouponTemplateFactory.create(per_member_limit=5)
    issue = issue_and_run(template, target="members", member_ids=[m.pk for m in members(6)])
    assert counts(issue) == (6, 6, 0, 0)

    assert targeted_issue_start(issue_id=issue.pk).status == "done"
    again = targeted_issue_run(issue_id=issue.pk)

    assert again == {"targeted": 6, "processed": 6, "issued": 6, "skipped_limit": 0, "skipped_ineligible": 0}
    assert Coupon.objects.count() == 6
    template.refresh_from_db()
    assert template.issued_count == 6


def test_a_draft_is_not_run_until_started():
    issue = targeted_issue_create(template_id=CouponTemplateFactory.create().pk, target="members",
                                  member_ids=[m.pk for m in members(2)])

    assert targeted_issue_run(issue_id=issue.pk)["processed"] == 0

    issue.refresh_from_db()
    assert (issue.status, Coupon.objects.count()) == ("draft", 0)


def test_a_job_stopped_between_chunks_resumes_exactly_where_it_stopped(settings):
    settings.TARGETED_ISSUE_CHUNK = 5
    template = CouponTemplateFactory.create()
    people = members(23)
    issue = targeted_issue_create(template_id=template.pk, target="members", member_ids=[m.pk for m in people])
    targeted_issue_start(issue_id=issue.pk)

    partial = targeted_issue_run(issue_id=issue.pk, max_chunks=2)

    issue.refresh_from_db()
    assert (issue.status, issue.cursor, partial["processed"], partial["issued"]) == ("running", people[9].pk, 10, 10)
    assert Coupon.objects.count() == 10

    targeted_issue_run(issue_id=issue.pk)

    issue.refresh_from_db()
    assert (issue.status, *counts(issue)) == ("done", 23, 23, 0, 0)
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == [m.pk for m in people]


def test_a_chunk_that_fails_rolls_back_marks_the_issue_failed_and_a_restart_resumes(settings):
    # given an issue of 12 in chunks of 4, where member 7's coupon cannot be inserted (its key is taken)
    settings.TARGETED_ISSUE_CHUNK = 4
    template = CouponTemplateFactory.create()
    people = members(12)
    issue = targeted_issue_create(template_id=template.pk, target="members", member_ids=[m.pk for m in people])
    targeted_issue_start(issue_id=issue.pk)
    now = timezone.now()
    blocker = Coupon.objects.create(template=CouponTemplateFactory.create(), member=people[6], valid_from=now,
                                    valid_until=now + dt.timedelta(days=1), source=CouponSource.OPERATOR,
                                    issue_key=f"targeted:{issue.pk}:{people[6].pk}")

    # when the job runs, the second chunk fails
    with pytest.raises(Exception, match="issue_key"):
        targeted_issue_run(issue_id=issue.pk)

    # then the first chunk stands, the second left no trace, and the issue says why it failed
    issue.refresh_from_db()
    assert (issue.status, issue.cursor, issue.processed_count, issue.issued_count) == ("failed", people[3].pk, 4, 4)
    assert "IntegrityError" in issue.error
    assert Coupon.objects.filter(targeted_issue=issue).count() == 4
    template.refresh_from_db()
    assert template.issued_count == 4

    # when the cause is removed and the operator starts it again, it finishes with exact counts
    blocker.delete()
    assert targeted_issue_start(issue_id=issue.pk).status == "queued"
    targeted_issue_run(issue_id=issue.pk)
    issue.refresh_from_db()
    assert (issue.status, issue.error, *counts(issue)) == ("done", "", 12, 12, 0, 0)
    assert Coupon.objects.filter(targeted_issue=issue).count() == 12
    template.refresh_from_db()
    assert template.issued_count == 12
