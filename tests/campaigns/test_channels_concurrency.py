"""Channel codes under concurrency, on the real database with separate connections."""

from __future__ import annotations

from collections import Counter

import pytest

from campaigns.models import Channel, ChannelKind, ChannelScan, Coupon
from campaigns.services.channels import channel_generate_code, channel_scan
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_generations_store_one_file(sandbox, settings, tmp_path):
    # given a channel without a code
    settings.MEDIA_ROOT = tmp_path / "media"
    channel = Channel.objects.create(name="包装盒", kind=ChannelKind.PACKAGE, scene="pkg-2026",
                                     template=CouponTemplateFactory.create())

    # when two operators press 生成 at the same moment
    results = run_concurrently(lambda i: channel_generate_code(channel_id=channel.pk), 2)

    # then both see the same stored code, and exactly one file is left in storage
    assert all(isinstance(r, Channel) for r in results), results
    channel.refresh_from_db()
    assert {r.qrcode.name for r in results} == {channel.qrcode.name}
    assert [p.name for p in (tmp_path / "media" / "channels").iterdir()] == [channel.qrcode.name.split("/")[-1]]
    assert 1 <= len(sandbox.wxacodes()) <= 2


def test_a_double_tap_on_a_scan_claims_once_and_records_both(sandbox):
    channel = Channel.objects.create(name="门店海报", kind=ChannelKind.STORE_POSTER, scene="poster-7",
                                     template=CouponTemplateFactory.create())
    member = make_shopper().member

    results = run_concurrently(lambda i: channel_scan(member=member, scene="poster-7"), 2)

    assert Counter(type(r).__name__ for r in results) == Counter({"ScanResult": 1, "CouponLimitReached": 1})
    assert Coupon.objects.filter(member=member, channel=channel).count() == 1
    assert Counter(ChannelScan.objects.values_list("outcome", flat=True)) == Counter({"claimed": 1, "refused": 1})
