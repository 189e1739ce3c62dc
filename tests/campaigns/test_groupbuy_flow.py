"""拼团 end to end over HTTP, through the WeChat sandbox: open and join by paying, success makes the
orders shippable; a group that expires unfilled is refunded in full through the real refund path,
with coupons, points and activity stock back exactly once however often the expiry job runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import (
    Coupon,
    CouponStatus,
    GroupBuy,
    GroupBuyAllowance,
    GroupBuyEvent,
    GroupBuyItem,
    GroupBuySeat,
    GroupBuyStatus,
    SeatStatus,
)
from campaigns.services.coupons import coupon_grant
from members.models import Member, PointsEntry
from shop.models import Order, OrderStatus, Refund, RefundState, RefundStatus
from shop.services.groupbuy import group_buys_expire
from shop.services.shipping import GroupBuyNotShippable
from tests.builders import ship
from tests.celery_worker import celery_eager
from tests.factories import CouponTemplateFactory, GroupBuyItemFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper
from tests.shop.support_member_price import give_points
from wechat.models import MessageLog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager():
    with celery_eager():
        yield


def pay_over_http(shopper, order_no: str, sandbox) -> None:
    """The shopper asks for wx.requestPayment parameters, WeChat takes the money and notifies the mall."""
    response = shopper.client.post(f"/api/v1/orders/{order_no}/pay", HTTP_IDEMPOTENCY_KEY=f"pay-{order_no}")
    assert response.status_code == 200, response.json()
    assert sandbox.pay(order_no)["deliveries"][0]["acknowledged"] is True


def open_group(shopper, item: GroupBuyItem, **body) -> dict:
    response = shopper.client.post(f"/api/v1/group-buys/items/{item.pk}/open", body, format="json",
                                   HTTP_IDEMPOTENCY_KEY=f"open-{shopper.member.pk}-{item.pk}")
    assert response.status_code == 201, response.json()
    return response.json()


def join_group(shopper, group_no: str, **body):
    return shopper.client.post(f"/api/v1/group-buys/groups/{group_no}/join", body, format="json",
                               HTTP_IDEMPOTENCY_KEY=f"join-{shopper.member.pk}-{group_no}")


def test_three_members_pay_and_the_group_succeeds_and_ships(mall, sandbox, eager):
    # given a 3-person group-buy of a ¥99 SKU at ¥59, ¥49 for the leader
    default_freight()
    item = GroupBuyItemFactory.create(sku=SkuFactory.create(price_fen=9900, stock=20), group_price_fen=5900,
                                      leader_price_fen=4900, stock_total=10)
    leader, friend, third = make_shopper(), make_shopper(), make_shopper()
    # the leader allowed the 拼团结果 message when paying; the friends did not
    answer = sandbox.subscribe(leader.member.openid, {"sandbox-tmpl-group-buy-result": "accept"})
    assert leader.client.post("/api/v1/subscriptions", {"results": answer}, format="json").status_code == 200

    # when the leader opens (pays) and two friends join through the share card and pay
    opened = open_group(leader, item)
    assert opened["payable_fen"] == 4900 + opened["freight_fen"]
    assert [a["label"] for a in opened["lines"][0]["adjustments"]] == ["团长价"]
    assert GroupBuy.objects.count() == 0  # a group exists once its leader has paid
    pay_over_http(leader, opened["order_no"], sandbox)
    group = GroupBuy.objects.get()
    assert (group.group_no, group.status, group.seats_taken) == (opened["order_no"], GroupBuyStatus.FORMING, 1)
    page = mall_get(friend, f"/api/v1/group-buys/groups/{group.group_no}")
    assert (page["group"]["seats_left"], page["group"]["joinable"], page["group"]["my_role"]) == (2, True, None)

    second = join_group(friend, group.group_no)
    assert second.status_code == 201, second.json()
    assert second.json()["lines"][0]["payable_fen"] == 5900
    pay_over_http(friend, second.json()["order_no"], sandbox)

    # a forming group's orders are not shippable, with a clear reason
    with pytest.raises(GroupBuyNotShippable) as refused:
        ship(Order.objects.get(order_no=opened["order_no"]))
    assert refused.value.message == "拼团尚未成功，成团后才能发货"

    last = join_group(third, group.group_no)
    assert last.status_code == 201
    pay_over_http(third, last.json()["order_no"], sandbox)

    # then the group succeeded with exactly its three members, and every order ships
    group.refresh_from_db()
    assert (group.status, group.seats_taken, group.simulated_seats) == (GroupBuyStatus.SUCCEEDED, 3, 0)
    assert sorted(GroupBuySeat.objects.values_list("status", flat=True)) == [SeatStatus.SEATED] * 3
    for order in Order.objects.all():
        assert ship(order, tracking_no=f"SF10000000{order.pk:02d}").status == OrderStatus.SHIPPED
    assert list(GroupBuyEvent.objects.filter(group=group).values_list("action", flat=True)) == [
        "opened", "joined", "joined", "succeeded"]
    page = mall_get(leader, f"/api/v1/group-buys/groups/{group.group_no}")["group"]
    assert (page["status"], page["seats_left"], page["my_role"], len(page["members"])) == ("succeeded", 0, "leader", 3)
    assert GroupBuyItem.objects.get(pk=item.pk).stock_left == 7
    # the result went to the leader, who consented, through WeChat; the others were not messaged
    outcomes = dict(MessageLog.objects.filter(template_key="group_buy_result").values_list("member_id", "outcome"))
    assert outcomes == {leader.member.pk: "sent", friend.member.pk: "no_credit", third.member.pk: "no_credit"}
    mine = mall_get(friend, "/api/v1/group-buys/mine")["groups"]
    assert [(g["order_no"], g["role"], g["seat_status"]) for g in mine] == [
        (second.json()["order_no"], "member", "seated")]


def mall_get(shopper, url: str) -> dict:
    response = shopper.client.get(url)
    assert response.status_code == 200, response.json()
    return response.json()


def test_an_expired_group_is_refunded_in_full_once_with_coupons_points_and_stock_back(mall, sandbox, eager):
    # given a 3-person group where the leader and a friend paid, each with a coupon and points
    default_freight()
    item = GroupBuyItemFactory.create(sku=SkuFactory.create(price_fen=9900, stock=20), group_price_fen=5900,
                                      stock_total=10)
    template = CouponTemplateFactory.create(amount_fen=500, threshold_fen=0, stacks_with_activities=True,
                                            return_on_full_refund=True)
    leader, friend = make_shopper(), make_shopper()
    for shopper in (leader, friend):
        coupon_grant(template=template, member=shopper.member, source="admin")
        give_points(shopper.member, 1000)
    opened = open_group(leader, item, points=200)
    pay_over_http(leader, opened["order_no"], sandbox)
    group = GroupBuy.objects.get()
    joined = join_group(friend, group.group_no, points=200)
    assert joined.status_code == 201
    pay_over_http(friend, joined.json()["order_no"], sandbox)
    orders = list(Order.objects.order_by("id"))
    assert [o.points_used for o in orders] == [200, 200]
    assert all(o.applied_coupons for o in orders)
    assert GroupBuyItem.objects.get(pk=item.pk).stock_left == 8

    # when its time is up and the expiry job runs — twice
    GroupBuy.objects.filter(pk=group.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    first = group_buys_expire()
    second = group_buys_expire()

    # then the group failed once; each paid member is refunded in full through WeChat, once
    assert (first["failed"], second["failed"], second["refunds"]) == (1, 0, 0)
    group.refresh_from_db()
    assert group.status == GroupBuyStatus.FAILED
    refunds = list(Refund.objects.order_by("order_id"))
    assert [(r.order_id, r.amount_fen, r.status) for r in refunds] == [
        (o.pk, o.paid_fen, RefundStatus.PROCESSING) for o in orders]
    for refund in refunds:
        sandbox.settle_refund(refund.out_refund_no)
    group_buys_expire()
    assert Refund.objects.count() == 2
    for order in Order.objects.order_by("id"):
        assert (order.refunded_fen, order.refund_state, order.status) == (order.paid_fen, RefundState.FULL,
                                                                          OrderStatus.CLOSED)
    # coupons and points back, once; activity stock and allowance back, once
    assert sorted(Coupon.objects.values_list("status", flat=True)) == [CouponStatus.AVAILABLE] * 2
    for shopper in (leader, friend):
        member = Member.objects.get(pk=shopper.member.pk)
        earned = sum(PointsEntry.objects.filter(member=member, kind="purchase").values_list("delta", flat=True))
        reversed_ = sum(PointsEntry.objects.filter(member=member, kind="reversal").values_list("delta", flat=True))
        assert earned + reversed_ == 0
        assert member.points_balance == 1000
    assert GroupBuyItem.objects.get(pk=item.pk).stock_left == 10
    assert list(GroupBuyAllowance.objects.values_list("quantity", flat=True)) == [0, 0]
    assert sorted(GroupBuySeat.objects.values_list("status", flat=True)) == [SeatStatus.REFUND] * 2
    # the result went out as a subscribe message (no consent: logged, not sent)
    assert MessageLog.objects.filter(template_key="group_buy_result").count() == 2
