"""Channel codes (扫码领券): the code is made once by the sandbox's getwxacodeunlimit, a scan claims
the channel's template with the coupon attributed to the channel, and every scan is recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.errors import ChannelNotFound
from campaigns.models import Channel, ChannelKind, ChannelScan, Coupon, CouponQuota, CouponSource
from campaigns.selectors.delivery import channel_list_with_counts, channel_with_counts
from campaigns.services.channels import channel_generate_code
from core.errors import ValidationFailed
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper
from wechat.errors import WechatApiError

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def scans_claims_refusals(channel: Channel) -> tuple[int, int, int]:
    """The counts channel_with_counts() annotates on the channel (annotations: not on its type)."""
    counted: Any = channel_with_counts(channel_id=channel.pk)
    assert counted is not None
    return counted.scan_count, counted.claim_count, counted.refused_count


def make_channel(*, scene: str = "ch-cashier-01", template=None, **fields) -> Channel:
    return Channel.objects.create(name="收银台立牌", kind=ChannelKind.CASHIER, scene=scene,
                                  template=template or CouponTemplateFactory.create(), **fields)


def scan(shopper, scene: str):
    return shopper.client.post("/api/v1/coupons/scan", {"scene": scene}, format="json")


def test_a_scanned_channel_code_claims_its_template_attributed_to_the_channel(sandbox, media):
    # given an operator's channel for a 满100减10 template, and another template that must not be issued
    template = CouponTemplateFactory.create(name="收银台专享券")
    CouponTemplateFactory.create(name="别的券")
    channel = make_channel(scene="c=store12&p=1", template=template)

    # when its code is generated (the sandbox draws the PNG), and a shopper's phone scans the PNG
    channel = channel_generate_code(channel_id=channel.pk)
    with channel.qrcode.open("rb") as stored:
        png = stored.read()
    seen = sandbox.scan_wxacode(png)
    shopper = make_shopper()
    response = scan(shopper, seen["scene"])

    # then the code opens the channel's page with its scene, and the coupon of the right template
    # is issued to the shopper, attributed to the channel, whose scans and claims count it
    assert seen == {"scene": "c=store12&p=1", "page": "pages/coupon/scan"}
    assert response.status_code == 201
    body = response.json()
    assert body["channel"] == {"id": channel.pk, "name": "收银台立牌"}
    assert (body["coupon"]["template"]["template_id"], body["coupon"]["source"]) == (template.pk, "scan")
    coupon = Coupon.objects.get()
    assert (coupon.pk, coupon.member_id, coupon.template_id, coupon.channel_id, coupon.source) == (
        body["coupon"]["id"], shopper.member.pk, template.pk, channel.pk, CouponSource.SCAN)
    assert scans_claims_refusals(channel) == (1, 1, 0)
    assert list(ChannelScan.objects.values_list("member_id", "outcome", "reason")) == [
        (shopper.member.pk, "claimed", "")]


def test_the_code_is_generated_once_and_stored(sandbox, media):
    channel = make_channel()

    first = channel_generate_code(channel_id=channel.pk)
    second = channel_generate_code(channel_id=channel.pk)

    assert first.qrcode.name == second.qrcode.name
    assert first.qrcode.name.startswith("channels/channel-")
    assert first.qrcode_generated_at is not None and second.qrcode_generated_at == first.qrcode_generated_at
    assert len(sandbox.wxacodes()) == 1
    assert [p.name for p in (media / "channels").iterdir()] == [first.qrcode.name.removeprefix("channels/")]
    assert sandbox.wxacodes()[0]["check_path"] is False


def test_wechat_failing_stores_nothing_and_a_retry_works(sandbox, media):
    channel = make_channel()
    sandbox.wxacode_fail_next(1, errcode=-1)

    with pytest.raises(WechatApiError):
        channel_generate_code(channel_id=channel.pk)

    channel.refresh_from_db()
    assert (channel.qrcode.name, channel.qrcode_generated_at) == ("", None)
    assert not (media / "channels").exists()
    assert channel_generate_code(channel_id=channel.pk).qrcode.name.startswith("channels/")


def test_a_scene_wechat_refuses_is_a_validation_error_and_stores_nothing(sandbox, media):
    channel = make_channel(scene="门店1")

    with pytest.raises(ValidationFailed) as refused:
        channel_generate_code(channel_id=channel.pk)

    assert refused.value.code == "invalid_wxacode_scene"
    channel.refresh_from_db()
    assert channel.qrcode.name == ""
    assert sandbox.wxacodes() == []


def test_an_unknown_channel_has_no_code(sandbox, media):
    with pytest.raises(ChannelNotFound):
        channel_generate_code(channel_id=987654)


def test_a_second_scan_by_the_same_member_is_recorded_as_refused(sandbox):
    channel = make_channel()
    shopper = make_shopper()
    assert scan(shopper, channel.scene).status_code == 201

    again = scan(shopper, channel.scene)

    assert (again.status_code, again.json()["code"]) == (409, "coupon_limit_reached")
    assert Coupon.objects.filter(member=shopper.member).count() == 1
    assert list(ChannelScan.objects.order_by("id").values_list("outcome", "reason")) == [
        ("claimed", ""), ("refused", "coupon_limit_reached")]
    assert scans_claims_refusals(channel) == (2, 1, 1)


def test_a_sold_out_template_refuses_the_scan_records_it_and_changes_nothing_else(sandbox):
    template = CouponTemplateFactory.create(total_quantity=1)
    channel = make_channel(template=template)
    assert scan(make_shopper(), channel.scene).status_code == 201
    late = make_shopper()

    response = scan(late, channel.scene)

    assert (response.status_code, response.json()["code"]) == (409, "coupon_sold_out")
    template.refresh_from_db()
    assert (template.issued_count, Coupon.objects.count()) == (1, 1)
    assert CouponQuota.objects.filter(member=late.member, claimed_total__gt=0).count() == 0
    assert ChannelScan.objects.filter(member=late.member).values_list("outcome", "reason").get() == (
        "refused", "coupon_sold_out")


def test_a_member_who_may_not_claim_is_refused_with_the_rule_and_the_scan_recorded(sandbox):
    channel = make_channel(template=CouponTemplateFactory.create(new_customer_only=True))
    regular = make_shopper(paid_order_count=3)

    response = scan(regular, channel.scene)

    assert (response.status_code, response.json()["code"]) == (403, "coupon_new_customer_only")
    assert Coupon.objects.count() == 0
    assert ChannelScan.objects.values_list("outcome", "reason").get() == ("refused", "coupon_new_customer_only")


@pytest.mark.parametrize("scene", ["no-such-scene", "ch-disabled"])
def test_an_unknown_or_disabled_channel_is_not_found_and_nothing_is_recorded(sandbox, scene):
    make_channel(scene="ch-disabled", is_active=False)

    response = scan(make_shopper(), scene)

    assert (response.status_code, response.json()["code"]) == (404, "channel_not_found")
    assert (ChannelScan.objects.count(), Coupon.objects.count()) == (0, 0)


def test_a_scan_needs_a_logged_in_member_and_a_scene(api_client, sandbox):
    channel = make_channel()

    anonymous = api_client.post("/api/v1/coupons/scan", {"scene": channel.scene}, format="json")
    blank = make_shopper().client.post("/api/v1/coupons/scan", {"scene": "  "}, format="json")
    missing = make_shopper().client.post("/api/v1/coupons/scan", {}, format="json")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (blank.status_code, blank.json()["code"]) == (400, "invalid_input")
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid_input")
    assert (ChannelScan.objects.count(), Coupon.objects.count()) == (0, 0)


def test_the_channel_list_counts_scans_and_claims_in_one_query(sandbox):
    channels = [make_channel(scene=f"ch-{i}") for i in range(5)]
    shopper = make_shopper()
    for channel in channels[:3]:
        scan(shopper, channel.scene)
    scan(shopper, channels[0].scene)

    with CaptureQueriesContext(connection) as queries:
        rows = {c.scene: (c.scan_count, c.claim_count, c.refused_count, c.template.name)
                for c in cast(Iterable[Any], channel_list_with_counts())}  # the counts are annotations

    assert len(queries) == 1
    assert {scene: counts[:3] for scene, counts in rows.items()} == {
        "ch-0": (2, 1, 1), "ch-1": (1, 1, 0), "ch-2": (1, 1, 0), "ch-3": (0, 0, 0), "ch-4": (0, 0, 0)}
