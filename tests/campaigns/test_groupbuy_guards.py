"""拼团 abuse guards over HTTP: a member an operator blocked can neither open nor join a group
(403 member_blocked, nothing changes); joins are capped per member and per device per day
(409 group_buy_join_limit_reached, nothing changes), opening is not."""

from __future__ import annotations

import pytest

from campaigns.models import (
    ActionAllowance,
    DeviceSighting,
    GroupBuy,
    GroupBuyAllowance,
    GroupBuyItem,
    GroupBuySeat,
)
from members.services import member_block
from shop.models import Order
from tests.builders import pay
from tests.factories import GroupBuyItemFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def item() -> GroupBuyItem:
    default_freight()
    return GroupBuyItemFactory.create(sku=SkuFactory.create(price_fen=9900, stock=50), group_price_fen=5900,
                                      stock_total=20, activity__per_member_limit=3)


def open_order(shopper, item: GroupBuyItem):
    return shopper.client.post(f"/api/v1/group-buys/items/{item.pk}/open", {}, format="json")


def open_paid(item: GroupBuyItem) -> GroupBuy:
    response = open_order(make_shopper(), item)
    assert response.status_code == 201, response.json()
    pay(Order.objects.get(order_no=response.json()["order_no"]))
    return GroupBuy.objects.get(group_no=response.json()["order_no"])


def join(shopper, group: GroupBuy, device_id: str = ""):
    return shopper.client.post(f"/api/v1/group-buys/groups/{group.group_no}/join", {"device_id": device_id},
                               format="json")


def snapshot(item: GroupBuyItem) -> tuple:
    return (Order.objects.count(), GroupBuyItem.objects.get(pk=item.pk).stock_left, GroupBuySeat.objects.count(),
            sorted(GroupBuyAllowance.objects.values_list("quantity", flat=True)),
            sorted(ActionAllowance.objects.values_list("key", "count")), DeviceSighting.objects.count())


def test_a_blocked_member_can_neither_open_nor_join_and_nothing_changes(item):
    group = open_paid(item)
    blocked = make_shopper()
    member_block(member_id=blocked.member.pk, reason="刷单")
    before = snapshot(item)

    opened = open_order(blocked, item)
    joined = join(blocked, group, device_id="phone-1")

    assert (opened.status_code, opened.json()["code"]) == (403, "member_blocked")
    assert (joined.status_code, joined.json()["code"], joined.json()["message"]) == (
        403, "member_blocked", "账号存在异常，暂不能参与该活动")
    assert snapshot(item) == before


def test_the_daily_join_cap_per_member_refuses_the_next_join_but_not_an_open(item, settings):
    settings.GROUP_BUY_DAILY_JOIN_LIMIT = 1
    first, second = open_paid(item), open_paid(item)
    friend = make_shopper()
    assert join(friend, first).status_code == 201
    before = snapshot(item)

    refused = join(friend, second)

    assert (refused.status_code, refused.json()["code"]) == (409, "group_buy_join_limit_reached")
    assert refused.json()["detail"] == {"limit": "member_daily", "max": 1}
    assert snapshot(item) == before
    # opening a group of one's own is not a join
    assert open_order(friend, item).status_code == 201


def test_the_daily_join_cap_per_device_counts_every_account_on_it(item, settings):
    settings.GROUP_BUY_DEVICE_DAILY_JOIN_LIMIT = 1
    first, second = open_paid(item), open_paid(item)
    assert join(make_shopper(), first, device_id="phone-1").status_code == 201
    before = snapshot(item)

    refused = join(make_shopper(), second, device_id="phone-1")

    assert (refused.status_code, refused.json()["detail"]) == (409, {"limit": "device_daily", "max": 1})
    assert snapshot(item) == before
    # another device is not held back, and each account was remembered on its device
    assert join(make_shopper(), second, device_id="phone-2").status_code == 201
    assert sorted(DeviceSighting.objects.values_list("device_id", flat=True)) == ["phone-1", "phone-2"]
