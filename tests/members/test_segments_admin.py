"""The console's segment builder and member page: 预览人数 saves nothing, 保存, 立即计算, 修改生日."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import MemberAudit, Segment, SegmentMember, Tag, Tier
from members.services import segment_evaluate, segment_save, tag_add
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _builder(**fields):
    return {"name": "黄金沉睡寿星", "description": "", **fields}


def _born_this_month() -> dt.date:
    today = timezone.localdate()
    return dt.date(1990, today.month, 1)


def test_preview_counts_without_saving(admin_client):
    MemberFactory.create(tier=Tier.objects.get(level=2), birthday=_born_this_month())
    MemberFactory.create(tier=Tier.objects.get(level=1), birthday=_born_this_month())

    response = admin_client.post(reverse("admin:members_segment_add"),
                                 _builder(tier_min="2", inactive_days="90", birthday_this_month="on", _preview="1"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "预览人数：1 人" in html
    assert "会员等级：黄金会员及以上" in html
    assert not Segment.objects.exists()


def test_save_stores_the_rules_and_evaluate_materialises(admin_client):
    member = MemberFactory.create(tier=Tier.objects.get(level=3), birthday=_born_this_month())

    admin_client.post(reverse("admin:members_segment_add"),
                      _builder(tier_min="2", inactive_days="90", birthday_this_month="on", _save="1"))
    segment = Segment.objects.get()
    assert segment.rules == {"all": [{"type": "tier", "min_level": 2}, {"type": "last_order", "min_days": 90},
                                     {"type": "birthday_month", "this_month": True}], "any": []}
    assert segment.evaluated_at is None

    response = admin_client.post(reverse("admin:members_segment_evaluate", args=[segment.pk]), follow=True)

    assert "已计算：1 人" in response.content.decode()
    assert list(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True)) == [member.pk]
    listing = admin_client.get(reverse("admin:members_segment_changelist")).content.decode()
    assert "黄金沉睡寿星" in listing and "生日月份：本月" in listing


def test_the_builder_shows_saved_rules_again(admin_client):
    tag = Tag.objects.create(name="高价值")
    segment = segment_save(segment=Segment(name="女性高价值", rules={"all": [
        {"type": "gender", "values": ["female"]}, {"type": "tag", "tag_ids": [tag.pk]},
        {"type": "paid_total", "min_fen": 50000}]}))

    response = admin_client.get(reverse("admin:members_segment_change", args=[segment.pk]))

    form = response.context["adminform"].form
    assert (form.initial["genders"], form.initial["tags"], form.initial["paid_total_min"]) == (
        ["female"], [tag.pk], 50000)


def test_contradictory_conditions_are_refused_and_nothing_saved(admin_client):
    response = admin_client.post(reverse("admin:members_segment_add"),
                                 _builder(points_min="500", points_max="100", _save="1"))

    assert response.status_code == 200
    assert "下限不能大于上限" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_member_page_shows_tags_segments_and_the_audit_trail(admin_client, admin_user):
    member = MemberFactory.create(nickname="小鱼", tier=Tier.objects.get(level=2), birthday=_born_this_month())
    tag_add(tag=Tag.objects.create(name="高价值"), member_ids=[member.pk], operator=admin_user)
    rules = {"all": [{"type": "birthday_month", "this_month": True}]}
    segment = segment_save(segment=Segment(name="寿星", rules=rules))
    segment_evaluate(segment_id=segment.pk)

    html = admin_client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()

    assert "高价值" in html and "寿星" in html and "打标签" in html and "修改生日" in html
    assert "积分流水" in html and "成长值流水" in html and "会员卡记录" in html and "操作日志" in html


def test_customer_service_changes_the_birthday_from_the_member_page(admin_client, admin_user):
    member = MemberFactory.create(birthday=dt.date(1990, 1, 1), birthday_set_at=timezone.now())

    response = admin_client.post(reverse("admin:members_member_birthday", args=[member.pk]),
                                 {"birthday": "1990-10-01", "note": "会员来电核实"}, follow=True)

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.birthday == dt.date(1990, 10, 1)
    audit = MemberAudit.objects.get(member=member)
    assert (audit.operator_id, audit.note) == (admin_user.pk, "会员来电核实")


def test_the_birthday_form_needs_a_reason(admin_client):
    member = MemberFactory.create(birthday=dt.date(1990, 1, 1))

    response = admin_client.post(reverse("admin:members_member_birthday", args=[member.pk]), {"birthday": "1990-10-01"})

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.birthday == dt.date(1990, 1, 1)
    assert not MemberAudit.objects.exists()
