"""GET /api/v1/me/tier: the member's growth, tier, the next tier and the latest growth entries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import GrowthReason
from members.services.growth import growth_award


def test_my_tier_shows_growth_the_next_tier_and_recent_entries(shopper, other_shopper):
    member = shopper.member
    for i in range(25):
        growth_award(member_id=member.pk, amount=100, reason=GrowthReason.PURCHASE, reference=f"O{i}")
    growth_award(member_id=other_shopper.member.pk, amount=99999, reason=GrowthReason.PURCHASE, reference="X")

    with CaptureQueriesContext(connection) as queries:
        response = shopper.client.get("/api/v1/me/tier")

    assert response.status_code == 200
    body = response.json()
    assert (body["growth"], body["tier"]["name"], body["next_tier"]["name"], body["growth_to_next"]) == (
        2500, "白银会员", "黄金会员", 2500)
    assert body["tier"]["discount_percent"] == 98
    assert [t["name"] for t in body["tiers"]] == ["普通会员", "白银会员", "黄金会员", "钻石会员"]
    assert body["tiers"][2]["free_shipping_threshold_fen"] == 9900
    assert len(body["recent"]) == 20
    assert body["recent"][0] == {**body["recent"][0], "delta": 100, "reason": "purchase", "reason_display": "购物",
                                 "growth_after": 2500}
    assert len(queries) == 3, [q["sql"] for q in queries.captured_queries]  # token+member, tiers, entries


def test_the_top_tier_has_no_next(shopper):
    growth_award(member_id=shopper.member.pk, amount=20000, reason=GrowthReason.PURCHASE, reference="big")
    body = shopper.client.get("/api/v1/me/tier").json()
    assert (body["tier"]["name"], body["next_tier"], body["growth_to_next"]) == ("钻石会员", None, None)


def test_a_new_member_is_shown_in_the_lowest_tier(shopper):
    body = shopper.client.get("/api/v1/me/tier").json()
    assert (body["growth"], body["tier"]["name"], body["growth_to_next"], body["recent"]) == (0, "普通会员", 1000, [])


def test_my_tier_needs_a_login(api_client, db):
    assert api_client.get("/api/v1/me/tier").status_code == 401
