"""Segments: the rule engine, preview = evaluation, the nightly job, bad rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.errors import SegmentRulesInvalid
from members.models import MemberTag, RfmThresholds, Segment, SegmentMember, Tag, Tier
from members.segments import rfm_group_of, rules_describe, rules_validate, segment_queryset
from members.services import (
    member_delete_account,
    member_record_category_purchase,
    segment_evaluate,
    segment_preview,
    segment_save,
    segments_evaluate_all,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

GOLD_90_DAYS_BIRTHDAY_THIS_MONTH = {"all": [
    {"type": "tier", "min_level": 2},
    {"type": "last_order", "min_days": 90},
    {"type": "birthday_month", "this_month": True},
]}


def _tier(level: int) -> Tier:
    return Tier.objects.get(level=level)


def _this_month_birthday() -> dt.date:
    today = timezone.localdate()
    return dt.date(1990, today.month, min(today.day, 28))


def _other_month_birthday() -> dt.date:
    today = timezone.localdate()
    return dt.date(1990, today.month % 12 + 1, 15)


def _population() -> dict[str, int]:
    """Members of whom each but the first two fails exactly one condition of the rule above."""
    now = timezone.now()
    long_ago = now - dt.timedelta(days=200)
    born = _this_month_birthday()
    m = {
        "gold_never_ordered": MemberFactory.create(tier=_tier(2), birthday=born),
        "diamond_ordered_long_ago": MemberFactory.create(tier=_tier(3), birthday=born, paid_order_count=3,
                                                         last_paid_at=long_ago),
        "silver": MemberFactory.create(tier=_tier(1), birthday=born),
        "no_tier": MemberFactory.create(birthday=born),
        "ordered_recently": MemberFactory.create(tier=_tier(2), birthday=born, paid_order_count=1,
                                                 last_paid_at=now - dt.timedelta(days=10)),
        "birthday_other_month": MemberFactory.create(tier=_tier(2), birthday=_other_month_birthday()),
        "no_birthday": MemberFactory.create(tier=_tier(2)),
        "deleted": MemberFactory.create(tier=_tier(2), birthday=born),
        "inactive": MemberFactory.create(tier=_tier(3), birthday=born, is_active=False),
    }
    member_delete_account(member_id=m["deleted"].pk)
    return {name: member.pk for name, member in m.items()}


def test_gold_and_above_not_ordered_in_90_days_birthday_this_month_previews_what_evaluation_materialises():
    ids = _population()
    segment = segment_save(segment=Segment(name="黄金及以上沉睡寿星", rules=GOLD_90_DAYS_BIRTHDAY_THIS_MONTH))

    preview = segment_preview(rules=segment.rules)
    count = segment_evaluate(segment_id=segment.pk)

    assert preview == count == 2
    assert set(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True)) == {
        ids["gold_never_ordered"], ids["diamond_ordered_long_ago"]}
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert segment.evaluated_at is not None


def test_the_rule_compiles_to_one_query():
    _population()

    with CaptureQueriesContext(connection) as queries:
        segment_preview(rules=GOLD_90_DAYS_BIRTHDAY_THIS_MONTH)

    assert len(queries) == 1
    assert 'EXTRACT(MONTH FROM "members_member"."birthday")' in queries[0]["sql"]


def test_the_birthday_month_condition_can_use_the_expression_index():
    MemberFactory.create_batch(3, birthday=_this_month_birthday())
    sql, params = segment_queryset(rules={"all": [{"type": "birthday_month", "months": [3]}]}).query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "member_birthday_md" in plan


def test_evaluating_again_replaces_the_members():
    ids = _population()
    segment = segment_save(segment=Segment(name="测试", rules=GOLD_90_DAYS_BIRTHDAY_THIS_MONTH))
    segment_evaluate(segment_id=segment.pk)
    member_delete_account(member_id=ids["gold_never_ordered"])

    count = segment_evaluate(segment_id=segment.pk)

    assert count == 1
    assert list(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True)) == [
        ids["diamond_ordered_long_ago"]]


@pytest.mark.parametrize(("condition", "expected"), [
    ({"type": "points", "min": 100, "max": 500}, {"points_300"}),
    ({"type": "paid_total", "min_fen": 50000}, {"big_spender"}),
    ({"type": "paid_orders", "min": 2}, {"big_spender"}),
    ({"type": "last_order", "max_days": 30}, {"big_spender"}),
    ({"type": "last_order", "min_days": 30}, {"points_300", "female_gd", "tagged"}),
    ({"type": "region", "provinces": ["广东省"]}, {"female_gd"}),
    ({"type": "gender", "values": ["female"]}, {"female_gd"}),
    ({"type": "tag", "tag_ids": "TAG"}, {"tagged"}),
    ({"type": "tag", "tag_ids": "TAG", "negate": True}, {"points_300", "female_gd", "big_spender"}),
    ({"type": "category", "category_ids": [7], "days": 30}, {"big_spender"}),
    ({"type": "category", "category_ids": [7], "days": 1}, set()),
    ({"type": "rfm", "groups": ["important_value"]}, {"big_spender"}),
    ({"type": "rfm", "groups": ["general_retain"]}, {"points_300", "female_gd", "tagged"}),
])
def test_each_condition_type(condition, expected):
    now = timezone.now()
    members = {
        "points_300": MemberFactory.create(points_balance=300),
        "female_gd": MemberFactory.create(gender="female", province="广东省"),
        "big_spender": MemberFactory.create(paid_order_count=5, paid_total_fen=80000,
                                            last_paid_at=now - dt.timedelta(days=3)),
        "tagged": MemberFactory.create(),
    }
    tag = Tag.objects.create(name="VIP")
    MemberTag.objects.create(member=members["tagged"], tag=tag)
    member_record_category_purchase(member_id=members["big_spender"].pk, category_ids=[7, 3],
                                    at=now - dt.timedelta(days=5))
    if condition.get("tag_ids") == "TAG":
        condition = {**condition, "tag_ids": [tag.pk]}

    found = set(segment_queryset(rules={"all": [condition]}).values_list("pk", flat=True))

    assert found == {members[name].pk for name in expected}


def test_any_group_is_ored_and_anded_with_all():
    a = MemberFactory.create(gender="female", province="广东省")
    MemberFactory.create(gender="male", province="广东省")
    c = MemberFactory.create(gender="male", province="广东省", points_balance=1000)
    MemberFactory.create(gender="female", province="浙江省")

    found = set(segment_queryset(rules={
        "all": [{"type": "region", "provinces": ["广东省"]}],
        "any": [{"type": "gender", "values": ["female"]}, {"type": "points", "min": 500}],
    }).values_list("pk", flat=True))

    assert found == {a.pk, c.pk}


def test_rfm_thresholds_are_the_operators():
    member = MemberFactory.create(paid_order_count=2, paid_total_fen=30000, last_paid_at=timezone.now())
    assert rfm_group_of(member=member) == "general_develop"

    RfmThresholds.objects.create(pk=1, recent_days=30, frequent_orders=2, monetary_fen=20000)

    assert rfm_group_of(member=member) == "important_value"
    assert list(segment_queryset(rules={"all": [{"type": "rfm", "groups": ["important_value"]}]})
                .values_list("pk", flat=True)) == [member.pk]


def test_category_purchases_only_move_forward():
    member = MemberFactory.create()
    now = timezone.now()
    member_record_category_purchase(member_id=member.pk, category_ids=[5], at=now)
    member_record_category_purchase(member_id=member.pk, category_ids=[5], at=now - dt.timedelta(days=40))

    found = segment_queryset(rules={"all": [{"type": "category", "category_ids": [5], "days": 1}]})

    assert list(found.values_list("pk", flat=True)) == [member.pk]


@pytest.mark.parametrize("rules", [
    [],
    {"all": "tier"},
    {"all": [{"type": "height", "min": 1}]},
    {"all": [{"type": "tier"}]},
    {"all": [{"type": "tier", "min_level": 2, "levels": [1]}]},
    {"all": [{"type": "points", "min": 500, "max": 100}]},
    {"all": [{"type": "points", "min": "100"}]},
    {"all": [{"type": "points", "min": -1}]},
    {"all": [{"type": "birthday_month", "months": [13]}]},
    {"all": [{"type": "birthday_month", "this_month": False}]},
    {"all": [{"type": "gender", "values": ["robot"]}]},
    {"all": [{"type": "rfm", "groups": ["vip"]}]},
    {"all": [{"type": "category", "category_ids": [1]}]},
    {"all": [{"type": "points", "min": 1, "colour": "red"}]},
    {"none": []},
])
def test_bad_rules_are_refused_and_nothing_is_saved(rules):
    with pytest.raises(SegmentRulesInvalid) as caught:
        segment_save(segment=Segment(name="坏规则", rules=rules))

    assert caught.value.code == "invalid_segment_rules"
    assert caught.value.status == 400
    assert not Segment.objects.exists()


def test_rules_are_normalised_and_described_in_chinese():
    rules = rules_validate({"all": [{"type": "tier", "min_level": 2}, {"type": "last_order", "min_days": 90},
                                    {"type": "birthday_month", "this_month": True},
                                    {"type": "gender", "values": ["female", "female"]}]})

    assert rules["all"][3] == {"type": "gender", "values": ["female"]}
    assert rules_describe(rules) == ["会员等级：黄金会员及以上", "距上次下单天数：90 天未下单（含从未下单）",
                                     "生日月份：本月", "性别：女"]


def test_the_nightly_job_evaluates_every_segment_and_survives_a_broken_one():
    _population()
    good = segment_save(segment=Segment(name="好", rules=GOLD_90_DAYS_BIRTHDAY_THIS_MONTH))
    broken = Segment.objects.create(name="坏", rules={"all": [{"type": "height"}]})

    result = segments_evaluate_all()

    assert result == {"segments": 1, "failed": 1, "members": 2}
    assert Segment.objects.get(pk=good.pk).member_count == 2
    assert Segment.objects.get(pk=broken.pk).evaluated_at is None


@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_runs_on_a_real_worker():
    from members.tasks import evaluate_segments
    from tests.celery_worker import real_worker

    _population()
    segment = segment_save(segment=Segment(name="寿星", rules=GOLD_90_DAYS_BIRTHDAY_THIS_MONTH))

    with real_worker():
        evaluate_segments.delay()
        deadline = timezone.now() + dt.timedelta(seconds=60)
        while Segment.objects.get(pk=segment.pk).evaluated_at is None and timezone.now() < deadline:
            import time

            time.sleep(0.2)

    assert Segment.objects.get(pk=segment.pk).member_count == 2
    assert SegmentMember.objects.filter(segment=segment).count() == 2
