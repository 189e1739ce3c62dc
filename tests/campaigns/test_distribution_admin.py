"""The distribution console (分销), in Chinese: every page renders; the buttons and bulk actions call
the services (审核通过 / 驳回 with a reason / 冻结, 改绑, 提现 审核 → 复核 → 打款 / 驳回); the settings
refuse three levels; the exports download."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from campaigns.models import (
    Binding,
    Commission,
    CommissionRate,
    DistributionSettings,
    Distributor,
    DistributorApplication,
    DistributorGrade,
    Withdrawal,
)
from campaigns.models.commissions import EntryReason
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.distribution import ApplicationInput, distributor_apply
from campaigns.services.withdrawals import withdrawal_request
from tests.admin.support_pages import page
from tests.builders import buyer, operator, paid_order
from tests.campaigns.support_distribution import bind, distributor, money, near_member
from tests.factories import SkuFactory, default_freight

pytestmark = pytest.mark.django_db


def applicant(name: str = "王申请") -> Distributor:
    return distributor_apply(member=buyer(), data=ApplicationInput(real_name=name, phone="13700137000",
                                                                   reason="社区团长"))


def funded(fen: int) -> Distributor:
    d = distributor()
    with transaction.atomic():
        ledger_move(distributor_id=d.pk, reason=EntryReason.SETTLED, reference="seed", moves=Moves(available_fen=fen))
    return d


@pytest.fixture
def everything(db) -> dict[str, int]:
    """One of each distribution record; model name -> id."""
    default_freight()
    d = funded(10000)
    shopper = buyer()
    binding = bind(shopper, d)
    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])
    withdrawal, _ = withdrawal_request(member=near_member(d), amount_fen=1000)
    grade = DistributorGrade.objects.create(name="金牌分销员", level=1, level1_percent=12)
    rate = CommissionRate.objects.create(product=SkuFactory.create().product, level1_percent=20, level2_percent=8)
    return {"distributor": d.pk, "distributorapplication": DistributorApplication.objects.get().pk,
            "binding": binding.pk, "commission": Commission.objects.get(order_ref=order.order_no).pk,
            "withdrawal": withdrawal.pk, "distributorgrade": grade.pk, "commissionrate": rate.pk,
            "commissionentry": d.entries.order_by("id").first().pk}  # type: ignore[union-attr]


PAGES = {
    "distributor": ("分销员", ["团队人数", "推广金额", "累计佣金", "可提现"], ["申请记录", "分销员日志", "冻结"]),
    "distributorapplication": ("分销员申请", ["审核结果", "申请时间"], ["申请理由"]),
    "binding": ("分销关系", ["绑定时间", "到期时间"], ["改绑", "分销关系日志"]),
    "commission": ("佣金记录", ["已退回", "可提现时间"], ["计佣金额", "佣金比例", "佣金日志", "待收货"]),
    "withdrawal": ("提现", ["提现金额", "到账金额", "状态"], ["审核通过", "驳回", "提现日志"]),
    "distributorgrade": ("分销等级", ["升级推广金额"], ["升级条件：推广金额（元）"]),
    "commissionrate": ("商品佣金比例", ["商品 / 分类"], ["一级佣金比例"]),
    "commissionentry": ("佣金流水", ["可提现", "待扣回"], ["售后期结束，佣金可提现"]),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_list_and_change_page_renders_in_chinese(admin_client, everything, name):
    title, list_labels, page_labels = PAGES[name]

    listing = page(admin_client.get(reverse(f"admin:campaigns_{name}_changelist")))
    detail = page(admin_client.get(reverse(f"admin:campaigns_{name}_change", args=[everything[name]]), follow=True))

    assert title in listing
    for label in list_labels:
        assert label in listing, label
    for label in page_labels:
        assert label in detail, label


def test_the_settings_page_saves_in_yuan_and_refuses_three_levels(admin_client):
    url = reverse("admin:campaigns_distributionsettings_change", args=[1])
    form = {"enabled": "on", "mode": "appointed", "threshold_fen": "0", "levels": "3", "level1_percent": "10",
            "level2_percent": "5", "binding_scope": "no_upline", "binding_days": "30", "settle_days": "7",
            "withdraw_min_fen": "1.00", "withdraw_daily_max_fen": "2000", "withdraw_fee_percent": "0",
            "second_approval_above_fen": "500.00", "application_fields": "[]"}

    refused = page(admin_client.post(url, form))
    saved = admin_client.post(url, {**form, "levels": "2", "withdraw_min_fen": "2.50"})

    assert "最多只能设置二级分销（三级分销违法）" in refused
    assert saved.status_code == 302
    row = DistributionSettings.objects.get(pk=1)
    assert (row.levels, row.withdraw_min_fen, row.withdraw_daily_max_fen) == (2, 250, 200000)


def test_approve_and_reject_buttons_and_the_bulk_actions(admin_client):
    one, two, three = applicant("王一"), applicant("王二"), applicant("王三")

    page(admin_client.get(reverse("admin:campaigns_distributor_approve", args=[one.pk])))
    admin_client.post(reverse("admin:campaigns_distributor_approve", args=[one.pk]))
    missing = page(admin_client.post(reverse("admin:campaigns_distributor_reject", args=[two.pk]), {"reason": ""}))
    changelist = reverse("admin:campaigns_distributorapplication_changelist")
    no_reason = admin_client.post(changelist, {"action": "reject_selected", "_selected_action": [two.pk, three.pk],
                                               "reason": ""}, follow=True)
    admin_client.post(changelist, {"action": "reject_selected", "reason": "资料不全",
                                   "_selected_action": list(DistributorApplication.objects.filter(
                                       distributor__in=[two, three]).values_list("pk", flat=True))})

    assert "这个字段是必填项" in missing or "必填" in missing
    assert "请在操作栏填写驳回原因" in no_reason.content.decode()
    assert list(Distributor.objects.order_by("pk").values_list("status", "reject_reason")) == [
        ("active", ""), ("rejected", "资料不全"), ("rejected", "资料不全")]


def test_freeze_needs_a_reason_and_the_rankings_render(admin_client, everything):
    d = Distributor.objects.get(pk=everything["distributor"])

    admin_client.post(reverse("admin:campaigns_distributor_freeze", args=[d.pk]), {"reason": "违规推广"})
    ranking = page(admin_client.get(reverse("admin:campaigns_distributor_ranking")))

    assert (Distributor.objects.get(pk=d.pk).status, Distributor.objects.get(pk=d.pk).freeze_reason) == (
        "frozen", "违规推广")
    assert "分销排行" in ranking and "本月佣金" in ranking and "团队人数" in ranking


def test_rebind_from_the_console_with_a_reason(admin_client, everything):
    binding = Binding.objects.get(pk=everything["binding"])
    other = distributor(name="赵新上")

    admin_client.post(reverse("admin:campaigns_binding_rebind", args=[binding.pk]),
                      {"distributor_id": other.pk, "reason": "客服核实"})

    assert list(Binding.objects.filter(member_id=binding.member_id, status="active").values_list(
        "distributor_id", flat=True)) == [other.pk]


def test_a_big_withdrawal_needs_two_operators_then_is_paid_or_rejected(client):
    d = funded(100000)
    big, _ = withdrawal_request(member=near_member(d), amount_fen=60000)
    maker, checker = operator("maker"), operator("checker")
    url = reverse("admin:campaigns_withdrawal_approve", args=[big.pk])

    client.force_login(maker)
    client.post(url)
    own = page(client.get(reverse("admin:campaigns_withdrawal_change", args=[big.pk])))
    client.force_login(checker)
    client.post(url)
    client.post(reverse("admin:campaigns_withdrawal_pay", args=[big.pk]))

    assert "需另一位运营复核" in own
    paying = Withdrawal.objects.get(pk=big.pk)
    assert (paying.status, paying.approved_by_id, paying.second_approved_by_id) == ("paying", maker.pk, checker.pk)

    small, _ = withdrawal_request(member=near_member(d), amount_fen=1000)
    client.post(reverse("admin:campaigns_withdrawal_reject", args=[small.pk]), {"reason": "信息有误"})
    assert Withdrawal.objects.get(pk=small.pk).status == "rejected"
    assert (money(d)["available"], money(d)["withdrawing"]) == (40000, 60000)


@pytest.mark.parametrize("name", ["distributor", "commission", "withdrawal"])
def test_the_exports_download(admin_client, everything, name):
    url = reverse(f"admin:campaigns_{name}_export")
    form = page(admin_client.get(url))
    assert "导出" in form
