"""Automatic gifts: 新人礼 through a real first login on the sandbox, 支付有礼 per paid order."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponTemplate, GiftRule
from campaigns.services.gifts import gift_after_payment, gift_new_member
from members.models import Member
from tests.factories import CouponTemplateFactory, MemberFactory


def rule(template, trigger=GiftRule.Trigger.NEW_MEMBER, **fields) -> GiftRule:
    return GiftRule.objects.create(name=f"{template.name}规则", trigger=trigger, template=template, **fields)


def login(sandbox, openid: str | None = None) -> dict:
    code = sandbox.login_code(openid=openid) if openid else sandbox.login_code()
    response = APIClient().post("/api/v1/auth/wechat/login", {"code": code["code"]}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- 新人礼 through a real login ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_first_login_gives_the_active_new_member_gifts_and_a_second_login_nothing_more(sandbox):
    # given one gift that applies and several that do not
    now = timezone.now()
    welcome = CouponTemplateFactory.create(name="新人满100减10", show_in_center=False,
                                           claim_ends_at=now - dt.timedelta(days=1))  # claim window: not for gifts
    welcome_rule = rule(welcome)
    rule(CouponTemplateFactory.create(name="停用规则"), is_active=False)
    rule(CouponTemplateFactory.create(name="已结束"), ends_at=now - dt.timedelta(minutes=1))
    rule(CouponTemplateFactory.create(name="未开始"), starts_at=now + dt.timedelta(days=1))
    rule(CouponTemplateFactory.create(name="券已停用", is_active=False))
    rule(CouponTemplateFactory.create(name="支付有礼"), trigger=GiftRule.Trigger.PAID_ORDER)

    # when a new shopper logs in for the first time
    body = login(sandbox)

    # then they hold exactly the welcome coupon, issued once, visible in 我的优惠券
    assert body["is_new_member"] is True
    member = Member.objects.get(pk=body["member"]["id"])
    coupon = Coupon.objects.get()
    assert (coupon.member_id, coupon.template_id, coupon.source) == (member.pk, welcome.pk, "new_member")
    assert coupon.issue_key == f"new_member:{welcome_rule.pk}:{member.pk}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    mine = client.get("/api/v1/coupons/mine").json()["results"]
    assert [(row["id"], row["source_label"]) for row in mine] == [(coupon.pk, "新人礼")]

    # and logging in again gives nothing more
    again = login(sandbox, openid=member.openid)
    assert again["is_new_member"] is False
    assert Coupon.objects.count() == 1
    assert CouponTemplate.objects.get(pk=welcome.pk).issued_count == 1


@pytest.mark.django_db(transaction=True)
def test_a_sold_out_gift_is_skipped_and_logged_and_never_breaks_the_login(sandbox, caplog):
    sold_out = CouponTemplateFactory.create(name="抢光了", total_quantity=1, issued_count=1)
    over_budget = CouponTemplateFactory.create(name="超预算", amount_fen=1000, budget_fen=500)
    still_there = CouponTemplateFactory.create(name="还有")
    for template in (sold_out, over_budget, still_there):
        rule(template)

    with caplog.at_level(logging.WARNING, logger="campaigns.services.gifts"):
        body = login(sandbox)

    assert body["is_new_member"] is True
    assert list(Coupon.objects.values_list("template__name", flat=True)) == ["还有"]
    skipped = [r.getMessage() for r in caplog.records if r.name == "campaigns.services.gifts"]
    assert len(skipped) == 2
    assert any("coupon_sold_out" in m for m in skipped) and any("coupon_budget_exhausted" in m for m in skipped)


def test_running_the_new_member_gift_twice_issues_once(db):
    template = CouponTemplateFactory.create(per_member_limit=3)
    gift = rule(template)
    member = MemberFactory.create()

    first = gift_new_member(member_id=member.pk)
    second = gift_new_member(member_id=member.pk)

    assert [c.pk for c in first] == [c.pk for c in second]
    assert len(first) == 1 and first[0].issue_key == f"new_member:{gift.pk}:{member.pk}"
    assert Coupon.objects.count() == 1


def test_a_new_member_gift_restricted_to_a_tier_the_newcomer_lacks_is_skipped(db):
    from members.models import Tier

    restricted = CouponTemplateFactory.create(name="黄金专享")
    restricted.tiers.add(Tier.objects.get(level=2))
    rule(restricted)
    rule(CouponTemplateFactory.create(name="人人有"))

    given = gift_new_member(member_id=MemberFactory.create().pk)

    assert [c.template.name for c in given] == ["人人有"]


def test_an_unknown_member_gets_nothing(db):
    rule(CouponTemplateFactory.create())
    assert gift_new_member(member_id=987654321) == []
    assert gift_after_payment(member_id=987654321, order_no="M1", paid_fen=100000) == []
    assert Coupon.objects.count() == 0


# --- 支付有礼 -----------------------------------------------------------------------------------------


def test_a_paid_order_above_the_threshold_earns_its_gift_once(db):
    small = CouponTemplateFactory.create(name="满100送", per_member_limit=5)
    big = CouponTemplateFactory.create(name="满500送", per_member_limit=5)
    small_rule = rule(small, GiftRule.Trigger.PAID_ORDER, min_paid_fen=10000)
    rule(big, GiftRule.Trigger.PAID_ORDER, min_paid_fen=50000)
    rule(CouponTemplateFactory.create(name="新人"), GiftRule.Trigger.NEW_MEMBER)
    member = MemberFactory.create(paid_order_count=1)

    given = gift_after_payment(member_id=member.pk, order_no="M20261123000001", paid_fen=20000)
    replay = gift_after_payment(member_id=member.pk, order_no="M20261123000001", paid_fen=20000)

    assert [c.template_id for c in given] == [small.pk]
    assert given[0].issue_key == f"pay_gift:{small_rule.pk}:M20261123000001"
    assert (given[0].source, given[0].member_id) == ("pay_gift", member.pk)
    assert [c.pk for c in replay] == [c.pk for c in given]
    assert Coupon.objects.count() == 1


def test_the_threshold_is_inclusive_and_below_it_nothing_is_given(db):
    template = CouponTemplateFactory.create(per_member_limit=5)
    rule(template, GiftRule.Trigger.PAID_ORDER, min_paid_fen=10000)
    member = MemberFactory.create()

    assert gift_after_payment(member_id=member.pk, order_no="A", paid_fen=9999) == []
    assert len(gift_after_payment(member_id=member.pk, order_no="B", paid_fen=10000)) == 1
    assert len(gift_after_payment(member_id=member.pk, order_no="C", paid_fen=10001)) == 1
    assert sorted(Coupon.objects.values_list("issue_key", flat=True), key=str) == [
        f"pay_gift:{GiftRule.objects.get().pk}:B", f"pay_gift:{GiftRule.objects.get().pk}:C"]


def test_each_order_earns_its_own_gift_until_the_member_limit_then_it_is_skipped(db, caplog):
    template = CouponTemplateFactory.create(per_member_limit=2)
    rule(template, GiftRule.Trigger.PAID_ORDER)
    member = MemberFactory.create()

    with caplog.at_level(logging.WARNING, logger="campaigns.services.gifts"):
        results = [gift_after_payment(member_id=member.pk, order_no=f"M{i}", paid_fen=5000) for i in range(3)]

    assert [len(r) for r in results] == [1, 1, 0]
    assert Coupon.objects.filter(member=member).count() == 2
    assert "coupon_limit_reached" in caplog.text


def test_a_pay_gift_outside_its_window_gives_nothing(db):
    now = timezone.now()
    rule(CouponTemplateFactory.create(), GiftRule.Trigger.PAID_ORDER, starts_at=now + dt.timedelta(hours=1))
    rule(CouponTemplateFactory.create(), GiftRule.Trigger.PAID_ORDER, ends_at=now - dt.timedelta(hours=1))
    rule(CouponTemplateFactory.create(), GiftRule.Trigger.PAID_ORDER, is_active=False)

    assert gift_after_payment(member_id=MemberFactory.create().pk, order_no="M1", paid_fen=100000) == []
    assert Coupon.objects.count() == 0
