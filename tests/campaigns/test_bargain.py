"""砍价: the cut rule, launching, helping over the API, the caps and blocks, and buying the launch
as an ordinary order at the price the friends reached."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import BargainPriceChanged
from campaigns.models import BargainActivity, BargainEvent, BargainHelp, BargainLaunch, BargainStatus, Commission
from campaigns.services.bargain import (
    BargainWant,
    bargain_cut,
    bargain_help,
    bargain_launch,
    bargain_reserve,
    bargains_expire_due,
)
from members.models import Member, MemberAudit
from members.services import member_block
from shop.models import Order, OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_place
from tests.builders import pay
from tests.campaigns.support_distribution import chain
from tests.factories import BargainActivityFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

BS = BargainStatus


@settings(max_examples=60, deadline=None)
@given(remaining=st.integers(min_value=1, max_value=10**7), helpers=st.integers(min_value=1, max_value=60),
       seed=st.integers(min_value=0, max_value=2**32))
def test_cuts_are_positive_keep_a_fen_per_helper_and_the_last_reaches_the_floor(remaining, helpers, seed):
    if remaining < helpers:
        return
    rng = random.Random(seed)
    cuts = []
    left = remaining
    for still_needed in range(helpers, 0, -1):
        cut = bargain_cut(remaining_fen=left, helpers_left=still_needed, rng=rng)
        assert 1 <= cut <= left - (still_needed - 1)
        cuts.append(cut)
        left -= cut
    assert left == 0
    assert sum(cuts) == remaining


def test_a_cut_is_twenty_to_fifty_percent_of_what_remains_when_there_is_room():
    rng = random.Random(7)
    cuts = [bargain_cut(remaining_fen=10_000, helpers_left=5, rng=rng) for _ in range(200)]
    assert min(cuts) >= 2000
    assert max(cuts) <= 5000


def _launch(activity: BargainActivity, shopper) -> dict:
    response = shopper.client.post(f"/api/v1/bargains/activities/{activity.pk}/launch", format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()["launch"]


def _help(shopper, launch_no: str, device_id: str = ""):
    return shopper.client.post(f"/api/v1/bargains/launches/{launch_no}/help", {"device_id": device_id},
                               format="json")


@pytest.mark.django_db
def test_five_friends_bring_the_launch_to_the_floor_and_the_page_shows_every_cut():
    activity = BargainActivityFactory.create()
    launcher = make_shopper(nickname="小美")
    launch = _launch(activity, launcher)
    assert (launch["status"], launch["current_price_fen"], launch["helpers_count"]) == ("ongoing", 9900, 0)

    friends = [make_shopper(nickname=f"好友{i}") for i in range(5)]
    answers = [_help(friend, launch["launch_no"]) for friend in friends]

    assert [a.status_code for a in answers] == [201] * 5
    page = launcher.client.get(f"/api/v1/bargains/launches/{launch['launch_no']}").json()["launch"]
    assert (page["status"], page["current_price_fen"], page["helpers_count"], page["buyable"]) == (
        "succeeded", 990, 5, True)
    assert [h["seq"] for h in page["helpers"]] == [1, 2, 3, 4, 5]
    assert [h["nickname"] for h in page["helpers"]] == [f"好友{i}" for i in range(5)]
    assert sum(h["cut_fen"] for h in page["helpers"]) == 9900 - 990
    assert page["helpers"][-1]["price_after_fen"] == 990
    prices = [h["price_after_fen"] for h in page["helpers"]]
    assert prices == sorted(prices, reverse=True)
    assert list(BargainEvent.objects.filter(launch_id=page["id"]).values_list("action", flat=True)) == [
        "launched", "succeeded"]


@pytest.mark.django_db
def test_launching_twice_returns_the_live_launch():
    activity = BargainActivityFactory.create()
    shopper = make_shopper()
    first = shopper.client.post(f"/api/v1/bargains/activities/{activity.pk}/launch", format="json")
    again = shopper.client.post(f"/api/v1/bargains/activities/{activity.pk}/launch", format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["launch"]["launch_no"] == again.json()["launch"]["launch_no"]
    assert BargainLaunch.objects.count() == 1


@pytest.mark.django_db
def test_helping_your_own_launch_or_twice_is_refused_and_changes_nothing():
    activity = BargainActivityFactory.create()
    launcher, friend = make_shopper(), make_shopper()
    launch = _launch(activity, launcher)
    assert _help(friend, launch["launch_no"]).status_code == 201
    price = BargainLaunch.objects.get(pk=launch["id"]).current_price_fen

    own = _help(launcher, launch["launch_no"])
    twice = _help(friend, launch["launch_no"])

    assert (own.status_code, own.json()["code"]) == (409, "bargain_own_launch")
    assert (twice.status_code, twice.json()["code"]) == (409, "bargain_already_helped")
    row = BargainLaunch.objects.get(pk=launch["id"])
    assert (row.current_price_fen, row.helpers_count) == (price, 1)
    assert BargainHelp.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("finish", ["floor", "expired", "closed"])
def test_helping_a_finished_bargain_is_a_clear_409_and_changes_nothing(finish):
    activity = BargainActivityFactory.create(helpers_needed=2)
    launcher = make_shopper()
    launch = _launch(activity, launcher)
    if finish == "floor":
        for _ in range(2):
            assert _help(make_shopper(), launch["launch_no"]).status_code == 201
    elif finish == "expired":
        BargainLaunch.objects.filter(pk=launch["id"]).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    else:
        BargainLaunch.objects.filter(pk=launch["id"]).update(status=BS.CLOSED)
    before = BargainLaunch.objects.filter(pk=launch["id"]).values().get()
    helps = BargainHelp.objects.count()

    late = _help(make_shopper(), launch["launch_no"])

    assert late.status_code == 409
    body = late.json()
    assert (body["code"], body["message"]) == ("bargain_finished", "该砍价已结束，不能再帮砍")
    assert body["detail"]["status"] == {"floor": "succeeded", "expired": "expired", "closed": "closed"}[finish]
    assert BargainLaunch.objects.filter(pk=launch["id"]).values().get() == before
    assert BargainHelp.objects.count() == helps


@pytest.mark.django_db
def test_an_unknown_launch_is_404():
    response = _help(make_shopper(), "K0000NOPE")
    assert (response.status_code, response.json()["code"]) == (404, "bargain_launch_not_found")


@pytest.mark.django_db
def test_daily_and_per_activity_and_device_caps(settings):
    settings.BARGAIN_DAILY_HELP_LIMIT = 2
    activity = BargainActivityFactory.create(helps_per_helper=1)
    other_activity = BargainActivityFactory.create()
    helper = make_shopper()
    launches = [_launch(activity, make_shopper()) for _ in range(2)] + [
        _launch(other_activity, make_shopper()) for _ in range(2)]

    answers = [_help(helper, launch["launch_no"]) for launch in launches]

    # one help in the first activity; the second activity's first help, then the daily cap
    assert [a.status_code for a in answers] == [201, 409, 201, 409]
    assert answers[1].json()["detail"]["limit"] == "per_activity"
    assert answers[3].json()["detail"]["limit"] == "member_daily"
    assert BargainHelp.objects.filter(helper=helper.member).count() == 2

    settings.BARGAIN_DEVICE_DAILY_HELP_LIMIT = 1
    target = _launch(other_activity, make_shopper())
    assert _help(make_shopper(), target["launch_no"], device_id="phone-1").status_code == 201
    refused = _help(make_shopper(), target["launch_no"], device_id="phone-1")
    assert (refused.status_code, refused.json()["detail"]["limit"]) == (409, "device_daily")


@pytest.mark.django_db
def test_a_blocked_member_cannot_launch_or_help():
    activity = BargainActivityFactory.create()
    launch = _launch(activity, make_shopper())
    blocked = make_shopper()
    member_block(member_id=blocked.member.pk, reason="刷单")

    help_answer = _help(blocked, launch["launch_no"])
    launch_answer = blocked.client.post(f"/api/v1/bargains/activities/{activity.pk}/launch", format="json")

    assert (help_answer.status_code, help_answer.json()["code"]) == (403, "member_blocked")
    assert (launch_answer.status_code, launch_answer.json()["code"]) == (403, "member_blocked")
    assert BargainHelp.objects.count() == 0
    assert BargainLaunch.objects.count() == 1


def _floor_launch(activity: BargainActivity, launcher) -> BargainLaunch:
    launch, _ = bargain_launch(member_id=launcher.member.pk, activity_id=activity.pk)
    for _ in range(activity.helpers_needed):
        bargain_help(helper_id=make_shopper().member.pk, launch_no=launch.launch_no)
    return BargainLaunch.objects.get(pk=launch.pk)


def _order(shopper, launch: BargainLaunch, **extra):
    item = {"sku_id": launch.activity.sku_id, "quantity": 1, "bargain_launch_id": launch.pk, **extra}
    return shopper.client.post("/api/v1/orders/", {"items": [item]}, format="json")


@pytest.mark.django_db
def test_buying_at_the_floor_is_an_ordinary_order_at_the_reached_price_then_purchased():
    default_freight()
    activity = BargainActivityFactory.create()
    launcher = make_shopper()
    launch = _floor_launch(activity, launcher)

    response = _order(launcher, launch)

    assert response.status_code == 201, response.content
    order = Order.objects.get(order_no=response.json()["order_no"])
    line = order.lines.get()
    assert (line.unit_price_fen, line.payable_fen) == (12900, 990)
    assert list(line.adjustments.values_list("stage", "label", "amount_fen", "reference")) == [
        ("activity", "砍价价", 990 - 12900, f"bargain:{launch.pk}")]
    launch.refresh_from_db()
    assert (launch.status, launch.order_no) == (BS.ORDERED, order.order_no)
    assert BargainActivity.objects.get(pk=activity.pk).stock_left == 19
    assert order.expires_at <= timezone.now() + dt.timedelta(minutes=15)

    pay(order)

    launch.refresh_from_db()
    assert launch.status == BS.PURCHASED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


@pytest.mark.django_db
def test_cancelling_the_unpaid_order_gives_the_launch_and_the_unit_back_once():
    default_freight()
    activity = BargainActivityFactory.create()
    launcher = make_shopper()
    launch = _floor_launch(activity, launcher)
    order = Order.objects.get(order_no=_order(launcher, launch).json()["order_no"])

    order_cancel(order=order, reason="不想要了", actor="member")
    order_cancel(order=Order.objects.get(pk=order.pk), reason="不想要了", actor="member")

    launch.refresh_from_db()
    assert launch.status == BS.SUCCEEDED
    assert BargainActivity.objects.get(pk=activity.pk).stock_left == 20
    again = _order(launcher, launch)
    assert again.status_code == 201


@pytest.mark.django_db
def test_buying_before_the_floor_needs_the_activity_to_allow_it():
    default_freight()
    strict = BargainActivityFactory.create()
    relaxed = BargainActivityFactory.create(buy_before_floor=True)
    launcher, friend = make_shopper(), make_shopper()
    strict_launch, _ = bargain_launch(member_id=launcher.member.pk, activity_id=strict.pk)
    relaxed_launch, _ = bargain_launch(member_id=launcher.member.pk, activity_id=relaxed.pk)
    bargain_help(helper_id=friend.member.pk, launch_no=relaxed_launch.launch_no)
    relaxed_launch.refresh_from_db()

    refused = _order(launcher, strict_launch)
    accepted = _order(launcher, relaxed_launch)

    assert (refused.status_code, refused.json()["code"]) == (409, "bargain_not_buyable")
    assert accepted.status_code == 201
    line = Order.objects.get(order_no=accepted.json()["order_no"]).lines.get()
    assert line.payable_fen == relaxed_launch.current_price_fen
    assert BargainLaunch.objects.get(pk=strict_launch.pk).status == BS.ONGOING


@pytest.mark.django_db
def test_someone_elses_launch_or_two_units_cannot_be_bought():
    default_freight()
    activity = BargainActivityFactory.create()
    owner = make_shopper()
    launch = _floor_launch(activity, owner)

    theirs = _order(make_shopper(), launch)
    two = _order(owner, launch, quantity=2)

    assert (theirs.status_code, theirs.json()["code"]) == (404, "bargain_launch_not_found")
    assert (two.status_code, two.json()["code"]) == (400, "bargain_line_invalid")
    assert BargainLaunch.objects.get(pk=launch.pk).status == BS.SUCCEEDED
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_expiry_job_expires_unfinished_launches_once():
    activity = BargainActivityFactory.create()
    launch, _ = bargain_launch(member_id=make_shopper().member.pk, activity_id=activity.pk)
    BargainLaunch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert bargains_expire_due() == 1
    assert bargains_expire_due() == 0
    assert BargainLaunch.objects.get(pk=launch.pk).status == BS.EXPIRED


@pytest.mark.django_db
def test_my_launches_and_the_activity_list():
    activity = BargainActivityFactory.create()
    shopper = make_shopper()
    launch = _launch(activity, shopper)

    mine = shopper.client.get("/api/v1/bargains/launches/mine").json()
    board = shopper.client.get("/api/v1/bargains/activities").json()

    assert [row["launch_no"] for row in mine["results"]] == [launch["launch_no"]]
    assert [(a["id"], a["my_launch_no"]) for a in board["activities"]] == [(activity.pk, launch["launch_no"])]


@pytest.mark.django_db
def test_a_line_bought_at_the_bargain_price_earns_the_uplines_nothing_and_the_other_line_does():
    default_freight()
    _, near, shopper = chain()
    activity = BargainActivityFactory.create(helpers_needed=1)
    launch, _ = bargain_launch(member_id=shopper.pk, activity_id=activity.pk)
    bargain_help(helper_id=make_shopper().member.pk, launch_no=launch.launch_no)
    other = SkuFactory.create(price_fen=10000, stock=5)
    order, _ = order_place(member=shopper, data=CheckoutInput(items=(
        LineInput(activity.sku_id, 1, bargain_launch_id=launch.pk), LineInput(other.pk, 1))))

    pay(order)

    earning_lines = set(Commission.objects.filter(order_ref=order.order_no).values_list("line_ref", flat=True))
    bargain_line = order.lines.get(sku_id=activity.sku_id)
    assert earning_lines and bargain_line.pk not in earning_lines
    assert BargainLaunch.objects.get(pk=launch.pk).status == BS.PURCHASED
    assert near.pk in set(Commission.objects.filter(order_ref=order.order_no).values_list("distributor_id",
                                                                                            flat=True))


@pytest.mark.django_db
def test_an_order_priced_before_a_friends_cut_is_refused_and_takes_nothing():
    activity = BargainActivityFactory.create(buy_before_floor=True)
    launcher = make_shopper()
    launch, _ = bargain_launch(member_id=launcher.member.pk, activity_id=activity.pk)
    priced_at = launch.current_price_fen
    bargain_help(helper_id=make_shopper().member.pk, launch_no=launch.launch_no)  # lands after the preview

    with pytest.raises(BargainPriceChanged), transaction.atomic():
        bargain_reserve(member_id=launcher.member.pk, order_no="20261206X", now=timezone.now(),
                        wants=[BargainWant(launch_id=launch.pk, price_fen=priced_at)])

    row = BargainLaunch.objects.get(pk=launch.pk)
    assert (row.status, row.order_no) == (BS.ONGOING, "")
    assert BargainActivity.objects.get(pk=activity.pk).stock_left == 20


@pytest.mark.django_db
def test_operators_block_and_unblock_members_from_the_member_list(admin_client):
    member = make_shopper().member
    url = reverse("admin:members_member_changelist")

    admin_client.post(url, {"action": "block_selected", "_selected_action": [member.pk]})
    blocked = Member.objects.get(pk=member.pk)
    admin_client.post(url, {"action": "unblock_selected", "_selected_action": [member.pk]})

    assert (blocked.is_blocked, blocked.blocked_reason) == (True, "运营在会员列表中拉黑")
    assert not Member.objects.get(pk=member.pk).is_blocked
    assert list(MemberAudit.objects.filter(member=member).order_by("pk").values_list("action", flat=True)) == [
        "blocked", "unblocked"]
