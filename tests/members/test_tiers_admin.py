"""The loyalty console: tiers and growth rules, growth adjustments, sign-in rewards, card plans,
purchases and cards, member-price settings. Chinese, yuan in and out, services behind buttons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import (
    CardPlan,
    GrowthEntry,
    GrowthReason,
    GrowthRule,
    MemberPriceSettings,
    SignInReward,
    Tier,
    TierChange,
)
from members.services.cards import card_purchase_create, card_purchase_mark_paid
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_tier_list_shows_thresholds_discounts_and_yuan(admin_client):
    html = page(admin_client.get(reverse("admin:members_tier_changelist")))
    for text in ("会员等级", "普通会员", "白银会员", "黄金会员", "钻石会员", "所需成长值", "¥99.00", "新品优先购"):
        assert text in html


def test_editing_a_tier_takes_yuan(admin_client):
    gold = Tier.objects.get(name="黄金会员")
    url = reverse("admin:members_tier_change", args=[gold.pk])
    data = {"name": "黄金会员", "level": 2, "min_growth": 6000, "discount_percent": 93,
            "free_shipping_threshold_fen": "88.5", "birthday_gift": "on", "early_access": "on"}

    response = admin_client.post(url, data)
    blank = admin_client.post(url, {**data, "free_shipping_threshold_fen": ""})

    assert response.status_code == blank.status_code == 302
    gold.refresh_from_db()
    assert (gold.min_growth, gold.discount_percent, gold.free_shipping_threshold_fen) == (6000, 93, None)
    admin_client.post(url, data)
    gold.refresh_from_db()
    assert gold.free_shipping_threshold_fen == 8850


def test_a_tier_members_are_in_cannot_be_deleted(admin_client):
    silver = Tier.objects.get(name="白银会员")
    MemberFactory.create(growth=1200, tier=silver)
    response = admin_client.post(reverse("admin:members_tier_delete", args=[silver.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Tier.objects.filter(pk=silver.pk).exists()


def test_growth_rules_open_the_one_row_and_save(admin_client):
    response = admin_client.get(reverse("admin:members_growthrule_changelist"))
    assert response.status_code == 302 and response.url == reverse("admin:members_growthrule_change", args=[1])
    assert "每消费 1 元" in page(admin_client.get(response.url))

    saved = admin_client.post(response.url, {"per_yuan": 2, "per_review": 20, "per_signin": 3}, follow=True)

    assert "成长值规则已保存" in page(saved)
    rule = GrowthRule.objects.get(pk=1)
    assert (rule.per_yuan, rule.per_review, rule.per_signin) == (2, 20, 3)
    assert GrowthRule.objects.count() == 1


def test_the_growth_adjustment_form_calls_the_service_and_records_the_operator(admin_client, admin_user):
    member = MemberFactory.create(nickname="王小明")
    add = reverse("admin:members_growthentry_add")
    assert "调整成长值" in page(admin_client.get(add + f"?member={member.pk}"))

    response = admin_client.post(add, {"member": member.pk, "delta": "5200", "note": "老客补录"}, follow=True)

    html = page(response)
    assert "成长值已调整 +5200，当前 5200，等级已变更" in html
    entry = GrowthEntry.objects.get(member=member)
    assert (entry.reason, entry.delta, entry.note, entry.operator) == (
        GrowthReason.ADJUST, 5200, "老客补录", admin_user)
    assert TierChange.objects.get(member=member).to_tier.name == "黄金会员"


def test_a_deduction_below_zero_shows_the_reason_and_changes_nothing(admin_client):
    member = MemberFactory.create(growth=100)
    html = page(admin_client.post(reverse("admin:members_growthentry_add"),
                                  {"member": member.pk, "delta": "-500", "note": "扣减"}))
    assert "扣减后不能为负数" in html
    member.refresh_from_db()
    assert member.growth == 100
    assert not GrowthEntry.objects.exists()


def test_growth_ledger_and_tier_history_are_read_only_lists(admin_client):
    member = MemberFactory.create()
    from members.services.growth import growth_award

    change = growth_award(member_id=member.pk, amount=1500, reason=GrowthReason.PURCHASE, reference="2026050100000001")
    html = page(admin_client.get(reverse("admin:members_growthentry_changelist")))
    assert "2026050100000001" in html and "+1500" in html and "购物" in html
    assert page(admin_client.get(reverse("admin:members_tierchange_changelist"))).count("白银会员") >= 1
    assert admin_client.post(reverse("admin:members_growthentry_delete", args=[change.entry_id]),
                             {"post": "yes"}).status_code == 403


def test_signin_rewards_are_edited_in_the_list(admin_client):
    html = page(admin_client.get(reverse("admin:members_signinreward_changelist")))
    assert "连续签到超过表中最后一天后，按最后一行的奖励发放" in html and "按成长值规则" in html
    seventh = SignInReward.objects.get(streak_day=7)
    response = admin_client.post(reverse("admin:members_signinreward_change", args=[seventh.pk]),
                                 {"streak_day": 7, "points": 50, "growth": 20})
    assert response.status_code == 302
    seventh.refresh_from_db()
    assert (seventh.points, seventh.growth) == (50, 20)


def test_card_plans_take_prices_in_yuan(admin_client):
    add = reverse("admin:members_cardplan_add")
    data = {"name": "尊享月卡", "price_fen": "19.90", "days": 31, "discount_percent": 95, "points_multiplier": "1.5",
            "monthly_gift_pack": "on", "sort": 0, "is_active": "on"}

    refused = page(admin_client.post(add, {**data, "price_fen": "0", "discount_percent": 0,
                                           "points_multiplier": "0.5"}))
    created = admin_client.post(add, data)

    assert "售价必须大于 0" in refused
    assert "折扣应在 1 到 100 之间" in refused and "积分倍数应在 1 到 10 之间" in refused
    assert created.status_code == 302
    plan = CardPlan.objects.get(name="尊享月卡")
    assert (plan.price_fen, plan.points_multiplier) == (1990, Decimal("1.50"))
    assert "¥19.90" in page(admin_client.get(reverse("admin:members_cardplan_changelist")))


def test_purchases_and_cards_are_shown_read_only_with_history(admin_client):
    plan = CardPlan.objects.create(name="后台月卡", price_fen=1990, days=31)
    member = MemberFactory.create(nickname="李卡卡")
    purchase = card_purchase_create(member=member, plan_id=plan.pk)
    card = card_purchase_mark_paid(purchase_no=purchase.purchase_no, paid_fen=1990, transaction_id="4200000001",
                                   paid_at=timezone.now())

    purchases = page(admin_client.get(reverse("admin:members_cardpurchase_changelist")))
    detail = page(admin_client.get(reverse("admin:members_cardpurchase_change", args=[purchase.pk])))
    cards = page(admin_client.get(reverse("admin:members_membercard_changelist") + "?active=yes"))
    card_page = page(admin_client.get(reverse("admin:members_membercard_change", args=[card.pk])))

    assert purchase.purchase_no in purchases and "¥19.90" in purchases and "已支付" in purchases
    assert "状态记录" in detail and "4200000001" in detail
    assert "李卡卡" in cards and "后台月卡" in cards
    assert "会员卡记录" in card_page and purchase.purchase_no in card_page
    assert admin_client.post(reverse("admin:members_cardpurchase_delete", args=[purchase.pk]),
                             {"post": "yes"}).status_code == 403


def test_member_price_settings_choose_the_policy_and_the_floor(admin_client, admin_user):
    url = reverse("admin:members_memberpricesettings_change", args=[1])
    html = page(admin_client.get(url))
    assert "折上折（等级折扣 × 会员卡折扣）" in html and "取优（两者取更低价）" in html and "毛利底线" in html

    response = admin_client.post(url, {"policy": "best", "floor": "1.20"})

    assert response.status_code == 302
    row = MemberPriceSettings.objects.get(pk=1)
    assert (row.policy, row.floor, row.updated_by) == ("best", Decimal("1.20"), admin_user)
    refused = page(admin_client.post(url, {"policy": "best", "floor": "-1"}))
    assert "毛利底线应在 0 到 10 之间" in refused
    assert MemberPriceSettings.objects.get(pk=1).floor == Decimal("1.20")


def test_the_active_filter_leaves_out_expired_cards(admin_client):
    plan = CardPlan.objects.create(name="过期卡", price_fen=100, days=1)
    member = MemberFactory.create(nickname="过期会员")
    from members.models import MemberCard

    start = timezone.now() - dt.timedelta(days=5)
    MemberCard.objects.create(member=member, plan=plan, starts_at=start, ends_at=start + dt.timedelta(days=1))
    assert "过期会员" not in page(admin_client.get(reverse("admin:members_membercard_changelist") + "?active=yes"))
    assert "过期会员" in page(admin_client.get(reverse("admin:members_membercard_changelist") + "?active=no"))
