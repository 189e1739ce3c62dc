"""The 拼团 console: activity setup with the flash sales' price floor, the groups with their members,
and 关闭拼团 / 强制成团 with a reason, audited, through the services; and the pages in a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import sync_playwright

from campaigns.models import GroupBuy, GroupBuyActivity, GroupBuyEvent, GroupBuyItem, GroupBuyStatus, SeatStatus
from shop.models import Order
from shop.services.orders import CheckoutInput, GroupChoice, LineInput, order_place
from tests.admin.support_pages import page
from tests.builders import buyer, pay
from tests.factories import GroupBuyItemFactory, SkuFactory, default_freight

CHROMIUM = "/usr/bin/chromium"


def open_and_join(item: GroupBuyItem, joiners: int = 1) -> GroupBuy:
    """A group whose leader and `joiners` friends paid."""
    order, _ = order_place(member=buyer(nickname="团长小王"), data=CheckoutInput(
        items=(LineInput(item.sku_id, 1),), group=GroupChoice(item.pk)))
    pay(order)
    group = GroupBuy.objects.get(group_no=order.order_no)
    for n in range(joiners):
        joined, _ = order_place(member=buyer(nickname=f"好友{n + 1}"), data=CheckoutInput(
            items=(LineInput(item.sku_id, 1),), group=GroupChoice(item.pk, group.pk)))
        pay(joined)
    return GroupBuy.objects.get(pk=group.pk)


@pytest.fixture
def forming(db) -> GroupBuy:
    default_freight()
    item = GroupBuyItemFactory.create(sku=SkuFactory.create(price_fen=9900, cost_fen=4000, stock=20),
                                      group_price_fen=5900, activity__name="周末3人团")
    return open_and_join(item)


@pytest.mark.django_db
def test_the_pages_render_in_chinese(admin_client, forming):
    activities = page(admin_client.get(reverse("admin:campaigns_groupbuyactivity_changelist")))
    activity = page(admin_client.get(reverse("admin:campaigns_groupbuyactivity_change", args=[forming.activity_id])))
    groups = page(admin_client.get(reverse("admin:campaigns_groupbuy_changelist") + "?status__exact=forming"))
    group = page(admin_client.get(reverse("admin:campaigns_groupbuy_change", args=[forming.pk])))

    assert "周末3人团" in activities and "拼团中 / 已成团" in activities and ">营销<" in activities
    for label in ("成团规则", "模拟成团阈值（%）", "满团后继续支付", "拼团价（元）", "团长价（元）", "确认低于成本价"):
        assert label in activity, label
    assert forming.group_no in groups and "2 / 3" in groups
    for label in ("团员", "团长小王", "好友1", "拼团日志", "开团", "参团", "强制成团", "关闭拼团并退款"):
        assert label in group, label


@pytest.mark.django_db
def test_an_item_priced_below_cost_is_refused_unless_confirmed(admin_client):
    sku = SkuFactory.create(price_fen=9900, cost_fen=6000)
    activity = GroupBuyActivity.objects.create(name="低价团", starts_at="2030-01-01T00:00+08:00",
                                               ends_at="2030-01-02T00:00+08:00")
    url = reverse("admin:campaigns_groupbuyactivity_change", args=[activity.pk])
    form = {"name": "低价团", "starts_at_0": "2030-01-01", "starts_at_1": "00:00:00", "ends_at_0": "2030-01-02",
            "ends_at_1": "00:00:00", "is_active": "on", "group_size": 3, "open_hours": 24, "per_member_limit": 1,
            "single_purchase": "on", "overflow": "open_new", "unpaid_timeout_minutes": 15,
            "items-TOTAL_FORMS": 1, "items-INITIAL_FORMS": 0, "items-0-sku": sku.pk,
            "items-0-group_price_fen": "59.00", "items-0-leader_price_fen": "49.00", "items-0-stock_total": 10,
            "items-0-sort": 0}

    refused = page(admin_client.post(url, form))
    assert "团长价 ¥49.00 低于成本价 ¥60.00" in refused
    assert not GroupBuyItem.objects.exists()

    # the superuser holds the permission: ticking the confirmation saves it, logged
    admin_client.post(url, {**form, "items-0-confirm_below_cost": "on"})
    item = GroupBuyItem.objects.get()
    assert (item.group_price_fen, item.leader_price_fen, item.stock_left, item.below_cost_confirmed) == (
        5900, 4900, 10, True)


@pytest.mark.django_db(transaction=True)
def test_force_succeed_and_close_take_a_reason_and_are_audited(admin_client, forming):
    # 强制成团: the empty seat is filled, the group succeeds, its orders become shippable
    url = reverse("admin:campaigns_groupbuy_force_succeed", args=[forming.pk])
    assert "请填写" not in page(admin_client.get(url))
    admin_client.post(url, {"reason": "", "confirm": "on"})
    assert GroupBuy.objects.get(pk=forming.pk).status == GroupBuyStatus.FORMING
    admin_client.post(url, {"reason": "老客户补单，线下已确认", "confirm": "on"})
    group = GroupBuy.objects.get(pk=forming.pk)
    assert (group.status, group.seats_taken, group.simulated_seats) == (GroupBuyStatus.SUCCEEDED, 2, 1)
    event = GroupBuyEvent.objects.get(group=group, action="forced")
    assert (event.note, event.operator is not None) == ("运营强制成团：老客户补单，线下已确认", True)

    # 关闭拼团 on another group: it fails, its paid members are marked for refund
    other = open_and_join(GroupBuyItem.objects.get())
    admin_client.post(reverse("admin:campaigns_groupbuy_close", args=[other.pk]), {"reason": "商品缺货"})
    other.refresh_from_db()
    assert (other.status, other.close_reason) == (GroupBuyStatus.FAILED, "商品缺货")
    assert set(other.seats.values_list("status", flat=True)) == {SeatStatus.REFUND}
    assert GroupBuyEvent.objects.get(group=other, action="closed").note == "运营关闭：商品缺货"
    assert all(o.needs_refund for o in Order.objects.filter(pk__in=other.seats.values("order_id")))
    # neither button applies to a finished group
    detail = page(admin_client.get(reverse("admin:campaigns_groupbuy_change", args=[other.pk])))
    assert reverse("admin:campaigns_groupbuy_force_succeed", args=[other.pk]) not in detail
    assert reverse("admin:campaigns_groupbuy_close", args=[other.pk]) not in detail


@pytest.mark.django_db(transaction=True)
def test_the_console_pages_in_a_browser(live_server, admin_user, forming, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    paths = [
        ("groupbuy-activities", reverse("admin:campaigns_groupbuyactivity_changelist")),
        ("groupbuy-activity", reverse("admin:campaigns_groupbuyactivity_change", args=[forming.activity_id])),
        ("groupbuy-groups", reverse("admin:campaigns_groupbuy_changelist")),
        ("groupbuy-group", reverse("admin:campaigns_groupbuy_change", args=[forming.pk])),
        ("groupbuy-close", reverse("admin:campaigns_groupbuy_close", args=[forming.pk])),
    ]
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        tab = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{live_server.url}{reverse('admin:login')}")
        tab.fill("#id_username", "admin")
        tab.fill("#id_password", "password")
        tab.click("input[type=submit]")
        tab.wait_for_url(f"{live_server.url}{reverse('admin:index')}")
        for name, path in paths:
            tab.goto(f"{live_server.url}{path}", wait_until="load")
            assert tab.locator("#nav-sidebar").count() == 1, name
            tab.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
        browser.close()
    assert errors == []
    assert sorted(p.name for p in shots.glob("console-groupbuy-*.png")) == sorted(f"console-{n}.png"
                                                                                   for n, _ in paths)
