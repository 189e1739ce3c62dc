"""砍价 under concurrency: many friends helping one launch at the same moment, over HTTP, each
request its own database transaction on its own connection (real threads)."""

from __future__ import annotations

import pytest

from campaigns.models import BargainHelp, BargainLaunch, BargainStatus
from campaigns.services.bargain import bargain_launch
from tests.concurrency import run_concurrently
from tests.factories import BargainActivityFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


def _help(shopper, launch_no: str):
    return shopper.client.post(f"/api/v1/bargains/launches/{launch_no}/help", {}, format="json")


def test_fifty_helpers_at_once_end_exactly_at_the_floor_with_exactly_the_helpers_needed():
    # given a launch needing 50 helpers (¥99.00 → ¥9.90) and 60 friends
    activity = BargainActivityFactory.create(helpers_needed=50, helps_per_helper=1)
    launch, _ = bargain_launch(member_id=make_shopper().member.pk, activity_id=activity.pk)
    friends = [make_shopper() for _ in range(60)]

    # when all of them help at the same moment
    responses = run_concurrently(lambda i: _help(friends[i], launch.launch_no), 60)

    # then exactly 50 cuts, in one unbroken sequence, ending exactly at the floor; 10 clear refusals
    assert [r for r in responses if not hasattr(r, "status_code")] == []
    assert sorted(r.status_code for r in responses) == [201] * 50 + [409] * 10
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"bargain_finished"}
    row = BargainLaunch.objects.get(pk=launch.pk)
    assert (row.status, row.current_price_fen, row.helpers_count) == (BargainStatus.SUCCEEDED, 990, 50)
    helps = list(BargainHelp.objects.filter(launch=launch).order_by("seq"))
    assert [h.seq for h in helps] == list(range(1, 51))
    assert all(h.cut_fen >= 1 for h in helps)
    assert sum(h.cut_fen for h in helps) == 9900 - 990
    # each cut starts from the price the one before it left: no cut was lost or applied twice
    price = 9900
    for h in helps:
        price -= h.cut_fen
        assert h.price_after_fen == price
    assert price == 990
    winners = {r.json()["price_after_fen"] for r in responses if r.status_code == 201}
    assert winners == {h.price_after_fen for h in helps}


def test_one_friend_tapping_help_ten_times_at_once_helps_once():
    activity = BargainActivityFactory.create()
    launch, _ = bargain_launch(member_id=make_shopper().member.pk, activity_id=activity.pk)
    friend = make_shopper()

    responses = run_concurrently(lambda i: _help(friend, launch.launch_no), 10)

    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"bargain_already_helped"}
    row = BargainLaunch.objects.get(pk=launch.pk)
    assert row.helpers_count == 1
    assert BargainHelp.objects.filter(launch=launch).count() == 1
