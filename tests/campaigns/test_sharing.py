"""Shares and invitations: a share tree over three hops credits new members and orders to the right
sharers (last touch within the window); an invitation rewards the inviter once per friend, never
for a re-created account, never to a blocked inviter, within the caps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    Coupon,
    Invitation,
    InviteReward,
    InviteRewardKind,
    InviteSettings,
    Share,
    ShareOrder,
    ShareSignup,
    ShareVisit,
)
from campaigns.selectors.sharing import share_report, suspicious_devices
from campaigns.services.sharing import invite_reward_first_order, share_create, share_visit_record
from members.models import Member, PointsEntry, PointsKind
from members.services import member_block, member_delete_account
from tests.builders import buyer, paid_order
from tests.celery_worker import celery_eager
from tests.factories import CouponTemplateFactory, MemberFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


def _old_member(**fields) -> Member:
    member = buyer(**fields)
    Member.objects.filter(pk=member.pk).update(registered_at=timezone.now() - dt.timedelta(days=30))
    return Member.objects.get(pk=member.pk)


def _invite_points(member: Member) -> int:
    return sum(PointsEntry.objects.filter(member=member, kind=PointsKind.INVITE).values_list("delta", flat=True))


def test_a_share_tree_of_three_hops_credits_new_members_and_orders_to_the_right_sharers():
    default_freight()
    sku = SkuFactory.create(price_fen=5000, stock=100)
    product = str(sku.product_id)
    alice = _old_member(nickname="Alice")
    # hop 1: Alice shares the product; Bob joins through it, shares it on; Carol joins through Bob's;
    # Carol shares an invitation; Dave joins through Carol's invitation
    s1 = share_create(member_id=alice.pk, kind="product", target=product)
    bob = make_shopper(nickname="Bob").member
    share_visit_record(member_id=bob.pk, share_no=s1.share_no, scene=1007, device_id="bob-phone")
    s2 = share_create(member_id=bob.pk, kind="product", target=product)
    carol = make_shopper(nickname="Carol").member
    share_visit_record(member_id=carol.pk, share_no=s2.share_no, scene=1008)
    s3 = share_create(member_id=carol.pk, kind="invitation", via_share_no=s2.share_no)
    dave = make_shopper(nickname="Dave").member
    share_visit_record(member_id=dave.pk, share_no=s3.share_no, scene=1047)
    # an old member opening Alice's share is a visit, not a new member; Alice opening her own is nothing
    erin = _old_member(nickname="Erin")
    share_visit_record(member_id=erin.pk, share_no=s1.share_no, scene=1007)
    assert share_visit_record(member_id=alice.pk, share_no=s1.share_no) is None

    # each of them buys
    orders = {m.nickname: paid_order(member=m, lines=[(sku, 1)]) for m in (bob, carol, dave, erin)}

    assert (s1.depth, s2.depth, s3.depth) == (1, 2, 3)
    assert (Share.objects.get(pk=s2.pk).parent_id, Share.objects.get(pk=s3.pk).parent_id) == (s1.pk, s2.pk)
    assert dict(ShareSignup.objects.values_list("member__nickname", "share__sharer__nickname")) == {
        "Bob": "Alice", "Carol": "Bob", "Dave": "Carol"}
    credited = dict(ShareOrder.objects.values_list("order_no", "share__sharer__nickname"))
    assert credited == {orders["Bob"].order_no: "Alice", orders["Carol"].order_no: "Bob",
                        orders["Dave"].order_no: "Carol", orders["Erin"].order_no: "Alice"}
    assert ShareVisit.objects.get(visitor=bob).scene == 1007

    report = share_report(kind="product", target=product)
    assert [r.share_no for r in report.roots] == [s1.share_no]
    assert [c.share_no for c in report.roots[0].children] == [s2.share_no]
    assert [c.share_no for c in report.roots[0].children[0].children] == [s3.share_no]
    rows = {r.sharer_name: (r.shares, r.visits, r.new_members, r.orders) for r in report.sharers}
    assert rows == {"Alice": (1, 2, 1, 2), "Bob": (1, 1, 1, 1), "Carol": (1, 1, 1, 1)}
    assert (report.shares, report.new_members, report.orders, report.max_depth) == (3, 3, 4, 3)
    assert report.k_factor == 1.0
    assert report.net_fen == sum(o.lines.get().payable_fen for o in orders.values())


def test_last_touch_within_seven_days_wins_and_older_touches_do_not_count():
    default_freight()
    sku = SkuFactory.create(stock=10)
    alice, bob = _old_member(nickname="A"), _old_member(nickname="B")
    buyer = make_shopper().member
    from_alice = share_create(member_id=alice.pk, kind="product", target=str(sku.product_id))
    from_bob = share_create(member_id=bob.pk, kind="page", target="pages/index/index")
    share_visit_record(member_id=buyer.pk, share_no=from_alice.share_no)
    share_visit_record(member_id=buyer.pk, share_no=from_bob.share_no)

    first = paid_order(member=buyer, lines=[(sku, 1)])
    ShareVisit.objects.filter(visitor=buyer).update(created_at=timezone.now() - dt.timedelta(days=8))
    second = paid_order(member=buyer, lines=[(sku, 1)])

    assert ShareOrder.objects.get(order_no=first.order_no).share_id == from_bob.pk
    assert not ShareOrder.objects.filter(order_no=second.order_no).exists()


def _invite(inviter: Member, *, device_id: str = "") -> Member:
    share = share_create(member_id=inviter.pk, kind="invitation")
    friend = make_shopper().member
    share_visit_record(member_id=friend.pk, share_no=share.share_no, device_id=device_id)
    return friend


def test_the_inviter_is_rewarded_once_per_friend_on_registration_and_on_the_first_paid_order(
        django_capture_on_commit_callbacks):
    default_freight()
    sku = SkuFactory.create(stock=10)
    inviter = _old_member()
    friend = _invite(inviter)
    assert _invite_points(inviter) == 100

    with celery_eager(), django_capture_on_commit_callbacks(execute=True):
        paid_order(member=friend, lines=[(sku, 1)])
    with celery_eager(), django_capture_on_commit_callbacks(execute=True):
        paid_order(member=friend, lines=[(sku, 1)])
    invite_reward_first_order(invitee_id=friend.pk, order_no="again")

    assert _invite_points(inviter) == 200
    assert sorted(InviteReward.objects.values_list("trigger", "outcome", "points")) == [
        ("first_order", "granted", 100), ("registration", "granted", 100)]


def test_sharing_or_an_old_member_opening_an_invitation_earns_nothing():
    inviter = _old_member()
    share = share_create(member_id=inviter.pk, kind="invitation")
    share_visit_record(member_id=_old_member().pk, share_no=share.share_no)

    assert _invite_points(inviter) == 0
    assert not InviteReward.objects.exists()


def test_a_re_created_account_earns_nobody_anything():
    inviter = _old_member()
    gone = MemberFactory.create(openid="o-recycled", phone="13800000001")
    member_delete_account(member_id=gone.pk)
    share = share_create(member_id=inviter.pk, kind="invitation")
    again = MemberFactory.create(openid="o-recycled")  # the same WeChat account registers anew

    share_visit_record(member_id=again.pk, share_no=share.share_no)
    invite_reward_first_order(invitee_id=again.pk, order_no="X1")
    # a new OpenID with the deleted account's phone is recognised once the phone is bound
    second = share_create(member_id=inviter.pk, kind="invitation")
    other = MemberFactory.create(openid="o-new")
    share_visit_record(member_id=other.pk, share_no=second.share_no)
    Member.objects.filter(pk=other.pk).update(phone="13800000001")
    invite_reward_first_order(invitee_id=other.pk, order_no="X2")

    assert _invite_points(inviter) == 100  # only the new OpenID's registration, before its phone was known
    assert sorted(InviteReward.objects.values_list("invitation__invitee_id", "trigger", "outcome")) == sorted([
        (again.pk, "registration", "recycled"), (again.pk, "first_order", "recycled"),
        (other.pk, "registration", "granted"), (other.pk, "first_order", "recycled")])


def test_rewards_stop_at_the_daily_and_total_caps_and_the_device_cap():
    InviteSettings.objects.create(pk=1, daily_cap=2, total_cap=3, device_daily_cap=1, reward_on_first_order=False)
    inviter = _old_member()

    for _ in range(3):
        _invite(inviter)
    assert _invite_points(inviter) == 200  # the third friend today is over the daily cap

    tomorrow = timezone.now() + dt.timedelta(days=1)
    share = share_create(member_id=inviter.pk, kind="invitation")
    for i in range(2):
        friend = MemberFactory.create()
        Member.objects.filter(pk=friend.pk).update(registered_at=tomorrow)
        share_visit_record(member_id=friend.pk, share_no=share.share_no, now=tomorrow, device_id=f"d{i}")
    assert _invite_points(inviter) == 300  # tomorrow one more, then the total cap
    outcomes = list(InviteReward.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["granted", "granted", "capped", "granted", "capped"]

    # two friends registering on one phone earn one reward that day
    other = _old_member()
    _invite(other, device_id="same-phone")
    _invite(other, device_id="same-phone")
    assert _invite_points(other) == 100
    assert [c.device_id for c in suspicious_devices(min_accounts=2)] == ["same-phone"]


def test_a_blocked_inviter_earns_nothing_and_a_coupon_reward_is_a_coupon():
    template = CouponTemplateFactory.create(name="邀请券")
    InviteSettings.objects.create(pk=1, reward_kind=InviteRewardKind.COUPON, reward_coupon_template=template)
    blocked, rewarded = _old_member(), _old_member()
    member_block(member_id=blocked.pk, reason="刷邀请")

    _invite(blocked)
    _invite(rewarded)

    assert list(InviteReward.objects.filter(inviter=blocked).values_list("outcome", flat=True)) == ["blocked"]
    reward = InviteReward.objects.get(inviter=rewarded)
    assert (reward.outcome, reward.kind) == ("granted", "coupon")
    assert Coupon.objects.get(member=rewarded).pk == reward.coupon_id


def test_shares_and_visits_over_the_api():
    sharer = make_shopper()

    made = sharer.client.post("/api/v1/shares", {"kind": "bargain", "target": "K123"}, format="json")
    share_no = made.json()["share_no"]
    friend = make_shopper()  # registers after the share was made, then opens it
    visit = friend.client.post(f"/api/v1/shares/{share_no}/visits", {"scene": 1007, "device_id": "x"},
                               format="json")
    unknown = friend.client.post("/api/v1/shares/NOPE/visits", {}, format="json")
    bad_kind = sharer.client.post("/api/v1/shares", {"kind": "nonsense"}, format="json")

    assert (made.status_code, made.json()["scene"]) == (201, f"s={share_no}")
    assert (visit.status_code, visit.json()) == (201, {"recorded": True, "new_member": True})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "share_not_found")
    assert bad_kind.status_code == 400


def test_the_console_shows_the_report_invitations_settings_and_suspicious_patterns(admin_client):
    default_freight()
    alice = _old_member(nickname="分享达人")
    share = share_create(member_id=alice.pk, kind="product", target="42")
    friend = make_shopper(nickname="新朋友").member
    share_visit_record(member_id=friend.pk, share_no=share.share_no, scene=1007, device_id="dev-1")
    invited = _invite(alice, device_id="dev-1")
    _invite(alice, device_id="dev-1")
    paid_order(member=friend, lines=[(SkuFactory.create(stock=5), 1)])

    report = admin_client.get(reverse("admin:campaigns_share_report"), {"kind": "product", "target": "42"})
    suspicious = admin_client.get(reverse("admin:campaigns_share_suspicious"))
    invitations = admin_client.get(reverse("admin:campaigns_invitation_changelist"))
    invitation = admin_client.get(reverse("admin:campaigns_invitation_change",
                                          args=[Invitation.objects.get(invitee=invited).pk]))
    settings_page = admin_client.get(reverse("admin:campaigns_invitesettings_changelist"))
    shares = admin_client.get(reverse("admin:campaigns_share_changelist"))

    html = report.content.decode()
    for text in ("分享传播分析", "分享达人", "带来新会员", "K 因子", "传播链", share.share_no):
        assert text in html, text
    assert "dev-1" in suspicious.content.decode() and "同一设备多个账号" in suspicious.content.decode()
    assert "邀请记录" in invitations.content.decode()
    assert "邀请奖励" in invitation.content.decode()
    assert "每人每日奖励上限" in settings_page.content.decode()
    assert "分享传播分析" in shares.content.decode()
    assert {r.status_code for r in (report, suspicious, invitations, invitation, settings_page, shares)} == {200}
