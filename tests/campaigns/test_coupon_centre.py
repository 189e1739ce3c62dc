"""The coupon centre and 我的优惠券 as the mini-program reads them: states, texts, tabs, scoping, query budgets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Coupon, CouponKind, CouponQuota, CouponSource, CouponStatus, Validity
from campaigns.services.claims import coupon_claim
from members.models import Segment, SegmentMember, Tier
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

CENTRE = "/api/v1/coupons/center"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def centre(client, query: str = "") -> dict[str, dict]:
    response = client.get(CENTRE + query)
    assert response.status_code == 200, response.content[:300]
    return {row["name"]: row for row in response.json()["results"]}


def short(row: dict) -> tuple:
    return row["state"], row["state_label"], row["reason_code"], row["reason_message"]


def test_anonymous_callers_see_each_template_state_without_member_information(api_client, db):
    now = timezone.now()
    CouponTemplateFactory.create(name="可领", total_quantity=10)
    CouponTemplateFactory.create(name="抢光", total_quantity=1, issued_count=1)
    CouponTemplateFactory.create(name="发完", amount_fen=1000, budget_fen=1500, issued_value_fen=1000, issued_count=1)
    CouponTemplateFactory.create(name="未开始", claim_starts_at=now + dt.timedelta(hours=2))
    CouponTemplateFactory.create(name="新客", new_customer_only=True)
    CouponTemplateFactory.create(name="隐藏", show_in_center=False)
    CouponTemplateFactory.create(name="停用", is_active=False)
    CouponTemplateFactory.create(name="已结束", claim_ends_at=now - dt.timedelta(minutes=1))
    CouponTemplateFactory.create(name="过期固定券", validity=Validity.FIXED, valid_days=None,
                                 valid_from=now - dt.timedelta(days=9), valid_until=now - dt.timedelta(days=1))

    rows = centre(api_client)

    assert set(rows) == {"可领", "抢光", "发完", "未开始", "新客"}
    assert short(rows["可领"]) == ("claimable", "立即领取", "", "")
    assert short(rows["抢光"]) == ("sold_out", "已抢光", "", "")
    assert short(rows["发完"]) == ("budget_exhausted", "已发完", "", "")
    assert short(rows["未开始"]) == ("not_eligible", "不可领取", "coupon_claim_not_started", "未到领取时间")
    assert short(rows["新客"]) == ("claimable", "立即领取", "", "")  # who the caller is, we do not know
    assert {row["claimed_count"] for row in rows.values()} == {None}


def test_a_member_sees_claimed_and_why_they_may_not_claim(db):
    gold = Tier.objects.get(level=2)
    silver = Tier.objects.get(level=1)
    vip = Segment.objects.create(name="高价值")
    shopper = make_shopper(tier=silver, paid_order_count=2)
    taken = CouponTemplateFactory.create(name="已领", per_member_limit=1)
    twice = CouponTemplateFactory.create(name="可领两张", per_member_limit=2)
    CouponTemplateFactory.create(name="新客", new_customer_only=True)
    CouponTemplateFactory.create(name="黄金").tiers.add(gold)
    CouponTemplateFactory.create(name="人群").segments.add(vip)
    today = CouponTemplateFactory.create(name="每日", per_member_limit=5, per_day_limit=1)
    coupon_claim(member=shopper.member, template_id=taken.pk)
    coupon_claim(member=shopper.member, template_id=twice.pk)
    coupon_claim(member=shopper.member, template_id=today.pk)

    rows = centre(shopper.client)

    assert short(rows["已领"]) == ("claimed", "已领取", "", "")
    assert short(rows["可领两张"]) == ("claimable", "立即领取", "", "")
    assert [rows[name]["claimed_count"] for name in ("已领", "可领两张", "新客")] == [1, 1, 0]
    assert short(rows["新客"]) == ("not_eligible", "不可领取", "coupon_new_customer_only", "仅限新客领取")
    assert short(rows["黄金"]) == ("not_eligible", "不可领取", "coupon_tier_restricted", "会员等级不符合领取条件")
    assert short(rows["人群"]) == ("not_eligible", "不可领取", "coupon_segment_restricted", "不在本券的活动人群内")
    assert short(rows["每日"]) == (
        "not_eligible", "不可领取", "coupon_daily_limit_reached", "今日领取已达上限，明天再来")

    # once in the segment, the same template becomes claimable
    SegmentMember.objects.create(segment=vip, member=shopper.member)
    assert centre(shopper.client)["人群"]["state"] == "claimable"


def test_a_claimed_template_that_then_sold_out_still_says_claimed_to_the_holder(shopper, other_shopper):
    template = CouponTemplateFactory.create(name="最后一张", total_quantity=1)
    coupon_claim(member=shopper.member, template_id=template.pk)

    assert centre(shopper.client)["最后一张"]["state"] == "claimed"
    assert centre(other_shopper.client)["最后一张"]["state"] == "sold_out"


def test_yesterdays_claims_do_not_count_against_today(shopper):
    template = CouponTemplateFactory.create(name="每日", per_member_limit=5, per_day_limit=1)
    yesterday = timezone.now() - dt.timedelta(days=1)
    coupon_claim(member=shopper.member, template_id=template.pk, now=yesterday)
    assert CouponQuota.objects.get(member=shopper.member).day == timezone.localdate(yesterday)

    assert centre(shopper.client)["每日"]["state"] == "claimable"


def test_the_progress_bar_shows_what_is_left(api_client, db):
    CouponTemplateFactory.create(name="剩七成", total_quantity=10, issued_count=3)
    CouponTemplateFactory.create(name="剩一张", total_quantity=1000, issued_count=999)
    CouponTemplateFactory.create(name="不限量")
    CouponTemplateFactory.create(name="预算剩四成", amount_fen=1000, budget_fen=5000, issued_value_fen=3000,
                                 issued_count=3)
    CouponTemplateFactory.create(name="两者取小", total_quantity=10, issued_count=2, amount_fen=1000, budget_fen=10000,
                                 issued_value_fen=5000)

    rows = centre(api_client)

    def bar(name):
        return rows[name]["total_quantity"], rows[name]["remaining_quantity"], rows[name]["remaining_percent"]

    assert bar("剩七成") == (10, 7, 70)
    assert bar("剩一张") == (1000, 1, 1)  # never 0% while one is left
    assert bar("不限量") == (None, None, None)
    assert bar("预算剩四成") == (None, None, 40)
    assert bar("两者取小") == (10, 8, 50)


def test_texts_and_money_in_fen(api_client, db):
    start = dt.datetime(2031, 11, 1, 0, 0, tzinfo=SHANGHAI)
    CouponTemplateFactory.create(name="满减", threshold_fen=10000, amount_fen=1000)
    CouponTemplateFactory.create(name="折扣", kind=CouponKind.DISCOUNT, threshold_fen=19900, amount_fen=0,
                                 pay_percent=85,
                                 max_discount_fen=2000)
    CouponTemplateFactory.create(name="九折", kind=CouponKind.DISCOUNT, threshold_fen=0, amount_fen=0, pay_percent=90)
    CouponTemplateFactory.create(name="无门槛", kind=CouponKind.NO_THRESHOLD, threshold_fen=0, amount_fen=550)
    CouponTemplateFactory.create(name="包邮", kind=CouponKind.FREIGHT, threshold_fen=0, amount_fen=0,
                                 validity=Validity.FIXED, valid_days=None, valid_from=start,
                                 valid_until=start + dt.timedelta(days=11))

    rows = centre(api_client)

    def texts(name):
        row = rows[name]
        return row["kind_label"], row["threshold_text"], row["benefit_text"], row["validity_text"]

    assert texts("满减") == ("满减券", "满100可用", "减10元", "领取后7天内有效")
    assert texts("折扣") == ("折扣券", "满199可用", "8.5折，最高减20元", "领取后7天内有效")
    assert texts("九折") == ("折扣券", "无门槛", "9折", "领取后7天内有效")
    assert texts("无门槛") == ("无门槛券", "无门槛", "减5.5元", "领取后7天内有效")
    assert texts("包邮") == ("运费券", "无门槛", "免运费", "2031.11.01-2031.11.11")
    assert (rows["折扣"]["threshold_fen"], rows["折扣"]["pay_percent"], rows["折扣"]["max_discount_fen"]) == (
        19900, 85, 2000)
    assert rows["包邮"]["valid_from"] == "2031-11-01T00:00:00+08:00"
    assert rows["包邮"]["valid_until"] == "2031-11-12T00:00:00+08:00"
    assert (rows["满减"]["valid_from"], rows["满减"]["valid_days"]) == (None, 7)


def test_an_invalid_token_on_the_centre_is_401(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get(CENTRE)
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


# --- my coupons ------------------------------------------------------------------------------------


def hold(member, template, *, status=CouponStatus.AVAILABLE, valid_until=None, used_at=None, valid_from=None):
    now = timezone.now()
    return Coupon.objects.create(template=template, member=member, status=status, source=CouponSource.CENTER,
                                 valid_from=valid_from or now - dt.timedelta(days=1),
                                 valid_until=valid_until or now + dt.timedelta(days=5), used_at=used_at)


def mine(shopper, status: str | None = None) -> list[tuple[int, str]]:
    response = shopper.client.get("/api/v1/coupons/mine" + (f"?status={status}" if status else ""))
    assert response.status_code == 200, response.content[:300]
    return [(row["id"], row["status"]) for row in response.json()["results"]]


def test_my_coupons_by_tab(shopper, other_shopper):
    template = CouponTemplateFactory.create(per_member_limit=10)
    now = timezone.now()
    soon = hold(shopper.member, template, valid_until=now + dt.timedelta(days=1))
    later = hold(shopper.member, template, valid_until=now + dt.timedelta(days=6))
    locked = hold(shopper.member, template, status=CouponStatus.LOCKED, valid_until=now + dt.timedelta(days=3))
    used = hold(shopper.member, template, status=CouponStatus.USED, used_at=now)
    expired = hold(shopper.member, template, status=CouponStatus.EXPIRED, valid_until=now - dt.timedelta(days=3))
    # past valid_until but the expiry job has not run yet
    lapsed = hold(shopper.member, template, valid_until=now - dt.timedelta(minutes=1))
    hold(other_shopper.member, template)

    assert mine(shopper) == mine(shopper, "available") == [
        (soon.pk, "available"), (locked.pk, "locked"), (later.pk, "available")]  # soonest to expire first
    assert mine(shopper, "used") == [(used.pk, "used")]
    assert mine(shopper, "expired") == [(lapsed.pk, "expired"), (expired.pk, "expired")]


def test_a_coupon_shows_its_status_label_and_whether_it_can_be_used_now(shopper):
    template = CouponTemplateFactory.create(name="满100减10")
    now = timezone.now()
    hold(shopper.member, template)
    hold(shopper.member, template, valid_from=now + dt.timedelta(days=1))  # not valid yet
    lapsed = hold(shopper.member, template, valid_until=now - dt.timedelta(seconds=1))

    rows = shopper.client.get("/api/v1/coupons/mine").json()["results"]
    assert [(r["status_label"], r["usable_now"]) for r in rows] == [("未使用", True), ("未使用", False)]
    detail = shopper.client.get(f"/api/v1/coupons/mine/{lapsed.pk}").json()
    assert (detail["status"], detail["status_label"], detail["usable_now"]) == ("expired", "已过期", False)
    assert detail["template"]["threshold_text"] == "满100可用"


def test_another_members_coupon_is_404_and_so_is_an_unknown_one(shopper, other_shopper):
    theirs = hold(other_shopper.member, CouponTemplateFactory.create())

    for path in [f"/api/v1/coupons/mine/{theirs.pk}", "/api/v1/coupons/mine/999999999",
                 "/api/v1/coupons/mine/99999999999999999999999"]:
        response = shopper.client.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == {"code", "message", "detail"}
        assert response.json()["code"] == "coupon_not_found"
    assert shopper.client.get("/api/v1/coupons/mine/abc").json()["code"] == "not_found"


@pytest.mark.parametrize("query", ["status=bogus", "status=locked", "page=abc", "page=0"])
def test_bad_list_queries_are_4xx(shopper, query):
    response = shopper.client.get(f"/api/v1/coupons/mine?{query}")
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"code", "message", "detail"}


def test_bad_status_names_the_code(shopper):
    response = shopper.client.get("/api/v1/coupons/mine?status=bogus")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_status")


def test_my_coupons_need_a_login(api_client, db):
    assert api_client.get("/api/v1/coupons/mine").status_code == 401
    assert api_client.get("/api/v1/coupons/mine/1").status_code == 401


# --- query budgets ---------------------------------------------------------------------------------


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def test_the_centre_query_count_does_not_grow_with_page_size(api_client, shopper):
    vip = Segment.objects.create(name="高价值")
    gold = Tier.objects.get(level=2)
    for i in range(30):
        template = CouponTemplateFactory.create(total_quantity=100)
        if i % 2 == 0:
            coupon_claim(member=shopper.member, template_id=template.pk)
        if i % 3 == 2:  # the newest (the first page) among them
            template.segments.add(vip)
        if i % 4 == 0:
            template.tiers.add(gold)

    anonymous = (count_queries(api_client, CENTRE + "?page_size=2"),
                 count_queries(api_client, CENTRE + "?page_size=30"))
    member = (count_queries(shopper.client, CENTRE + "?page_size=2"),
              count_queries(shopper.client, CENTRE + "?page_size=30"))

    assert anonymous[0] == anonymous[1] <= 4  # count + page + tiers + segments
    assert member[0] == member[1] <= 7  # + token, quotas, segment memberships


def test_my_coupons_query_count_does_not_grow_with_page_size(shopper):
    for _ in range(3):
        template = CouponTemplateFactory.create(per_member_limit=10)
        for _ in range(10):
            hold(shopper.member, template)

    small = count_queries(shopper.client, "/api/v1/coupons/mine?page_size=2")
    large = count_queries(shopper.client, "/api/v1/coupons/mine?page_size=30")

    assert small == large <= 3  # token + count + page with templates
