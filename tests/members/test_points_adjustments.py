"""Operator points adjustments: applied at once up to the threshold, above it a different operator
approves (maker-checker); the console's pages call the same services, in Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from core.errors import DomainError
from members.errors import (
    PointsAdjustmentNotPending,
    PointsAdjustmentSelfApproval,
    PointsInsufficient,
)
from members.models import AdjustmentStatus, Member, PointsAdjustment, PointsEntry, PointsKind
from members.services.points import points_award
from members.services.points_adjustments import (
    points_adjustment_approve,
    points_adjustment_create,
    points_adjustment_reject,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def operator(username: str, *, superuser: bool = True):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", "a-long-password-1")
    return User.objects.create_user(username, f"{username}@example.com", "a-long-password-1", is_staff=True)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.POINTS_ADJUST_APPROVAL_ABOVE = 5000


# --- services ------------------------------------------------------------------------------------------


def test_an_adjustment_up_to_the_threshold_applies_at_once_with_its_operator():
    member, ops = MemberFactory.create(), operator("ops")

    adjustment = points_adjustment_create(member_id=member.pk, delta=5000, reason="客诉补偿", operator=ops)

    assert adjustment.status == AdjustmentStatus.APPLIED
    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.delta, entry.operator_id, entry.note, entry.reference) == (
        PointsKind.ADJUSTMENT, 5000, ops.pk, "客诉补偿", f"adjust:{adjustment.pk}")
    assert adjustment.entry_id == entry.pk
    assert balance(member) == 5000


def test_above_the_threshold_it_waits_and_the_maker_cannot_approve_it():
    member, maker, checker = MemberFactory.create(), operator("maker"), operator("checker")

    adjustment = points_adjustment_create(member_id=member.pk, delta=5001, reason="活动补发", operator=maker)
    with pytest.raises(PointsAdjustmentSelfApproval) as refused:
        points_adjustment_approve(adjustment_id=adjustment.pk, operator=maker)

    assert (refused.value.status, refused.value.code) == (403, "points_adjustment_self_approval")
    assert refused.value.message == "发起人不能审批自己的积分调整，请由另一位运营审批"
    assert PointsAdjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.PENDING
    assert balance(member) == 0 and not PointsEntry.objects.exists()

    approved = points_adjustment_approve(adjustment_id=adjustment.pk, operator=checker)
    twice = points_adjustment_approve(adjustment_id=adjustment.pk, operator=checker)

    assert (approved.status, approved.decided_by_id, twice.entry_id) == (AdjustmentStatus.APPLIED, checker.pk,
                                                                        approved.entry_id)
    assert PointsEntry.objects.get(member=member).operator_id == checker.pk
    assert balance(member) == 5001


def test_a_deduction_never_takes_the_balance_below_zero():
    member, maker, checker = MemberFactory.create(), operator("maker"), operator("checker")
    points_award(member_id=member.pk, points=8000, kind=PointsKind.PURCHASE, reference="M1")

    with pytest.raises(PointsInsufficient):
        points_adjustment_create(member_id=member.pk, delta=-8001, reason="误发", operator=maker)
    assert not PointsAdjustment.objects.exists()  # refused: nothing saved

    big = points_adjustment_create(member_id=member.pk, delta=-6000, reason="误发回收", operator=maker)
    points_adjustment_create(member_id=member.pk, delta=-3000, reason="误发回收", operator=maker)  # applies now
    with pytest.raises(PointsInsufficient):
        points_adjustment_approve(adjustment_id=big.pk, operator=checker)

    assert PointsAdjustment.objects.get(pk=big.pk).status == AdjustmentStatus.PENDING
    assert balance(member) == 5000


def test_a_rejected_adjustment_moves_no_points_and_cannot_be_approved():
    member, maker, checker = MemberFactory.create(), operator("maker"), operator("checker")
    adjustment = points_adjustment_create(member_id=member.pk, delta=9000, reason="大额补偿", operator=maker)

    rejected = points_adjustment_reject(adjustment_id=adjustment.pk, operator=checker, reason="无工单")
    with pytest.raises(PointsAdjustmentNotPending):
        points_adjustment_approve(adjustment_id=adjustment.pk, operator=checker)

    assert (rejected.status, rejected.reject_reason, rejected.decided_by_id) == ("rejected", "无工单", checker.pk)
    assert balance(member) == 0 and not PointsEntry.objects.exists()


def test_bad_adjustments_are_refused_with_clear_codes():
    member, ops = MemberFactory.create(), operator("ops")

    cases: list[tuple[dict[str, Any], str]] = [({"delta": 0, "reason": "x"}, "invalid_points"),
                                               ({"delta": 10, "reason": "  "}, "points_adjustment_reason_required"),
                                               ({"delta": 10**13, "reason": "x"}, "invalid_points")]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as refused:
            points_adjustment_create(member_id=member.pk, operator=ops, **kwargs)
        assert refused.value.code == code
    with pytest.raises(DomainError) as missing:
        points_adjustment_create(member_id=987654321, delta=10, reason="x", operator=ops)

    assert missing.value.code == "member_not_found"
    assert not PointsAdjustment.objects.exists()


# --- the console ---------------------------------------------------------------------------------------


def test_console_create_small_applies_and_big_needs_a_second_operator():
    member = MemberFactory.create(nickname="王小明")
    maker, checker = operator("maker"), operator("checker")
    ops = login(maker)

    small = ops.post("/admin/members/pointsadjustment/add/", {"member": member.pk, "delta": 100, "reason": "补偿"},
                     follow=True)
    big = ops.post("/admin/members/pointsadjustment/add/", {"member": member.pk, "delta": 6000, "reason": "大额补偿"},
                   follow=True)

    assert "已为 王小明 调整 +100 积分，已生效" in flash(small)
    assert "调整 +6000 积分超过审批线，已提交，需另一位运营审批后生效" in flash(big)
    pending = PointsAdjustment.objects.get(delta=6000)
    own_page = page(ops.get(f"/admin/members/pointsadjustment/{pending.pk}/change/"))
    assert "需另一位运营审批后生效" in own_page and "审批通过</a>" not in own_page
    refused = ops.post(f"/admin/members/pointsadjustment/{pending.pk}/approve/", follow=True)
    assert "发起人不能审批自己的积分调整，请由另一位运营审批" in flash(refused)
    assert balance(member) == 100

    second = login(checker)
    assert "审批通过</a>" in page(second.get(f"/admin/members/pointsadjustment/{pending.pk}/change/"))
    assert "当前余额" in page(second.get(f"/admin/members/pointsadjustment/{pending.pk}/approve/"))
    done = second.post(f"/admin/members/pointsadjustment/{pending.pk}/approve/", follow=True)

    assert f"积分调整 #{pending.pk} 已审批通过，+6000 积分已生效" in flash(done)
    assert balance(member) == 6100


def test_console_reject_and_bad_input():
    member = MemberFactory.create()
    maker, checker = operator("maker"), operator("checker")
    points_award(member_id=member.pk, points=8000, kind=PointsKind.PURCHASE, reference="M1")
    adjustment = points_adjustment_create(member_id=member.pk, delta=-7000, reason="回收", operator=maker)

    done = login(checker).post(f"/admin/members/pointsadjustment/{adjustment.pk}/reject/", {"reason": "证据不足"},
                               follow=True)
    zero = login(maker).post("/admin/members/pointsadjustment/add/", {"member": member.pk, "delta": 0, "reason": "x"})
    nobody = login(maker).post("/admin/members/pointsadjustment/add/", {"member": 987654, "delta": 5, "reason": "x"})
    short = login(maker).post("/admin/members/pointsadjustment/add/", {"member": member.pk, "delta": -8001,
                                                                       "reason": "x"})

    assert f"积分调整 #{adjustment.pk} 已驳回" in flash(done)
    assert "调整积分不能为 0" in page(zero)
    assert "会员不存在" in page(nobody)
    assert "积分不足" in [str(m) for m in short.context["messages"]]
    assert PointsAdjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.REJECTED
    assert PointsAdjustment.objects.count() == 1 and balance(member) == 8000


def test_operators_without_permissions_can_only_look():
    member = MemberFactory.create()
    adjustment = points_adjustment_create(member_id=member.pk, delta=9000, reason="x", operator=operator("maker"))
    viewer = operator("viewer", superuser=False)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_pointsadjustment", "view_pointsentry", "view_member"]))
    client = login(viewer)

    assert "审批通过</a>" not in page(client.get(f"/admin/members/pointsadjustment/{adjustment.pk}/change/"))
    assert client.post(f"/admin/members/pointsadjustment/{adjustment.pk}/approve/").status_code == 403
    assert client.get("/admin/members/pointsadjustment/add/").status_code == 403
    assert PointsAdjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.PENDING


def test_ledger_and_lots_are_read_only_and_in_chinese(django_assert_max_num_queries):
    ops = login(operator("ops"))
    members = [MemberFactory.create(phone=f"1370000{i:04d}") for i in range(3)]
    for m in members:
        for j in range(5):
            points_award(member_id=m.pk, points=10, kind=PointsKind.SIGN_IN, reference=f"S{j}")
    target = members[1]

    ledger = page(ops.get("/admin/members/pointsentry/?kind=sign_in"))
    found = page(ops.get(f"/admin/members/pointsentry/?q={target.phone}"))
    lots = page(ops.get("/admin/members/pointslot/"))

    assert "积分流水" in ledger and "签到" in ledger and "积分变动" in ledger
    assert found.count(f">{target}</a>") == 5
    assert "积分批次" in lots and "有效" in lots
    entry = PointsEntry.objects.filter(member=target).first()
    assert entry is not None
    detail = page(ops.get(f"/admin/members/pointsentry/{entry.pk}/change/"))
    assert 'name="_save"' not in detail
    assert ops.get("/admin/members/pointsentry/add/").status_code == 403
    assert ops.post(f"/admin/members/pointsentry/{entry.pk}/delete/").status_code == 403
    with django_assert_max_num_queries(8):
        ops.get("/admin/members/pointsentry/")


def test_the_inlines_for_the_member_page_show_the_latest_rows_and_open_lots(monkeypatch):
    from django.contrib import admin

    from members.admin.points import INLINE_ROWS, PointsEntryInline, PointsLotInline

    member = MemberFactory.create()
    for i in range(INLINE_ROWS + 5):
        points_award(member_id=member.pk, points=1, kind=PointsKind.SIGN_IN, reference=f"S{i}")
    member_admin = admin.site._registry[Member]
    monkeypatch.setattr(type(member_admin), "inlines", [PointsEntryInline, PointsLotInline])

    html = page(login(operator("ops")).get(f"/admin/members/member/{member.pk}/change/"))

    assert f"积分流水（最近 {INLINE_ROWS} 条）" in html and "有效积分批次" in html
    assert len(re.findall(r'<td class="field-kind">\s*<p>签到</p>', html)) == INLINE_ROWS
