"""Claims at the same moment on the real PostgreSQL, each thread on its own connection: every limit holds."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from rest_framework.test import APIClient

from campaigns.errors import CouponDailyLimitReached, CouponLimitReached
from campaigns.models import Coupon, CouponEvent, CouponQuota
from campaigns.services.claims import coupon_claim
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def claim_path(template) -> str:
    return f"/api/v1/coupons/center/{template.pk}/claim"


def client_for(shopper) -> APIClient:
    """A client of its own for each thread, with the shopper's token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {shopper.token}")
    return client


def outcomes(responses) -> Counter:
    return Counter((r.status_code, r.json().get("code", "ok")) for r in responses)


def test_the_last_coupon_claimed_by_fifty_members_at_once_goes_to_exactly_one():
    # given a template of 3 with 2 already claimed, and 50 members
    template = CouponTemplateFactory.create(total_quantity=3)
    for early in (make_shopper(), make_shopper()):
        assert early.client.post(claim_path(template)).status_code == 201
    shoppers = [make_shopper() for _ in range(50)]
    clients = [client_for(s) for s in shoppers]

    # when all 50 claim at the same moment over HTTP
    responses = run_concurrently(lambda i: clients[i].post(claim_path(template)), 50)

    # then one gets it, 49 hear it is sold out, and the count never passes the total
    assert outcomes(responses) == Counter({(201, "ok"): 1, (409, "coupon_sold_out"): 49})
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    template.refresh_from_db()
    assert template.issued_count == template.total_quantity == 3
    assert template.issued_value_fen == 3000
    assert Coupon.objects.filter(template=template).count() == 3
    assert CouponEvent.objects.filter(action="issued").count() == 3
    assert Coupon.objects.get(pk=winner).member_id in {s.member.pk for s in shoppers}
    # the 49 took nothing: their quota rows stay at zero
    assert CouponQuota.objects.filter(template=template, claimed_total__gt=0).count() == 3


def test_a_member_double_tapping_ten_times_at_once_gets_exactly_one():
    template = CouponTemplateFactory.create(per_member_limit=1, total_quantity=100)
    shopper = make_shopper()
    clients = [client_for(shopper) for _ in range(10)]

    responses = run_concurrently(lambda i: clients[i].post(claim_path(template)), 10)

    assert outcomes(responses) == Counter({(201, "ok"): 1, (409, "coupon_limit_reached"): 9})
    assert Coupon.objects.filter(member=shopper.member).count() == 1
    template.refresh_from_db()
    assert template.issued_count == 1
    assert CouponQuota.objects.get(template=template, member=shopper.member).claimed_total == 1


@pytest.mark.parametrize("per_member_limit", [1, 3])
def test_one_request_retried_ten_times_in_flight_with_one_key_gets_the_first_coupon_every_time(per_member_limit):
    # limit 1: the retries wait on the quota row and find it used up; limit 3: they would pass
    # the limit, and the unique issue_key stops them. Either way every retry gets the first coupon.
    template = CouponTemplateFactory.create(per_member_limit=per_member_limit)
    shopper = make_shopper()
    clients = [client_for(shopper) for _ in range(10)]

    responses = run_concurrently(
        lambda i: clients[i].post(claim_path(template), HTTP_IDEMPOTENCY_KEY="claim-once"), 10)

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("Idempotent-Replayed") == "true") == 9
    template.refresh_from_db()
    assert template.issued_count == 1
    assert CouponQuota.objects.get(template=template, member=shopper.member).claimed_total == 1


def test_the_budget_holds_under_concurrency():
    # ¥10 coupons, ¥35 budget: three fit, the fourth would pass it
    template = CouponTemplateFactory.create(amount_fen=1000, budget_fen=3500)
    shoppers = [make_shopper() for _ in range(12)]
    clients = [client_for(s) for s in shoppers]

    responses = run_concurrently(lambda i: clients[i].post(claim_path(template)), 12)

    assert outcomes(responses) == Counter({(201, "ok"): 3, (409, "coupon_budget_exhausted"): 9})
    template.refresh_from_db()
    assert (template.issued_count, template.issued_value_fen) == (3, 3000)


def test_the_per_day_limit_holds_under_concurrency_and_resets_on_the_next_shanghai_day():
    # given 2 a day, 5 in all
    template = CouponTemplateFactory.create(per_member_limit=5, per_day_limit=2)
    shopper = make_shopper()
    clients = [client_for(shopper) for _ in range(6)]

    # when six taps arrive at once today
    responses = run_concurrently(lambda i: clients[i].post(claim_path(template)), 6)

    # then two coupons, four told to come back tomorrow
    assert outcomes(responses) == Counter({(201, "ok"): 2, (409, "coupon_daily_limit_reached"): 4})
    assert Coupon.objects.filter(member=shopper.member).count() == 2

    # and the day is Shanghai's: 23:50 and 00:10 are the same UTC day but two Shanghai days
    late = dt.datetime(2031, 3, 1, 23, 50, tzinfo=SHANGHAI)
    after_midnight = dt.datetime(2031, 3, 2, 0, 10, tzinfo=SHANGHAI)
    assert late.astimezone(dt.UTC).date() == after_midnight.astimezone(dt.UTC).date()

    member = shopper.member  # a later Shanghai day: two more, at once again
    results = run_concurrently(lambda i: coupon_claim(member=member, template_id=template.pk, now=late), 4)
    assert Counter(type(r).__name__ for r in results) == Counter({"Coupon": 2, "CouponDailyLimitReached": 2})
    assert Coupon.objects.filter(member=member).count() == 4

    coupon_claim(member=member, template_id=template.pk, now=after_midnight)  # the fifth, on a new day
    with pytest.raises(CouponLimitReached):
        coupon_claim(member=member, template_id=template.pk, now=after_midnight)
    quota = CouponQuota.objects.get(template=template, member=member)
    assert (quota.claimed_total, quota.day, quota.claimed_on_day) == (5, dt.date(2031, 3, 2), 1)


def test_on_one_shanghai_day_the_third_claim_is_refused_even_across_utc_midnight():
    template = CouponTemplateFactory.create(per_member_limit=5, per_day_limit=2)
    member = make_shopper().member
    # 07:30 and 08:30 Shanghai are on two UTC days (23:30 and 00:30 UTC) but one Shanghai day
    morning = dt.datetime(2031, 3, 2, 7, 30, tzinfo=SHANGHAI)
    later = dt.datetime(2031, 3, 2, 8, 30, tzinfo=SHANGHAI)

    coupon_claim(member=member, template_id=template.pk, now=morning)
    coupon_claim(member=member, template_id=template.pk, now=later)
    with pytest.raises(CouponDailyLimitReached):
        coupon_claim(member=member, template_id=template.pk, now=later)

    assert Coupon.objects.filter(member=member).count() == 2
