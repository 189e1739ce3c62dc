"""Channel codes console: scans and claims per channel, the scene checked in Chinese, 生成小程序码
through the WeChat sandbox, and the stored PNG downloaded under the channel's name."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from campaigns.errors import CouponLimitReached
from campaigns.models import Channel, ChannelKind, ChannelScan
from campaigns.services.channels import channel_scan
from tests.admin.support_pages import cell, page
from tests.factories import CouponTemplateFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_channel(name: str = "收银台立牌", scene: str = "cashier-01") -> Channel:
    return Channel.objects.create(name=name, kind=ChannelKind.CASHIER, scene=scene,
                                  template=CouponTemplateFactory.create(name=f"{name}专享券"))


def channel_post(**fields: str) -> dict[str, str]:
    template = CouponTemplateFactory.create(name="门店海报券")
    return {"name": "门店海报", "kind": ChannelKind.STORE_POSTER, "template": str(template.pk),
            "scene": "poster-sh-01", "page": "pages/coupon/scan", "is_active": "on", **fields}


def test_channel_list_shows_scans_and_claims_per_channel(admin_client):
    cashier, package = make_channel(), make_channel("包装卡片", "package-01")
    member = MemberFactory.create()
    channel_scan(member=member, scene="cashier-01")
    with pytest.raises(CouponLimitReached):
        channel_scan(member=member, scene="cashier-01")  # a second scan: recorded, refused
    channel_scan(member=MemberFactory.create(), scene="cashier-01")

    html = page(admin_client.get(reverse("admin:campaigns_channel_changelist")))

    for label in ("渠道码", "小程序码", "渠道名称", "场景值", "扫码次数", "领券数", "操作", "生成所选渠道的小程序码"):
        assert label in html
    assert (cell(html, "收银台立牌", "scans"), cell(html, "收银台立牌", "claims")) == ("3", "2")
    assert (cell(html, "包装卡片", "scans"), cell(html, "包装卡片", "claims")) == ("0", "0")
    assert cell(html, "收银台立牌", "code_thumbnail") == "未生成"
    assert cell(html, "收银台立牌", "code_actions") == "生成小程序码"
    assert package.pk and cashier.pk


def test_channel_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    url = reverse("admin:campaigns_channel_changelist")
    make_channel()
    admin_client.get(url)
    with django_assert_max_num_queries(8) as few:
        page(admin_client.get(url))
    for index in range(20):
        make_channel(f"门店{index}", f"store-{index}")
        channel_scan(member=MemberFactory.create(), scene=f"store-{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = page(admin_client.get(url))
    assert html.count('class="field-scans"') == 21


@pytest.mark.parametrize(("scene", "message"), [
    ("x" * 33, "场景值最多 32 个字符（现在 33 个）"),
    ("门店-01", "场景值含有不允许的字符 “店”、“门”"),
    ("a b%", "场景值含有不允许的字符 “ ”、“%”"),
])
def test_a_bad_scene_is_refused_in_chinese(admin_client, scene, message):
    html = page(admin_client.post(reverse("admin:campaigns_channel_add"), channel_post(scene=scene)))

    assert message in html
    assert not Channel.objects.exists()


def test_a_channel_is_created_with_a_valid_scene(admin_client):
    response = admin_client.post(reverse("admin:campaigns_channel_add"), channel_post(scene="a=1&b=shop_02"))

    assert response.status_code == 302
    assert Channel.objects.get().scene == "a=1&b=shop_02"


def test_generate_and_download_the_code_through_the_sandbox(admin_client, sandbox, media):
    channel = make_channel()
    generate = reverse("admin:campaigns_channel_generate", args=[channel.pk])
    form = page(admin_client.get(generate))
    assert "生成小程序码" in form and "cashier-01" in form and "收银台立牌专享券" in form

    done = page(admin_client.post(generate, follow=True))

    assert "已生成“收银台立牌”的小程序码" in done
    channel.refresh_from_db()
    assert channel.qrcode.name.startswith("channels/") and channel.qrcode_generated_at is not None
    assert [(c["scene"], c["page"]) for c in sandbox.wxacodes()] == [("cashier-01", "pages/coupon/scan")]
    listing = page(admin_client.get(reverse("admin:campaigns_channel_changelist")))
    assert re.search(rf'<img src="/media/{re.escape(channel.qrcode.name)}" class="mall-thumb"', listing)
    assert cell(listing, "收银台立牌", "code_actions") == "下载 PNG"

    response = admin_client.get(reverse("admin:campaigns_channel_qrcode", args=[channel.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('渠道码-收银台立牌.png')}"
    png = b"".join(response.streaming_content)
    with channel.qrcode.open("rb") as stored:
        assert png == stored.read()
    assert sandbox.scan_wxacode(png) == {"scene": "cashier-01", "page": "pages/coupon/scan"}


def test_generating_again_keeps_the_stored_code(admin_client, sandbox, media):
    channel = make_channel()
    generate = reverse("admin:campaigns_channel_generate", args=[channel.pk])
    admin_client.post(generate)
    first = Channel.objects.get(pk=channel.pk).qrcode.name

    html = page(admin_client.post(generate, follow=True))

    assert "小程序码已存在（永久有效），无需重新生成" in html
    assert Channel.objects.get(pk=channel.pk).qrcode.name == first
    assert len(sandbox.wxacodes()) == 1


def test_a_wechat_failure_is_shown_and_nothing_is_stored(admin_client, sandbox, media):
    channel = make_channel()
    sandbox.wxacode_fail_next(1)

    html = page(admin_client.post(reverse("admin:campaigns_channel_generate", args=[channel.pk]), follow=True))

    assert "“收银台立牌”生成小程序码失败：" in html
    channel.refresh_from_db()
    assert not channel.qrcode and channel.qrcode_generated_at is None
    assert not (media / "channels").exists() or not any((media / "channels").iterdir())


def test_the_scene_of_a_generated_code_cannot_change(admin_client, sandbox, media):
    channel = make_channel()
    admin_client.post(reverse("admin:campaigns_channel_generate", args=[channel.pk]))
    url = reverse("admin:campaigns_channel_change", args=[channel.pk])
    html = page(admin_client.get(url))
    assert "小程序码已生成（永久有效），不能再修改" in html and "下载 PNG" in html

    response = admin_client.post(url, {"name": "收银台立牌（新）", "kind": ChannelKind.CASHIER,
                                       "template": str(channel.template_id), "scene": "changed-01",
                                       "page": "pages/index/index", "is_active": "on"})

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.scene, channel.page) == ("收银台立牌（新）", "cashier-01", "pages/coupon/scan")
    assert admin_client.post(reverse("admin:campaigns_channel_delete", args=[channel.pk]),
                             {"post": "yes"}).status_code == 403


def test_generate_action_for_the_selected_channels(admin_client, sandbox, media):
    channels = [make_channel(), make_channel("包装卡片", "package-01")]

    html = page(admin_client.post(reverse("admin:campaigns_channel_changelist"), {
        "action": "generate_codes", "_selected_action": [str(c.pk) for c in channels]}, follow=True))

    assert "已生成 2 个小程序码" in html
    assert sorted(c["scene"] for c in sandbox.wxacodes()) == ["cashier-01", "package-01"]
    assert all(Channel.objects.get(pk=c.pk).qrcode for c in channels)


def test_downloading_a_code_not_generated_is_a_404(admin_client):
    channel = make_channel()

    assert admin_client.get(reverse("admin:campaigns_channel_qrcode", args=[channel.pk])).status_code == 404


def test_scan_records_are_read_only(admin_client):
    make_channel()
    channel_scan(member=MemberFactory.create(nickname="扫码人"), scene="cashier-01")
    scan = ChannelScan.objects.get()

    html = page(admin_client.get(reverse("admin:campaigns_channelscan_changelist")))

    assert "扫码记录" in html and "扫码人" in html and "领取成功" in html
    assert admin_client.get(reverse("admin:campaigns_channelscan_add")).status_code == 403
    assert admin_client.get(reverse("admin:campaigns_channelscan_delete", args=[scan.pk])).status_code == 403
