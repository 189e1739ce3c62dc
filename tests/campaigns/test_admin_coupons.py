"""Coupon console: templates with their numbers (issued / used / expired / GMV / cost / budget), the
form in yuan with kind-specific checks, member coupons read-only with their ledger, gift rules."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.selectors.coupons import coupon_template_stats
from campaigns.errors import CouponBudgetExhausted
from campaigns.models import (
    Coupon,
    CouponEvent,
    CouponKind,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    GiftRule,
    Validity,
)
from campaigns.services.coupons import coupon_grant
from tests.admin.conftest import catalog  # noqa: F401 (the catalog fixture)
from tests.admin.support_pages import cell, page
from tests.builders import buyer, paid_order
from tests.factories import CouponTemplateFactory, MemberFactory

pytestmark = pytest.mark.django_db


def used_with_order(coupon: Coupon, order, discount_fen: int) -> None:
    """Given: the coupon was used on a paid order, as checkout records it (the order itself was
    placed without it, so the numbers below count each order's full price)."""
    Coupon.objects.filter(pk=coupon.pk).update(status=CouponStatus.USED, order=order, discount_fen=discount_fen,
                                               used_at=timezone.now())
    CouponEvent.objects.create(coupon=coupon, action=CouponEvent.Action.USED, reference=order.order_no,
                               amount_fen=discount_fen)


@pytest.fixture
def numbers(catalog):  # noqa: F811
    """满100减10 (100 issued at most, budget ¥50): 4 issued, 2 used on paid orders, 1 expired, 1 unused."""
    template = CouponTemplateFactory.create(name="双十一满减券", total_quantity=100, budget_fen=5000)
    members = [buyer() for _ in range(4)]
    coupons = [coupon_grant(template=template, member=m, source=CouponSource.CENTER).coupon for m in members]
    used_with_order(coupons[0], paid_order(member=members[0], lines=[(catalog.red, 1)], coupon_ids=()), 1000)
    used_with_order(coupons[1], paid_order(member=members[1], lines=[(catalog.blue, 1)], coupon_ids=()), 1000)
    Coupon.objects.filter(pk=coupons[2].pk).update(status=CouponStatus.EXPIRED)
    return template


def test_template_list_shows_the_numbers_in_chinese(admin_client, numbers):
    html = page(admin_client.get(reverse("admin:campaigns_coupontemplate_changelist")))

    for label in ("优惠券", "优惠规则", "已发放", "已使用", "已过期", "使用订单 GMV", "成本", "预算（已用 / 预算）",
                  "状态"):
        assert label in html
    assert cell(html, "双十一满减券", "rule") == "满100减10"
    assert cell(html, "双十一满减券", "issued") == "4 / 100"
    assert cell(html, "双十一满减券", "used") == "2"
    assert cell(html, "双十一满减券", "expired") == "1"
    assert cell(html, "双十一满减券", "gmv") == "¥388.00"  # ¥199 + ¥189, each order once
    assert cell(html, "双十一满减券", "cost") == "¥20.00"
    assert cell(html, "双十一满减券", "budget").startswith("¥40.00 / ¥50.00")
    assert cell(html, "双十一满减券", "state") == "领取中"
    assert "预算已用完" not in html


def test_a_coupon_past_its_end_counts_as_expired_before_the_job_marks_it(admin_client, numbers):
    Coupon.objects.filter(template=numbers, status=CouponStatus.AVAILABLE).update(
        valid_until=timezone.now() - dt.timedelta(minutes=1))

    stats = coupon_template_stats(template_id=numbers.pk)

    assert (stats.issued, stats.used, stats.expired, stats.gmv_fen, stats.cost_fen) == (4, 2, 2, 38800, 2000)


def test_budget_reached_shows_the_badge_and_claims_stop(admin_client):
    template = CouponTemplateFactory.create(name="预算券", amount_fen=1000, budget_fen=2000)
    coupon_grant(template=template, member=MemberFactory.create(), source=CouponSource.CENTER)
    coupon_grant(template=template, member=MemberFactory.create(), source=CouponSource.CENTER)

    html = page(admin_client.get(reverse("admin:campaigns_coupontemplate_changelist")))

    assert cell(html, "预算券", "budget").startswith("¥20.00 / ¥20.00")
    assert cell(html, "预算券", "state") == "预算已用完，已停止领取"
    # The badge says what coupon_grant() does: the next claim is refused.
    with pytest.raises(CouponBudgetExhausted):
        coupon_grant(template=template, member=MemberFactory.create(), source=CouponSource.CENTER)
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 2


def test_template_list_query_count_does_not_grow_with_rows(admin_client, catalog, django_assert_max_num_queries):  # noqa: F811
    url = reverse("admin:campaigns_coupontemplate_changelist")
    member = buyer()
    CouponTemplateFactory.create()
    admin_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(8) as few:
        page(admin_client.get(url))
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    for index in range(25):
        template = CouponTemplateFactory.create(budget_fen=100000 if index % 2 else None)
        coupon = coupon_grant(template=template, member=member, source=CouponSource.CENTER).coupon
        if index % 3 == 0:
            used_with_order(coupon, paid_order(member=member, lines=[(catalog.red, 1)], coupon_ids=()), 500)
    with django_assert_max_num_queries(budget):
        html = page(admin_client.get(url))
    assert html.count('class="field-used"') == 26


def test_add_form_is_in_yuan_with_chinese_fieldsets_and_autocomplete(admin_client):
    html = page(admin_client.get(reverse("admin:campaigns_coupontemplate_add")))

    for heading in ("基本信息", "优惠规则", "适用范围", "有效期", "领取限制", "预算"):
        assert re.search(rf"<h2[^>]*>{heading}</h2>", html), heading
    assert "使用门槛（元）" in html and "优惠金额（元）" in html and "补贴预算（元）" in html
    assert 'name="threshold_fen"' in html and 'class="vYuanField"' in html
    # Products, categories and segments are looked up as the operator types (their admins are
    # searchable); member tiers, a handful of rows with no search, are check boxes.
    for name in ("products", "categories", "excluded_products", "segments"):
        assert re.search(rf'<select[^>]*name="{name}"[^>]*class="admin-autocomplete', html) or \
            re.search(rf'<select[^>]*class="admin-autocomplete[^"]*"[^>]*name="{name}"', html), name
    assert not re.search(r'<select[^>]*name="tiers"', html)


def _template_post(**fields: str) -> dict[str, str]:
    data = {
        "name": "满199减20", "kind": CouponKind.FULL_REDUCTION, "is_active": "on", "show_in_center": "on",
        "threshold_fen": "199", "amount_fen": "20", "pay_percent": "", "max_discount_fen": "",
        "scope": "all", "validity": Validity.RELATIVE, "valid_days": "7", "valid_from_0": "", "valid_from_1": "",
        "valid_until_0": "", "valid_until_1": "", "total_quantity": "500", "per_member_limit": "1",
        "per_day_limit": "", "claim_starts_at_0": "", "claim_starts_at_1": "", "claim_ends_at_0": "",
        "claim_ends_at_1": "", "budget_fen": "2,000",
    }
    data.update(fields)
    return data


def test_saving_a_template_in_yuan_stores_fen(admin_client):
    response = admin_client.post(reverse("admin:campaigns_coupontemplate_add"), _template_post())

    assert response.status_code == 302, response.content.decode()[:2000]
    template = CouponTemplate.objects.get(name="满199减20")
    assert (template.threshold_fen, template.amount_fen, template.budget_fen, template.valid_days) == (
        19900, 2000, 200000, 7)
    assert template.pay_percent is None and template.max_discount_fen is None


@pytest.mark.parametrize(("fields", "message"), [
    ({"threshold_fen": "20", "amount_fen": "20"}, "满减券的使用门槛必须大于优惠金额"),
    ({"amount_fen": "0"}, "满减券请填写优惠金额"),
    ({"kind": CouponKind.DISCOUNT, "pay_percent": "100", "max_discount_fen": "30"}, "折扣券请填写 1–99 的折扣"),
    ({"kind": CouponKind.DISCOUNT, "pay_percent": "0", "max_discount_fen": "30"}, "折扣券请填写 1–99 的折扣"),
    ({"kind": CouponKind.DISCOUNT, "pay_percent": "85"}, "折扣券请填写最高优惠金额"),
    ({"kind": CouponKind.NO_THRESHOLD, "threshold_fen": "10", "amount_fen": "5"}, "无门槛券的使用门槛应为 0"),
    ({"validity": Validity.FIXED, "valid_days": "", "valid_from_0": "2026-12-10", "valid_from_1": "00:00",
      "valid_until_0": "2026-12-01", "valid_until_1": "00:00"}, "生效时间必须早于失效时间"),
    ({"validity": Validity.FIXED, "valid_days": ""}, "固定日期的券请填写生效时间"),
    ({"valid_days": ""}, "请填写领取后有效天数"),
    ({"scope": "products"}, "适用范围为“指定商品”时，请至少选择一个商品"),
    ({"threshold_fen": "19.999"}, "金额最多两位小数"),
    ({"budget_fen": "0"}, "补贴预算必须大于 0"),
])
def test_kind_specific_checks_are_in_chinese_and_save_nothing(admin_client, fields, message):
    html = page(admin_client.post(reverse("admin:campaigns_coupontemplate_add"), _template_post(**fields)))

    assert message in html
    assert not CouponTemplate.objects.exists()


def test_a_discount_coupon_saves_percent_and_cap(admin_client):
    response = admin_client.post(reverse("admin:campaigns_coupontemplate_add"), _template_post(
        name="全场85折", kind=CouponKind.DISCOUNT, threshold_fen="", amount_fen="", pay_percent="85",
        max_discount_fen="30"))

    assert response.status_code == 302
    template = CouponTemplate.objects.get(name="全场85折")
    assert (template.pay_percent, template.max_discount_fen, template.amount_fen, template.threshold_fen) == (
        85, 3000, 0, 0)
    html = page(admin_client.get(reverse("admin:campaigns_coupontemplate_changelist")))
    assert cell(html, "全场85折", "rule") == "8.5折，最高减30"


def test_rules_of_an_issued_template_cannot_change(admin_client, numbers):
    url = reverse("admin:campaigns_coupontemplate_change", args=[numbers.pk])
    html = page(admin_client.get(url))
    assert "已发放 4 张：类型和优惠规则不可修改" in html
    assert "数据" in html and "¥388.00" in html

    response = admin_client.post(url, _template_post(name="改名了", amount_fen="90", threshold_fen="100",
                                                     total_quantity="100", budget_fen="50"))

    assert response.status_code == 302
    template = CouponTemplate.objects.get(pk=numbers.pk)
    assert (template.name, template.amount_fen, template.threshold_fen) == ("改名了", 1000, 10000)


def test_an_issued_template_cannot_be_deleted(admin_client, numbers):
    response = admin_client.post(reverse("admin:campaigns_coupontemplate_delete", args=[numbers.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert CouponTemplate.objects.filter(pk=numbers.pk).exists()


def test_member_coupons_are_read_only_with_filters_and_the_ledger(admin_client, numbers):
    url = reverse("admin:campaigns_coupon_changelist")
    html = page(admin_client.get(url))
    for label in ("会员优惠券", "状态", "来源", "渠道", "使用订单", "抵扣金额", "已使用", "已过期", "领券中心"):
        assert label in html
    assert html.count('class="field-status_label"') == 4

    used = page(admin_client.get(url, {"status__exact": CouponStatus.USED}))
    assert used.count('class="field-status_label"') == 2
    by_template = page(admin_client.get(url, {"template__id__exact": numbers.pk, "source__exact": "center"}))
    assert by_template.count('class="field-status_label"') == 4
    assert page(admin_client.get(url, {"source__exact": "scan"})).count('class="field-status_label"') == 0

    coupon = Coupon.objects.filter(status=CouponStatus.USED).select_related("order").earliest("id")
    assert coupon.order is not None
    detail = page(admin_client.get(reverse("admin:campaigns_coupon_change", args=[coupon.pk])))
    assert "优惠券流水" in detail and "发放" in detail and "支付核销" in detail and coupon.order.order_no in detail
    assert 'name="_save"' not in detail and 'name="status"' not in detail
    assert admin_client.get(reverse("admin:campaigns_coupon_delete", args=[coupon.pk])).status_code == 403
    assert admin_client.get(reverse("admin:campaigns_coupon_add")).status_code == 403
    assert "delete_selected" not in html


def test_gift_rules_in_yuan(admin_client):
    template = CouponTemplateFactory.create(name="支付有礼券")

    response = admin_client.post(reverse("admin:campaigns_giftrule_add"), {
        "name": "满299送券", "trigger": GiftRule.Trigger.PAID_ORDER, "template": str(template.pk),
        "min_paid_fen": "299", "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": "",
        "is_active": "on"})

    assert response.status_code == 302
    rule = GiftRule.objects.get(name="满299送券")
    assert (rule.min_paid_fen, rule.template_id) == (29900, template.pk)
    html = page(admin_client.get(reverse("admin:campaigns_giftrule_changelist")))
    assert "自动赠券" in html and "支付有礼" in html and "¥299.00" in html
