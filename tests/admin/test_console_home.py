"""The console home: every to-do count equals the list it links to, the trend's days, and who sees what.

The work rows are put in their states directly (`.update`): what is checked here is that the
inbox counts exactly the rows its link lists, not how a row reaches its state (the services'
own tests cover that). Each state has a row that is in it and a neighbour that is not.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.admin.dashboard import TODO, trend_series
from analytics.selectors.dashboard import TODO_QUERIES, daily_figures
from campaigns.models.commissions import EntryReason
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.distribution import ApplicationInput, distributor_apply
from campaigns.services.withdrawals import withdrawal_request
from catalog.models import Stock
from members.models import AdjustmentStatus, PointsAdjustment
from payments.models import Payment
from shop.models import (
    ORDER_PAYABLE_KIND,
    AfterSale,
    AfterSaleStatus,
    OrderStatus,
    Refund,
    RefundStatus,
    ReviewStatus,
    ShippingInfoUpload,
    ShippingUploadState,
)
from tests.admin.support_pages import page
from tests.builders import buyer, lines_of, order_up_to, requested_after_sale
from tests.campaigns.support_distribution import distributor, near_member
from tests.factories import MemberFactory, SkuFactory
from tests.shop.support_reviews import make_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(catalog, member, freight):
    """One or more rows in each to-do state, each beside a row that is not."""
    order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 1)])  # 待发货
    shipped = order_up_to(OrderStatus.SHIPPED, member=member, lines=[(catalog.red, 1)])
    received = order_up_to(OrderStatus.RECEIVED, member=member, lines=[(catalog.red, 1), (catalog.blue, 1)])
    order_up_to(OrderStatus.PENDING_PAYMENT, member=member, lines=[(catalog.blue, 1)])
    ShippingInfoUpload.objects.filter(order=shipped).update(state=ShippingUploadState.FAILED, last_error="[-1] x")
    assert ShippingInfoUpload.objects.filter(order=received).exclude(state=ShippingUploadState.FAILED).exists()

    red_line, blue_line = lines_of(received)
    requested_after_sale(order=received, lines={red_line: 1})
    second = requested_after_sale(order=received, lines={blue_line: 1})
    AfterSale.objects.filter(pk=second.pk).update(status=AfterSaleStatus.AWAITING_SECOND_APPROVAL)
    payment = Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=received.order_no)
    Refund.objects.create(order=received, payment=payment, out_refund_no="RF-FAILED", amount_fen=100,
                          status=RefundStatus.FAILED)
    Refund.objects.create(order=received, payment=payment, out_refund_no="RF-OK", amount_fen=100,
                          status=RefundStatus.SUCCEEDED, succeeded_at=timezone.now())

    make_review(red_line, status=ReviewStatus.PENDING)
    make_review(blue_line, followup_content="追评", followup_status=ReviewStatus.PENDING)
    make_review(lines_of(shipped)[0])  # published

    SkuFactory.create(code="LOW-ON-SHELF", stock=3, product__is_on_shelf=True)
    SkuFactory.create(code="LOW-OFF-SHELF", stock=3, product__is_on_shelf=False)
    Stock.objects.filter(sku=catalog.blue).update(available=0)  # sold out on a shelved product: low

    PointsAdjustment.objects.create(member=member, delta=9000, reason="活动补发", status=AdjustmentStatus.PENDING)
    PointsAdjustment.objects.create(member=member, delta=10, reason="客诉补偿", status=AdjustmentStatus.REJECTED)

    distributor_apply(member=buyer(), data=ApplicationInput(real_name="张三", phone="13900139001", reason="分享"))
    approved = distributor()
    with transaction.atomic():
        ledger_move(distributor_id=approved.pk, reason=EntryReason.SETTLED, reference="seed",
                    moves=Moves(available_fen=5000))
    withdrawal_request(member=near_member(approved), amount_fen=1000)


@pytest.mark.parametrize("entry", TODO, ids=[entry.key for entry in TODO])
def test_each_inbox_count_equals_the_list_it_links_to(admin_client, work, entry):
    html = page(admin_client.get(reverse("admin:index")))
    card = html.split(f'data-todo="{entry.key}"')[1].split("</a>")[0]
    shown = int(card.split('class="mall-card-value">')[1].split("<")[0])

    listing = admin_client.get(entry.url())

    assert listing.status_code == 200
    assert shown == listing.context["cl"].result_count == TODO_QUERIES[entry.key]().count()
    assert shown >= 1


def test_every_inbox_entry_has_its_count():
    assert {entry.key for entry in TODO} == set(TODO_QUERIES)


def test_the_home_page_has_inbox_today_and_trend_served_locally(admin_client, work):
    html = page(admin_client.get(reverse("admin:index")))

    assert "待办事项" in html and "今日概览" in html and "经营趋势" in html
    assert "/static/analytics/vendor/echarts-6.1.0/echarts.min.js" in html
    assert 'id="trend-data"' in html and "近 7 天" in html and "近 30 天" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_the_trend_counts_days_in_shanghai_and_nets_refunds(catalog, member, freight):
    # 23:30 Shanghai on the day before yesterday is 15:30 UTC: a Shanghai day, not a UTC one.
    today = timezone.localdate()
    late = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=2), dt.time(23, 30)))
    order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 1)], paid_at=late)  # ¥199 + ¥10
    order = order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.blue, 1)])  # ¥189 + ¥10 today
    payment = Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)
    Refund.objects.create(order=order, payment=payment, out_refund_no="RF-1", amount_fen=5000,
                          status=RefundStatus.SUCCEEDED, succeeded_at=timezone.now())

    figures = daily_figures(days=7)
    series = trend_series(days=7)

    assert [day.day for day in figures] == [today - dt.timedelta(days=n) for n in range(6, -1, -1)]
    assert (figures[4].paid_orders, figures[4].paid_fen, figures[4].net_fen) == (1, 20900, 20900)
    assert (figures[6].paid_orders, figures[6].paid_fen, figures[6].refunded_fen, figures[6].net_fen) == (
        1, 19900, 5000, 14900)
    assert series["paid_yuan"][-1] == "199.00" and series["net_yuan"][-1] == "149.00"
    assert series["days"][-1] == f"{today:%m-%d}" and sum(series["paid_orders"]) == 2


def test_an_operator_sees_only_the_work_of_the_lists_they_may_open(work):
    clerk = get_user_model().objects.create_user("clerk", password="a-long-password-1", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_review", "change_review"]))
    client = Client()
    client.force_login(clerk)

    html = page(client.get(reverse("admin:index")))

    assert 'data-todo="reviews_to_moderate"' in html and 'data-todo="to_ship"' not in html
    assert "今日概览" not in html and "经营趋势" not in html  # order figures need the order list


def test_the_home_page_counts_with_a_fixed_number_of_queries(admin_client, work, django_assert_max_num_queries):
    MemberFactory.create_batch(3)
    # session + user, the to-do counts (one query; the sidebar reuses them), today's 2, the
    # trend's 2, and Django's app list asking the singleton settings admins whether a row
    # exists (2): whatever the number of rows.
    with django_assert_max_num_queries(9):
        page(admin_client.get(reverse("admin:index")))
