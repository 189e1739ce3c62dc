"""砍价 in the console: setup in yuan with its guard rails, launches with their helpers' cuts, 关闭砍价."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BargainActivity, BargainEvent, BargainLaunch, BargainStatus
from campaigns.services.bargain import bargain_help, bargain_launch
from tests.admin.support_pages import cell, page
from tests.factories import BargainActivityFactory, MemberFactory, SkuFactory

pytestmark = pytest.mark.django_db


def _form(sku_id: int, **overrides: str) -> dict[str, str]:
    now = timezone.localtime()
    data = {"name": "砍价：保温杯", "sku": str(sku_id), "start_price_fen": "99.00", "floor_price_fen": "9.90",
            "helpers_needed": "5", "hours_to_finish": "24", "helps_per_helper": "3", "stock_total": "30",
            "starts_at_0": now.strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
            "ends_at_0": (now + dt.timedelta(days=7)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00",
            "is_active": "on"}
    data.update(overrides)
    return data


def test_an_operator_sets_up_an_activity_in_yuan_and_changes_its_stock(admin_client):
    sku = SkuFactory.create()

    added = admin_client.post(reverse("admin:campaigns_bargainactivity_add"), _form(sku.pk))

    assert added.status_code == 302, added.content.decode()[:2000]
    activity = BargainActivity.objects.get()
    assert (activity.start_price_fen, activity.floor_price_fen, activity.stock_total, activity.stock_left) == (
        9900, 990, 30, 30)
    BargainActivity.objects.filter(pk=activity.pk).update(stock_left=25)  # five units ordered meanwhile
    changed = admin_client.post(reverse("admin:campaigns_bargainactivity_change", args=[activity.pk]),
                                _form(sku.pk, stock_total="40"))
    assert changed.status_code == 302
    activity.refresh_from_db()
    assert (activity.stock_total, activity.stock_left) == (40, 35)


def test_a_floor_too_close_to_the_start_price_is_refused_in_words(admin_client):
    sku = SkuFactory.create()

    response = admin_client.post(reverse("admin:campaigns_bargainactivity_add"),
                                 _form(sku.pk, start_price_fen="10.00", floor_price_fen="9.98"))

    html = page(response)
    assert "底价须比起砍价至少低 5 分" in html
    assert not BargainActivity.objects.exists()


def test_the_lists_and_a_launch_with_its_helpers_render_in_chinese(admin_client):
    activity = BargainActivityFactory.create(name="页面砍价", helpers_needed=2)
    launcher = MemberFactory.create(nickname="发起的人")
    launch, _ = bargain_launch(member_id=launcher.pk, activity_id=activity.pk)
    bargain_help(helper_id=MemberFactory.create(nickname="帮砍好友").pk, launch_no=launch.launch_no)

    activities = page(admin_client.get(reverse("admin:campaigns_bargainactivity_changelist")))
    launches = page(admin_client.get(reverse("admin:campaigns_bargainlaunch_changelist")))
    detail = page(admin_client.get(reverse("admin:campaigns_bargainlaunch_change", args=[launch.pk])))
    add = page(admin_client.get(reverse("admin:campaigns_bargainactivity_add")))

    assert ">营销<" in activities and "砍价活动" in activities
    assert cell(activities, "页面砍价", "prices") == "¥99.00 → ¥9.90"
    assert cell(activities, "页面砍价", "launches") == "1"
    assert cell(launches, launch.launch_no, "status_col") == "砍价中"
    assert "1/2" in cell(launches, launch.launch_no, "progress")
    for label in ("帮砍记录", "帮砍好友", "砍后价", "砍价日志", "发起砍价", "关闭砍价"):
        assert label in detail, label
    for label in ("起砍价（元）", "底价（元）", "需要帮砍人数", "允许未砍到底价时购买",
                  "每刀随机砍掉剩余金额的 20%–50%"):
        assert label in add, label


def test_closing_a_launch_stops_it_with_the_reason_audited(admin_client):
    activity = BargainActivityFactory.create()
    launch, _ = bargain_launch(member_id=MemberFactory.create().pk, activity_id=activity.pk)
    url = reverse("admin:campaigns_bargainlaunch_close", args=[launch.pk])

    assert "确认关闭" in page(admin_client.get(url))
    response = admin_client.post(url, {"reason": "疑似刷单"})

    assert response.status_code == 302
    assert BargainLaunch.objects.get(pk=launch.pk).status == BargainStatus.CLOSED
    event = BargainEvent.objects.get(launch=launch, action="closed")
    assert (event.note, event.actor) == ("疑似刷单", "operator")
