"""The home dashboard and the read-only pages (members, payments, notifications, events)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import Event
from members.models import Address
from payments.models import Payment, PaymentNotification
from shop.models import ORDER_PAYABLE_KIND, OrderStatus
from tests.admin.support_pages import page
from tests.builders import order_up_to

pytestmark = pytest.mark.django_db


def test_dashboard_shows_todays_numbers_above_the_app_list(admin_client, catalog, member):
    order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 2)])  # ¥398 paid today, to ship
    order_up_to(OrderStatus.SHIPPED, member=member, lines=[(catalog.blue, 1)])  # ¥189 paid today
    order_up_to(OrderStatus.PENDING_PAYMENT, member=member, lines=[(catalog.blue, 1)])
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 1)], paid_at=two_days_ago)

    html = page(admin_client.get(reverse("admin:index")))

    assert "小程序商城 运营后台" in html and "今日概览" in html
    cards = html.split('class="mall-cards"')[1].split("</section>")[0]
    assert "今日付款订单" in cards and ">2<small>单</small>" in cards
    assert "今日成交额" in cards and "¥587.00" in cards
    assert "待发货" in cards and ">2<small>单</small>" in cards
    assert "待付款" in cards and ">1<small>单</small>" in cards
    assert "status__exact=paid" in cards
    assert "商城" in html and "会员" in html  # Django's app list is still there, below


def test_dashboard_link_for_paid_today_filters_the_order_list(admin_client, catalog, member):
    today = order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 1)])
    old = order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 1)],
                      paid_at=timezone.now() - dt.timedelta(days=2))
    html = page(admin_client.get(reverse("admin:index")))
    link = html.split('class="mall-card" href="')[1].split('"')[0].replace("&amp;", "&")

    listing = page(admin_client.get(link))

    assert today.order_no in listing and old.order_no not in listing


def test_member_pages_are_read_only_and_never_show_the_session_key(admin_client, member):
    Address.objects.create(member=member, receiver_name="王小明", phone="13700001234", province="浙江省",
                           city="杭州市", district="西湖区", detail="文三路 1 号", is_default=True)

    html = page(admin_client.get(reverse("admin:members_member_changelist"), {"q": "13700001234"}))
    assert "会员" in html and "王小明" in html and "SECRET-SESSION-KEY" not in html

    html = page(admin_client.get(reverse("admin:members_member_change", args=[member.pk])))
    assert "收货地址" in html and "文三路 1 号" in html and "查看该会员的订单" in html
    assert "SECRET-SESSION-KEY" not in html and "会话密钥" not in html
    assert admin_client.get(reverse("admin:members_member_delete", args=[member.pk])).status_code == 403

    from django.contrib import admin

    from members.models import MemberToken
    assert not admin.site.is_registered(MemberToken)


def test_payment_pages_are_read_only(admin_client, paid_order):
    payment = Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=paid_order.order_no)
    notice = PaymentNotification.objects.get(out_trade_no=payment.out_trade_no)

    html = page(admin_client.get(reverse("admin:payments_payment_changelist")))
    assert "支付记录" in html and payment.out_trade_no in html and "¥408.00" in html and "已支付" in html
    html = page(admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk])))
    assert paid_order.order_no in html and 'name="_save"' not in html
    assert "订单" in html and reverse("admin:shop_order_changelist") in html  # the payable it pays for
    assert "操作日志" in html and "支付成功" in html and "微信支付" in html  # its audit trail
    html = page(admin_client.get(reverse("admin:payments_paymentnotification_change", args=[notice.pk])))
    assert "原始报文" in html and "&lt;xml&gt;" in html
    for name in ("payments_payment_delete", "payments_paymentnotification_delete"):
        pk = payment.pk if "payment_" in name else notice.pk
        assert admin_client.get(reverse(f"admin:{name}", args=[pk])).status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403


def test_event_list_filters_by_name(admin_client):
    now = timezone.now()
    Event.objects.create(name="product_view", member_id=1, properties={"product_id": 7}, occurred_at=now)
    Event.objects.create(name="order_paid", member_id=1, occurred_at=now)

    html = page(admin_client.get(reverse("admin:analytics_event_changelist"), {"name": "product_view"}))

    assert "事件" in html and "product_id" in html and "order_paid</td>" not in html
    assert admin_client.get(reverse("admin:analytics_event_add")).status_code == 403


def test_freight_template_in_yuan_with_province_rules(admin_client):
    from catalog.models import FreightRule, FreightTemplate

    data = {
        "name": "江浙沪包邮", "is_default": "on", "free_threshold_fen": "99",
        "rules-TOTAL_FORMS": "2", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "rules-0-provinces": "江苏，浙江、上海市", "rules-0-first_count": "1", "rules-0-first_fee_fen": "0",
        "rules-0-extra_count": "1", "rules-0-extra_fee_fen": "0", "rules-0-is_deliverable": "on",
        "rules-1-provinces": "", "rules-1-first_count": "1", "rules-1-first_fee_fen": "12.5",
        "rules-1-extra_count": "2", "rules-1-extra_fee_fen": "5", "rules-1-is_deliverable": "on",
    }

    response = admin_client.post(reverse("admin:catalog_freighttemplate_add"), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    template = FreightTemplate.objects.get(name="江浙沪包邮")
    assert template.free_threshold_fen == 9900
    rules = list(FreightRule.objects.filter(template=template).order_by("id").values_list(
        "provinces", "first_fee_fen", "extra_count", "extra_fee_fen"))
    assert rules == [(["江苏", "浙江", "上海市"], 0, 1, 0), ([], 1250, 2, 500)]
    html = page(admin_client.get(reverse("admin:catalog_freighttemplate_change", args=[template.pk])))
    assert 'value="江苏,浙江,上海市"' in html and 'value="12.50"' in html
    assert "¥99.00" in page(admin_client.get(reverse("admin:catalog_freighttemplate_changelist")))

    # A typo'd province, a province in two rules, and a second default are refused.
    data.update({"name": "另一个", "rules-0-provinces": "江苏,火星", "rules-1-provinces": "江苏"})
    html = page(admin_client.post(reverse("admin:catalog_freighttemplate_add"), data))
    assert "无法识别的省份：火星" in html and "已有默认运费模板" in html
    data.update({"is_default": "", "rules-0-provinces": "江苏"})
    assert "同时出现在" in page(admin_client.post(reverse("admin:catalog_freighttemplate_add"), data))
