"""Every page of the campaigns console renders, in Chinese: each list, each change form, each add form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    Channel,
    ChannelKind,
    ChannelScan,
    CouponSource,
    FullReduction,
    FullReductionStep,
    GiftRule,
    RedeemCode,
    TargetedIssue,
)
from campaigns.services.channels import channel_scan
from campaigns.services.codes import code_batch_import
from campaigns.services.coupons import coupon_grant
from members.models import Segment, SegmentMember
from tests.admin.support_pages import page
from tests.factories import CouponTemplateFactory, FlashItemFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(db) -> dict[str, int]:
    """One of each campaign record; returns model name -> id."""
    template = CouponTemplateFactory.create(name="页面测试券")
    member = MemberFactory.create(nickname="页面会员")
    coupon = coupon_grant(template=template, member=member, source=CouponSource.CENTER).coupon
    channel = Channel.objects.create(name="门店海报", kind=ChannelKind.STORE_POSTER, scene="poster-01",
                                     template=CouponTemplateFactory.create(name="扫码券"))
    channel_scan(member=member, scene="poster-01")
    batch = code_batch_import(template_id=template.pk, name="联名批次", partner="某某咖啡", codes=["PAGE0001"])
    segment = Segment.objects.create(name="页面人群")
    SegmentMember.objects.create(segment=segment, member=member)
    issue = TargetedIssue.objects.create(template=template, target=TargetedIssue.Target.SEGMENT, segment=segment,
                                         member_ids=[member.pk], targeted_count=1)
    now = timezone.now()
    reduction = FullReduction.objects.create(name="页面满减", starts_at=now, ends_at=now + dt.timedelta(days=1))
    FullReductionStep.objects.create(activity=reduction, threshold_fen=19900, discount_fen=2000)
    item = FlashItemFactory.create()
    rule = GiftRule.objects.create(name="新人礼", trigger=GiftRule.Trigger.NEW_MEMBER, template=template)
    return {"coupontemplate": template.pk, "coupon": coupon.pk, "giftrule": rule.pk, "channel": channel.pk,
            "channelscan": ChannelScan.objects.get().pk, "codebatch": batch.pk,
            "redeemcode": RedeemCode.objects.get().pk, "targetedissue": issue.pk, "fullreduction": reduction.pk,
            "flashsession": item.session_id}


PAGES = {
    "coupontemplate": ("优惠券", ["优惠规则", "已发放", "使用订单 GMV"],
                       ["基本信息", "优惠规则", "适用范围", "有效期", "领取限制", "预算", "数据"]),
    "coupon": ("会员优惠券", ["状态", "来源", "领取时间"], ["优惠券流水", "发放", "领券中心"]),
    "giftrule": ("自动赠券", ["触发条件", "赠送优惠券"], ["规则名称", "订单实付满（元）"]),
    "channel": ("渠道码", ["扫码次数", "领券数"], ["场景值", "小程序码", "扫码 1 次"]),
    "channelscan": ("扫码记录", ["扫码时间", "结果"], ["渠道", "领取成功"]),
    "codebatch": ("兑换码批次", ["已兑换 / 总数", "导出"], ["兑换码（前 20 个）", "PAGE0001"]),
    "redeemcode": ("兑换码", ["兑换码", "状态"], ["兑换码", "PAGE0001"]),
    "targetedissue": ("定向发券", ["发放对象", "进度", "跳过（已达上限 / 不符合条件）"],
                      ["已处理", "跳过：不符合条件", "待确认"]),
    "fullreduction": ("满减活动", ["优惠档位", "活动时间"], ["活动名称", "满（元）", "减（元）", "适用范围"]),
    "flashsession": ("秒杀场次", ["场次时间", "剩余 / 总量"],
                     ["秒杀商品（实时库存）", "补贴预算（元）", "秒杀价（元）"]),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_list_and_change_page_renders_in_chinese(admin_client, everything, name):
    title, list_labels, page_labels = PAGES[name]

    listing = page(admin_client.get(reverse(f"admin:campaigns_{name}_changelist")))
    detail = page(admin_client.get(reverse(f"admin:campaigns_{name}_change", args=[everything[name]]), follow=True))

    assert title in listing and ">营销<" in listing  # in the sidebar's 营销 section
    for label in list_labels:
        assert label in listing, label
    for label in page_labels:
        assert label in detail, label
    assert 'lang="zh-hans"' in detail


@pytest.mark.parametrize(("url", "labels"), [
    ("admin:campaigns_coupontemplate_add", ["增加 优惠券", "使用门槛（元）"]),
    ("admin:campaigns_giftrule_add", ["增加 自动赠券"]),
    ("admin:campaigns_channel_add", ["增加 渠道码", "最多 32 个字符"]),
    ("admin:campaigns_fullreduction_add", ["增加 满减活动", "优惠档位"]),
    ("admin:campaigns_flashsession_add", ["增加 秒杀场次", "确认低于成本价"]),
    ("admin:campaigns_codebatch_generate", ["生成兑换码", "生成数量"]),
    ("admin:campaigns_codebatch_import", ["导入兑换码", "兑换码文件"]),
    ("admin:campaigns_targetedissue_wizard", ["定向发券", "发放对象"]),
])
def test_every_add_page_renders_in_chinese(admin_client, url, labels):
    html = page(admin_client.get(reverse(url)))

    for label in labels:
        assert label in html, label


def test_the_app_index_lists_the_campaign_pages(admin_client):
    html = page(admin_client.get(reverse("admin:app_list", args=["campaigns"])))

    for title in ("优惠券", "会员优惠券", "自动赠券", "渠道码", "扫码记录", "兑换码批次", "定向发券", "满减活动",
                  "秒杀场次"):
        assert title in html
