"""用户画像 and 渠道效果: provinces counted by the map's names, and the effect of each channel code and
partner code batch, against answers worked out by hand on small constructed histories."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from analytics.admin.reports import MAPS
from analytics.selectors.members import channel_effect, code_batch_effect, member_profiles
from campaigns.models import Channel, ChannelScan, Coupon, CouponStatus, RedeemCode
from campaigns.services.channels import channel_scan
from campaigns.services.codes import code_batch_import, code_redeem
from core.regions import PROVINCES, province_short
from members.models import Member
from shop.models import Order
from tests.analytics.histories import BEFORE, DAY, NEXT, D, refunded
from tests.analytics.support import at
from tests.builders import buyer, pay, placed_order
from tests.factories import AddressFactory, CouponTemplateFactory, MemberFactory, SkuFactory, default_freight

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("written", "short"), [
    ("广东省", "广东"), ("广东", "广东"), (" 内蒙古自治区", "内蒙古"), ("香港特别行政区", "香港"),
    ("Guangdong", "广东"), ("Inner Mongolia", "内蒙古"), ("Shaanxi", "陕西"), ("Shanxi", "山西"),
    ("火星", None), ("", None),
])
def test_a_province_is_known_by_its_short_name_however_it_is_written(written, short):
    assert province_short(written) == short


def test_the_vendored_map_names_every_province_as_the_reports_do():
    path = finders.find(MAPS["china"])
    assert path is not None
    with open(path, encoding="utf-8") as data:
        text = data.read()
    assert all(f'"name":"{name}"' in text for name in PROVINCES)


def test_profiles_count_provinces_by_the_maps_names_and_fall_back_to_the_default_address():
    for written in ("广东省", "广东", "Guangdong", "火星"):
        MemberFactory.create(province=written)
    buyer()  # no province of their own; their default address is in 浙江省
    MemberFactory.create()  # nothing at all
    AddressFactory.create(member=MemberFactory.create(province="上海市"), province="江苏省")  # their own wins

    found = member_profiles(today=DAY)

    assert found.members == 7
    assert found.province == [("广东", 3), ("上海", 1), ("未填写", 1), ("浙江", 1), ("火星", 1)]
    assert ("杭州市", 1) in found.city


def test_the_profiles_page_draws_the_province_map_from_the_malls_own_files(admin_client):
    MemberFactory.create(province="广东省")
    MemberFactory.create(province="火星")

    response = admin_client.get(reverse("admin:analytics_dailykpi_profiles"))
    exported = admin_client.get(reverse("admin:analytics_dailykpi_profiles"), {"export": "csv", "table": "province"})

    html = response.content.decode()
    charts = response.context["charts"]
    province = next(chart for chart in charts if chart["key"] == "province")
    assert province["map"] == {"name": "china", "url": "/static/" + MAPS["china"]}
    data = province["option"]["series"][0]["data"]
    assert len(data) == len(PROVINCES) and {"name": "广东", "value": 1} in data
    assert "1 位会员填写的省份无法对应到地图" in html
    assert exported.content.decode("utf-8-sig").splitlines() == ["省份,人数", "广东,1", "火星,1"]


# --- channel effect --------------------------------------------------------------------------


def _registered(member: Member, when: dt.datetime) -> Member:
    Member.objects.filter(pk=member.pk).update(registered_at=when)
    return member


def _redeemed(member: Member, code: str, when: dt.datetime) -> None:
    code_redeem(member=member, code=code)
    RedeemCode.objects.filter(code=code).update(redeemed_at=when)


def _order(member: Member, sku, *, placed: dt.datetime, paid: dt.datetime | None,
           coupon: Coupon | None = None) -> Order:
    order = placed_order(member=member, lines=[(sku, 1)], coupon_ids=(coupon.pk,) if coupon else ())
    if paid is not None:
        order = pay(order)
    Order.objects.filter(pk=order.pk).update(created_at=placed, paid_at=paid)
    if coupon is not None:
        Coupon.objects.filter(pk=coupon.pk).update(used_at=placed)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def partner_batches():
    """Over DAY..NEXT, batch 健身 (4 codes, 满 100 减 10) and batch 咖啡 (2 codes); batch 书店 has none redeemed.

    - m1 registers on DAY 09:00 and orders ¥100 at 09:30 (before redeeming: not the batch's); redeems
      健身 JS01 at 10:00 (a new member); at 11:00 orders ¥100 with that coupon (pays ¥90, the cost ¥10),
      ¥20 of it refunded on NEXT; an order the day after the range is not counted.
    - m2, a member for a month, redeems 咖啡 KF01 on DAY 20:00 and 健身 JS02 on NEXT 08:00, and places
      an unpaid order at NEXT 09:00: an order of both batches.
    - m3 redeemed 健身 JS03 the day before the range, and orders in it: nothing of the range's.
    Worked out: 健身 2 redemptions by 2 members, 1 new, orders o2 and o3, net 9000 - 2000 = 7000 fen,
    cost 1000 fen, return 7.0; 咖啡 1 redemption, 1 member, order o3, net 0, no cost.
    """
    default_freight(first_fee_fen=0, extra_fee_fen=0)
    sku = SkuFactory.create(price_fen=10_000, stock=20)
    gym = CouponTemplateFactory.create(name="健身满减")
    coffee = CouponTemplateFactory.create(name="咖啡满减")
    batch_gym = code_batch_import(template_id=gym.pk, name="健身", partner="乐动健身",
                                  codes=["JS01", "JS02", "JS03", "JS04"])
    batch_coffee = code_batch_import(template_id=coffee.pk, name="咖啡", partner="街角咖啡", codes=["KF01", "KF02"])
    batch_books = code_batch_import(template_id=coffee.pk, name="书店", partner="", codes=["SD01"])
    m1 = _registered(buyer(), at(D, "09:00"))
    m2 = _registered(buyer(), at(D) - dt.timedelta(days=30))
    m3 = buyer()
    _order(m1, sku, placed=at(D, "09:30"), paid=at(D, "09:31"))
    _redeemed(m1, "JS01", at(D, "10:00"))
    o2 = _order(m1, sku, placed=at(D, "11:00"), paid=at(D, "11:01"), coupon=Coupon.objects.get(member=m1))
    refunded(o2, 2000, when=at(NEXT, "12:00"))
    _order(m1, sku, placed=at("2026-11-12", "10:00"), paid=at("2026-11-12", "10:01"))
    _redeemed(m2, "KF01", at(D, "20:00"))
    _redeemed(m2, "JS02", at(NEXT, "08:00"))
    _order(m2, sku, placed=at(NEXT, "09:00"), paid=None)
    _redeemed(m3, "JS03", at(BEFORE, "10:00"))
    _order(m3, sku, placed=at(D, "10:00"), paid=at(D, "10:01"))
    return {"gym": batch_gym, "coffee": batch_coffee, "books": batch_books, "m1": m1, "m2": m2}


def test_a_partner_code_batch_counts_its_redeemers_and_what_they_bought_after_redeeming(partner_batches):
    found = code_batch_effect(first=DAY, last=DAY + dt.timedelta(days=1))

    assert [(b.name, b.partner, b.codes, b.redemptions, b.redeemers, b.new_members, b.orders, b.net_fen,
             b.coupon_cost_fen, b.return_on_cost) for b in found] == [
        ("健身", "乐动健身", 4, 2, 2, 1, 2, 7000, 1000, 7.0),
        ("咖啡", "街角咖啡", 2, 1, 1, 0, 1, 0, 0, None),
        ("书店", "", 1, 0, 0, 0, 0, 0, 0, None),
    ]
    assert Coupon.objects.get(member=partner_batches["m1"]).status == CouponStatus.USED
    # DAY alone: m2's 健身 redemption and their order are the next day's; m1's refund is too.
    day = {b.name: b for b in code_batch_effect(first=DAY, last=DAY)}
    assert (day["健身"].redemptions, day["健身"].orders, day["健身"].net_fen) == (1, 1, 9000)
    assert (day["咖啡"].redemptions, day["咖啡"].orders) == (1, 0)


def test_a_channel_codes_new_members_registered_on_the_day_they_scanned():
    Channel.objects.create(name="收银台", template=CouponTemplateFactory.create(), scene="ch=desk")
    new, old = _registered(MemberFactory.create(), at(D, "09:00")), MemberFactory.create()
    channel_scan(member=new, scene="ch=desk")
    channel_scan(member=old, scene="ch=desk")
    ChannelScan.objects.update(scanned_at=at(D, "23:30"))

    found = channel_effect(first=DAY, last=DAY)

    assert [(c.name, c.scans, c.new_members) for c in found] == [("收银台", 2, 1)]


def test_the_channels_page_shows_and_exports_the_partner_batches(admin_client, partner_batches):
    url = reverse("admin:analytics_dailykpi_channels")
    query = {"first": DAY.isoformat(), "last": (DAY + dt.timedelta(days=1)).isoformat()}

    html = admin_client.get(url, query).content.decode()
    exported = admin_client.get(url, {**query, "export": "csv", "table": "batches"})

    assert "兑换码批次效果（异业合作）" in html and 'id="chart-batches"' in html
    assert exported.content.decode("utf-8-sig").splitlines()[:2] == [
        "批次,合作方,码数,兑换次数,兑换人数,新会员,订单数,净销售额(元),券成本(元),投入产出比",
        "健身,乐动健身,4,2,2,1,2,70.00,10.00,7.0",
    ]
