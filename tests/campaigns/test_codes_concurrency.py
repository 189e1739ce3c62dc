"""One code, many members at once, on the real database with separate connections."""

from __future__ import annotations

from collections import Counter

import pytest
from rest_framework.test import APIClient

from campaigns.models import Coupon, RedeemCode
from campaigns.services.codes import code_batch_import, code_redeem
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_code_redeemed_by_ten_members_at_once_gives_exactly_one_coupon():
    # given one code and ten members, each with a client of their own
    template = CouponTemplateFactory.create()
    code_batch_import(template_id=template.pk, name="联名", partner="合作方", codes=["RACE2026CODE"])
    shoppers = [make_shopper() for _ in range(10)]
    clients = []
    for shopper in shoppers:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {shopper.token}")
        clients.append(client)

    # when all ten redeem it at the same moment
    responses = run_concurrently(
        lambda i: clients[i].post("/api/v1/coupons/redeem", {"code": "RACE2026CODE"}, format="json"), 10)

    # then one coupon, to the member the code records; nine hear it was taken
    assert Counter((r.status_code, r.json().get("code", "ok")) for r in responses) == Counter(
        {(201, "ok"): 1, (409, "code_already_redeemed"): 9})
    coupon = Coupon.objects.get()
    code = RedeemCode.objects.get()
    assert (code.redeemed_by_id, code.coupon_id) == (coupon.member_id, coupon.pk)
    template.refresh_from_db()
    assert template.issued_count == 1


def test_a_double_tap_by_one_member_returns_the_same_coupon_twice():
    template = CouponTemplateFactory.create(per_member_limit=3)
    code_batch_import(template_id=template.pk, name="联名", partner="合作方", codes=["TAPTAP2026"])
    member = make_shopper().member

    results = run_concurrently(lambda i: code_redeem(member=member, code="taptap2026"), 2)

    assert all(isinstance(r, Coupon) for r in results), results
    assert results[0].pk == results[1].pk == Coupon.objects.get().pk
