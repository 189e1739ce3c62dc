"""Claiming in the coupon centre over HTTP: the coupon, the limits, eligibility, retries, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Coupon, CouponEvent, CouponKind, CouponQuota, CouponTemplate, Validity
from members.models import Segment, SegmentMember, Tier
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def claim(shopper, template_id, **headers):
    return shopper.client.post(f"/api/v1/coupons/center/{template_id}/claim", **headers)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    return body


def state(template: CouponTemplate) -> tuple:
    """Everything a claim could change."""
    template.refresh_from_db()
    return (template.issued_count, template.issued_value_fen, Coupon.objects.count(), CouponEvent.objects.count(),
            list(CouponQuota.objects.order_by("id").values_list("member_id", "claimed_total", "claimed_on_day")))


def test_a_claim_gives_one_coupon_valid_to_the_end_of_the_seventh_shanghai_day(shopper):
    template = CouponTemplateFactory.create(name="满100减10", total_quantity=100)

    response = claim(shopper, template.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    coupon = Coupon.objects.get()
    assert body["id"] == coupon.pk
    assert (body["status"], body["status_label"], body["usable_now"]) == ("available", "未使用", True)
    assert (body["source"], body["source_label"]) == ("center", "领券中心")
    assert body["template"] == {
        "template_id": template.pk, "name": "满100减10", "kind": "full_reduction", "kind_label": "满减券",
        "threshold_fen": 10000, "amount_fen": 1000, "pay_percent": None, "max_discount_fen": None,
        "threshold_text": "满100可用", "benefit_text": "减10元", "scope": "all", "scope_label": "全场通用",
        "stacks_with_activities": False,
    }
    last_day = timezone.localdate(coupon.claimed_at) + dt.timedelta(days=6)
    assert timezone.localtime(coupon.valid_until) == timezone.make_aware(
        dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min))
    assert (coupon.member_id, coupon.source, coupon.issue_key) == (shopper.member.pk, "center", None)
    template.refresh_from_db()
    assert (template.issued_count, template.issued_value_fen) == (1, 1000)
    assert list(coupon.events.values_list("action", "amount_fen")) == [("issued", 1000)]


def test_a_second_claim_over_the_per_member_limit_is_409_and_changes_nothing(shopper):
    template = CouponTemplateFactory.create(per_member_limit=1)
    assert claim(shopper, template.pk).status_code == 201
    before = state(template)

    body = error(claim(shopper, template.pk), 409)

    assert (body["code"], body["message"]) == ("coupon_limit_reached", "已达领取上限")
    assert body["detail"] == {"per_member_limit": 1}
    assert state(template) == before


def test_a_sold_out_template_is_409_coupon_sold_out(shopper, other_shopper):
    template = CouponTemplateFactory.create(total_quantity=1)
    assert claim(other_shopper, template.pk).status_code == 201
    before = state(template)

    body = error(claim(shopper, template.pk), 409)

    assert (body["code"], body["message"]) == ("coupon_sold_out", "优惠券已抢光")
    assert state(template) == before


def test_budget_stops_claims_exactly_when_the_next_coupon_would_pass_it(db):
    # given ¥10 coupons under a ¥25 budget: two fit (¥20), a third would make ¥30
    template = CouponTemplateFactory.create(amount_fen=1000, budget_fen=2500)
    first, second, third = make_shopper(), make_shopper(), make_shopper()
    assert claim(first, template.pk).status_code == 201
    assert claim(second, template.pk).status_code == 201
    before = state(template)

    body = error(claim(third, template.pk), 409)

    assert (body["code"], body["message"]) == ("coupon_budget_exhausted", "活动补贴已发完")
    assert body["detail"] == {"budget_fen": 2500}
    assert state(template) == before
    assert before[:2] == (2, 2000)


def test_a_budget_can_be_used_to_the_last_fen_and_a_discount_coupon_counts_its_cap(db):
    # 8.5折 capped at ¥20: each coupon may cost ¥20, so a ¥60 budget is exactly three coupons
    template = CouponTemplateFactory.create(kind=CouponKind.DISCOUNT, threshold_fen=0, amount_fen=0, pay_percent=85,
                                            max_discount_fen=2000, budget_fen=6000)
    shoppers = [make_shopper() for _ in range(4)]

    codes = [claim(s, template.pk).status_code for s in shoppers]

    assert codes == [201, 201, 201, 409]
    template.refresh_from_db()
    assert (template.issued_count, template.issued_value_fen) == (3, 6000)


def test_the_same_idempotency_key_returns_the_first_coupon_even_when_more_are_allowed(shopper):
    template = CouponTemplateFactory.create(per_member_limit=3)

    first = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="tap-1")
    again = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="tap-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Coupon.objects.get().issue_key == f"claim:{shopper.member.pk}:tap-1"
    template.refresh_from_db()
    assert template.issued_count == 1
    # a new key is a new claim
    assert claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="tap-2").json()["id"] != first.json()["id"]
    assert Coupon.objects.count() == 2


def test_a_retry_returns_the_first_coupon_even_after_the_template_left_the_centre(shopper):
    template = CouponTemplateFactory.create()
    first = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="k")
    CouponTemplate.objects.filter(pk=template.pk).update(show_in_center=False)

    again = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="k")

    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])


def test_the_same_key_for_another_template_is_409_and_changes_nothing(shopper):
    first, second = CouponTemplateFactory.create(), CouponTemplateFactory.create()
    assert claim(shopper, first.pk, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    before = state(second)

    body = error(claim(shopper, second.pk, HTTP_IDEMPOTENCY_KEY="k"), 409)

    assert body["code"] == "idempotency_key_reused"
    assert state(second) == before


def test_keys_are_per_member(shopper, other_shopper):
    template = CouponTemplateFactory.create()

    mine = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY="same")
    theirs = claim(other_shopper, template.pk, HTTP_IDEMPOTENCY_KEY="same")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert set(Coupon.objects.values_list("member_id", flat=True)) == {shopper.member.pk, other_shopper.member.pk}


def test_a_long_key_is_stored_hashed_and_still_replays(shopper):
    template = CouponTemplateFactory.create(per_member_limit=2)
    key = "k" * 64

    first = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY=key)
    again = claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY=key)

    assert again.json()["id"] == first.json()["id"]
    issue_key = Coupon.objects.get().issue_key
    assert issue_key is not None
    assert issue_key.startswith(f"claim:{shopper.member.pk}:") and len(issue_key) <= 80


# --- eligibility: each rule with its own code, nothing changes ---------------------------------------


def refused(shopper, template, code: str, message: str) -> None:
    before = state(template)
    body = error(claim(shopper, template.pk), 403)
    assert (body["code"], body["message"]) == (code, message)
    assert state(template) == before
    assert not CouponQuota.objects.filter(template=template, claimed_total__gt=0).exists()


def test_before_the_claim_window_opens(shopper):
    template = CouponTemplateFactory.create(claim_starts_at=timezone.now() + dt.timedelta(hours=1))
    refused(shopper, template, "coupon_claim_not_started", "未到领取时间")


def test_after_the_claim_window_closes(shopper):
    template = CouponTemplateFactory.create(claim_ends_at=timezone.now() - dt.timedelta(minutes=1))
    refused(shopper, template, "coupon_claim_ended", "领取已结束")


def test_a_fixed_date_coupon_whose_validity_is_over(shopper):
    now = timezone.now()
    template = CouponTemplateFactory.create(validity=Validity.FIXED, valid_days=None,
                                            valid_from=now - dt.timedelta(days=10),
                                            valid_until=now - dt.timedelta(days=1))
    refused(shopper, template, "coupon_claim_ended", "领取已结束")


def test_inside_the_window_the_claim_works(shopper):
    now = timezone.now()
    template = CouponTemplateFactory.create(claim_starts_at=now - dt.timedelta(hours=1),
                                            claim_ends_at=now + dt.timedelta(hours=1))
    assert claim(shopper, template.pk).status_code == 201


def test_new_customer_only_refuses_a_member_with_a_paid_order(db):
    template = CouponTemplateFactory.create(new_customer_only=True)
    old_customer, new_customer = make_shopper(paid_order_count=1), make_shopper(paid_order_count=0)

    refused(old_customer, template, "coupon_new_customer_only", "仅限新客领取")
    assert claim(new_customer, template.pk).status_code == 201


@pytest.fixture
def tiers(db):
    """The default tiers (a data migration makes them), by level: 普通 0, 白银 1, 黄金 2, 钻石 3."""
    by_level = {t.level: t for t in Tier.objects.all()}
    return {"白银": by_level[1], "黄金": by_level[2]}


def test_a_tier_restricted_coupon(tiers):
    template = CouponTemplateFactory.create()
    template.tiers.add(tiers["黄金"])
    silver, no_tier, gold = make_shopper(tier=tiers["白银"]), make_shopper(tier=None), make_shopper(tier=tiers["黄金"])

    refused(silver, template, "coupon_tier_restricted", "会员等级不符合领取条件")
    refused(no_tier, template, "coupon_tier_restricted", "会员等级不符合领取条件")
    assert claim(gold, template.pk).status_code == 201


def test_a_segment_restricted_coupon(db):
    template = CouponTemplateFactory.create()
    segment, other_segment = Segment.objects.create(name="高价值"), Segment.objects.create(name="沉睡")
    template.segments.add(segment)
    inside, elsewhere, outside = make_shopper(), make_shopper(), make_shopper()
    SegmentMember.objects.create(segment=segment, member=inside.member)
    SegmentMember.objects.create(segment=other_segment, member=elsewhere.member)

    refused(elsewhere, template, "coupon_segment_restricted", "不在本券的活动人群内")
    refused(outside, template, "coupon_segment_restricted", "不在本券的活动人群内")
    assert claim(inside, template.pk).status_code == 201


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/coupons/center/999999999/claim",
    "/api/v1/coupons/center/99999999999999999999999/claim",
])
def test_an_unknown_template_is_404_coupon_template_not_found(shopper, path):
    template = CouponTemplateFactory.create()
    before = state(template)

    body = error(shopper.client.post(path), 404)

    assert (body["code"], body["message"]) == ("coupon_template_not_found", "优惠券不存在")
    assert state(template) == before


@pytest.mark.parametrize("path", ["/api/v1/coupons/center/abc/claim", "/api/v1/coupons/center/1.5/claim",
                                  "/api/v1/coupons/center/-1/claim", "/api/v1/coupons/center//claim"])
def test_a_malformed_template_id_is_404_in_the_error_shape(shopper, path):
    template = CouponTemplateFactory.create()
    before = state(template)

    assert error(shopper.client.post(path), 404)["code"] == "not_found"
    assert state(template) == before


@pytest.mark.parametrize("change", [{"show_in_center": False}, {"is_active": False}], ids=["hidden", "inactive"])
def test_a_hidden_or_stopped_template_cannot_be_claimed_in_the_centre(shopper, change):
    template = CouponTemplateFactory.create(**change)
    before = state(template)

    body = error(claim(shopper, template.pk), 404)

    assert (body["code"], body["detail"]) == ("coupon_template_not_found", {"template_id": template.pk})
    assert state(template) == before


@pytest.mark.parametrize("key", ["", "   ", "k" * 65, "键"])
def test_a_malformed_idempotency_key_is_400(shopper, key):
    template = CouponTemplateFactory.create()
    before = state(template)

    body = error(claim(shopper, template.pk, HTTP_IDEMPOTENCY_KEY=key), 400)

    assert body["code"] == "invalid_idempotency_key"
    assert state(template) == before


def test_claiming_needs_a_login(api_client, db):
    template = CouponTemplateFactory.create()

    body = error(api_client.post(f"/api/v1/coupons/center/{template.pk}/claim"), 401)

    assert body["code"] == "not_authenticated"
    assert state(template)[:3] == (0, 0, 0)


def test_only_post_claims(shopper):
    template = CouponTemplateFactory.create()
    assert error(shopper.client.get(f"/api/v1/coupons/center/{template.pk}/claim"), 405)["code"] == (
        "method_not_allowed")
    assert state(template)[:3] == (0, 0, 0)
