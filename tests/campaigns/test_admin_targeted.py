"""定向发券 wizard: choose a template and a target (人群 / 标签 / 上传名单), 预览 the count, 确认发放,
then the progress page while the job runs and its final counts (issued + skipped = targeted)."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import Coupon, CouponSource, TargetedIssue
from campaigns.services.coupons import coupon_grant
from campaigns.services.targeted import targeted_issue_preview
from campaigns.tasks import run_targeted_issue
from members.models import MemberTag, Segment, SegmentMember, Tag
from tests.admin.support_pages import page
from tests.celery_worker import real_worker
from tests.factories import CouponTemplateFactory, MemberFactory

pytestmark = pytest.mark.django_db
S = TargetedIssue.Status


@pytest.fixture
def template():
    return CouponTemplateFactory.create(name="老客回归券", new_customer_only=True, per_member_limit=1)


@pytest.fixture
def segment(template):
    """Five members: three who can receive it, one who already has it, one who is not a new customer."""
    segment = Segment.objects.create(name="30天未下单")
    members = [MemberFactory.create(nickname=f"会员{i}") for i in range(5)]
    coupon_grant(template=template, member=members[3], source=CouponSource.CENTER)
    members[4].paid_order_count = 2
    members[4].save(update_fields=["paid_order_count"])
    SegmentMember.objects.bulk_create(SegmentMember(segment=segment, member=m) for m in members)
    return segment


def token_of(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match is not None, "no token on the page"
    return match.group(1)


def test_the_wizard_is_in_chinese(admin_client):
    html = page(admin_client.get(reverse("admin:campaigns_targetedissue_wizard")))

    for label in ("定向发券", "发放的优惠券", "发放对象", "会员人群", "会员标签", "上传名单", "名单内容", "会员 ID",
                  "OpenID", "手机号", "预览"):
        assert label in html
    listing = page(admin_client.get(reverse("admin:campaigns_targetedissue_changelist")))
    assert "新建定向发券" in listing


def test_segment_preview_then_confirm_then_the_job_then_final_counts(
        admin_client, admin_user, template, segment, django_capture_on_commit_callbacks):
    wizard = reverse("admin:campaigns_targetedissue_wizard")

    # 预览: the count is the service's, and nothing is created yet
    preview = page(admin_client.post(wizard, {"template": str(template.pk), "target": "segment",
                                              "segment": str(segment.pk)}))
    expected = targeted_issue_preview(template_id=template.pk, target="segment", segment_id=segment.pk)
    assert (expected.targeted, expected.eligible_estimate) == (5, 3)
    assert re.search(r'id="targeted-count">5<', preview)
    assert "会员人群：30天未下单" in preview and "确认发放（5 人）" in preview and "预计符合领取条件" in preview
    assert not TargetedIssue.objects.exists()

    # 确认发放: created and queued; the job is enqueued after commit
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(wizard, {"token": token_of(preview)})
    issue = TargetedIssue.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_targetedissue_progress", args=[issue.pk])
    assert (issue.status, issue.targeted_count, issue.created_by) == (S.QUEUED, expected.targeted, admin_user)
    assert len(callbacks) == 1
    assert LogEntry.objects.get(object_id=str(issue.pk)).user == admin_user
    queued = page(admin_client.get(response["Location"]))
    assert '<meta http-equiv="refresh" content="2">' in queued and "排队中" in queued

    # the job (the Celery task, run here in-process)
    counts = run_targeted_issue(issue.pk)

    issue.refresh_from_db()
    assert (issue.status, issue.processed_count, issue.issued_count, issue.skipped_limit_count,
            issue.skipped_ineligible_count) == (S.DONE, 5, 3, 1, 1)
    assert counts["issued"] == 3
    done = page(admin_client.get(response["Location"]))
    assert "http-equiv=\"refresh\"" not in done and "已完成" in done
    assert re.search(r'id="issued">3<', done) and re.search(r'id="skipped-limit">1<', done)
    assert re.search(r'id="skipped-ineligible">1<', done)
    assert "✓ 发放完成：已发放 3 + 跳过 2 = 目标 5 人" in done
    assert Coupon.objects.filter(targeted_issue=issue, source=CouponSource.TARGETED).count() == 3
    listing = page(admin_client.get(reverse("admin:campaigns_targetedissue_changelist")))
    assert "已完成" in listing and "5 / 5" in listing and "人群：30天未下单" in listing


def test_tag_target(admin_client, template):
    tag = Tag.objects.create(name="高价值")
    for _ in range(3):
        MemberTag.objects.create(member=MemberFactory.create(), tag=tag)

    preview = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
        "template": str(template.pk), "target": "tag", "tag": str(tag.pk)}))

    assert "会员标签：高价值" in preview and re.search(r'id="targeted-count">3<', preview)


def test_uploaded_phone_list_counts_found_members_once(admin_client, template, django_capture_on_commit_callbacks):
    found = [MemberFactory.create(phone=f"1390000000{i}") for i in range(3)]
    upload = SimpleUploadedFile("名单.csv", "\n".join(
        ["手机号", "13900000000", "139 0000 0001", "13900000002", "13900000000", "13999999999"]).encode("utf-8-sig"))

    preview = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
        "template": str(template.pk), "target": "members", "id_kind": "phone", "file": upload}))

    assert re.search(r'id="targeted-count">3<', preview)
    assert "上传名单：名单.csv" in preview and "名单中未找到" in preview and "<code>13999999999</code>" in preview
    with django_capture_on_commit_callbacks():
        admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {"token": token_of(preview)})
    issue = TargetedIssue.objects.get()
    assert (issue.target, sorted(issue.member_ids), issue.targeted_count) == (
        TargetedIssue.Target.MEMBERS, sorted(m.pk for m in found), 3)


def test_uploaded_openids_and_ids(admin_client, template):
    members = [MemberFactory.create() for _ in range(2)]
    by_openid = SimpleUploadedFile("openids.csv", f"openid\n{members[0].openid}\n{members[1].openid}\n".encode())
    by_id = SimpleUploadedFile("ids.csv", f"{members[0].pk}\n00{members[1].pk}\n".encode())

    for kind, upload in (("openid", by_openid), ("member_id", by_id)):
        preview = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
            "template": str(template.pk), "target": "members", "id_kind": kind, "file": upload}))
        assert re.search(r'id="targeted-count">2<', preview), kind


@pytest.mark.parametrize(("data", "message"), [
    ({"target": "segment"}, "请选择会员人群"),
    ({"target": "tag"}, "请选择会员标签"),
    ({"target": "members", "id_kind": "phone"}, "请上传会员名单"),
])
def test_a_target_must_be_chosen(admin_client, template, data, message):
    html = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {"template": str(template.pk),
                                                                                     **data}))

    assert message in html
    assert not TargetedIssue.objects.exists()


def test_a_list_matching_nobody_is_refused(admin_client, template):
    upload = SimpleUploadedFile("名单.csv", b"13800000000\n13800000001\n")

    html = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
        "template": str(template.pk), "target": "members", "id_kind": "phone", "file": upload}))

    assert "名单中的 2 行都没有找到对应的会员" in html
    assert not TargetedIssue.objects.exists()


def test_an_altered_confirmation_is_refused(admin_client, template):
    html = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {"token": "x"}, follow=True))

    assert "预览已过期或内容被修改" in html
    assert not TargetedIssue.objects.exists()


def test_started_issues_cannot_be_deleted(admin_client, template, segment, django_capture_on_commit_callbacks):
    preview = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
        "template": str(template.pk), "target": "segment", "segment": str(segment.pk)}))
    with django_capture_on_commit_callbacks():
        admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {"token": token_of(preview)})
    issue = TargetedIssue.objects.get()

    assert admin_client.post(reverse("admin:campaigns_targetedissue_delete", args=[issue.pk]),
                             {"post": "yes"}).status_code == 403
    listing = page(admin_client.get(reverse("admin:campaigns_targetedissue_changelist")))
    assert "delete_selected" not in listing
    assert TargetedIssue.objects.filter(pk=issue.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_confirm_runs_the_job_in_a_real_worker_and_the_page_follows_it(admin_client, template, segment):
    wizard = reverse("admin:campaigns_targetedissue_wizard")
    preview = page(admin_client.post(wizard, {"template": str(template.pk), "target": "segment",
                                              "segment": str(segment.pk)}))

    with real_worker():
        progress = admin_client.post(wizard, {"token": token_of(preview)})["Location"]
        deadline = time.monotonic() + 60
        while "已完成" not in (html := page(admin_client.get(progress))) and time.monotonic() < deadline:
            time.sleep(0.3)

    assert "✓ 发放完成：已发放 3 + 跳过 2 = 目标 5 人" in html
    issue = TargetedIssue.objects.get()
    assert (issue.issued_count, issue.skipped_limit_count, issue.skipped_ineligible_count) == (3, 1, 1)
