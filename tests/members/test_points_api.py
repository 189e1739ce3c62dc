"""The points API: the member's own balance, next expiry and ledger; bad input is a 4xx."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import PointsEntry, PointsKind
from members.services.points import points_award, points_spend


def award(member, points: int, reference: str, *, days_ago: int = 0, kind: str = PointsKind.PURCHASE):
    return points_award(member_id=member.pk, points=points, kind=kind, reference=reference,
                        now=timezone.now() - dt.timedelta(days=days_ago))


def test_points_need_a_signed_in_member(db):
    for path in ("/api/v1/me/points", "/api/v1/me/points/entries"):
        response = APIClient().get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_summary_shows_the_balance_and_the_next_expiring_day(shopper):
    award(shopper.member, 100, "OLD", days_ago=400)  # expired, not yet taken by the job: not "next"
    award(shopper.member, 30, "A", days_ago=340)
    award(shopper.member, 20, "B", days_ago=340)  # same day as A: counted together
    award(shopper.member, 70, "C", days_ago=10)

    body = shopper.client.get("/api/v1/me/points").json()

    first = PointsEntry.objects.get(reference="A").lot.expires_at
    assert body["balance"] == 220
    assert body["next_expiring_points"] == 50
    assert dt.datetime.fromisoformat(body["next_expires_at"]) == first
    assert (body["points_per_yuan"], body["max_percent_of_goods"]) == (100, 50)


def test_summary_with_no_points(shopper):
    body = shopper.client.get("/api/v1/me/points").json()

    assert (body["balance"], body["next_expiring_points"], body["next_expires_at"]) == (0, 0, None)


def test_the_ledger_is_newest_first_with_labels_and_only_mine(shopper, other_shopper):
    award(shopper.member, 100, "M1")
    points_spend(member_id=shopper.member.pk, points=30, reference="M2")
    award(other_shopper.member, 999, "SECRET-ORDER")

    body = shopper.client.get("/api/v1/me/points/entries").json()

    assert body["count"] == 2
    assert [(r["kind"], r["kind_label"], r["delta"], r["balance_after"], r["reference"]) for r in body["results"]] == [
        ("spend", "下单抵扣", -30, 70, "M2"), ("purchase", "购物", 100, 100, "M1")]
    assert "SECRET-ORDER" not in str(body)
    theirs = other_shopper.client.get("/api/v1/me/points/entries").json()
    assert [r["reference"] for r in theirs["results"]] == ["SECRET-ORDER"]
    assert "note" not in body["results"][0] and "operator" not in body["results"][0]


def test_the_ledger_filters_by_kind_and_refuses_an_unknown_kind(shopper):
    award(shopper.member, 100, "M1")
    award(shopper.member, 5, "2026-01-01", kind=PointsKind.SIGN_IN)

    sign_ins = shopper.client.get("/api/v1/me/points/entries?kind=sign_in").json()
    bad = shopper.client.get("/api/v1/me/points/entries?kind=free_money")
    bad_page = shopper.client.get("/api/v1/me/points/entries?page=999")

    assert [r["delta"] for r in sign_ins["results"]] == [5]
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_points_kind"
    assert bad_page.status_code == 404


def test_the_ledger_query_count_does_not_grow_with_page_size(shopper):
    for i in range(30):
        award(shopper.member, 10, f"S{i}", kind=PointsKind.SIGN_IN)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = shopper.client.get(path)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    small = queries("/api/v1/me/points/entries?page_size=2")
    large = queries("/api/v1/me/points/entries?page_size=30")

    assert small == large <= 3  # token + count + page
    assert queries("/api/v1/me/points") <= 3  # token + next expiry + its day's sum
