"""Orders: a read-only record, service buttons (发货/取消/备注), audit trail, export, query budget."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Stock, StockMovement
from catalog.services import stock_adjust
from core.audit import Actor
from payments.models import Payment
from shop.models import ORDER_PAYABLE_KIND, Order, OrderEvent, OrderStatus, Shipment
from shop.services.payments import order_prepay
from tests.admin.support_pages import page
from tests.builders import paid_order as paid

pytestmark = pytest.mark.django_db


def test_order_list_shows_yuan_status_and_member(admin_client, paid_order, unpaid_order):
    html = page(admin_client.get(reverse("admin:shop_order_changelist")))

    assert "订单" in html and paid_order.order_no in html and unpaid_order.order_no in html
    assert "¥408.00" in html  # 2 × ¥199 + ¥10 freight
    assert "待发货" in html and "待付款" in html
    assert "王小明" in html
    assert "导出" in html
    assert "取消所选的待付款订单" in html


def test_order_list_filters_and_search(admin_client, paid_order, unpaid_order):
    url = reverse("admin:shop_order_changelist")

    html = page(admin_client.get(url, {"status__exact": OrderStatus.PAID}))
    assert paid_order.order_no in html and unpaid_order.order_no not in html
    html = page(admin_client.get(url, {"q": paid_order.order_no}))
    assert paid_order.order_no in html and unpaid_order.order_no not in html
    html = page(admin_client.get(url, {"q": "13700001234"}))  # the member's phone
    assert paid_order.order_no in html and unpaid_order.order_no in html
    html = page(admin_client.get(url, {"q": "13900001111"}))  # the receiver's phone
    assert paid_order.order_no in html


def test_order_list_query_count_does_not_grow_with_rows(admin_client, catalog, member,
                                                       django_assert_max_num_queries):
    url = reverse("admin:shop_order_changelist")
    stock_adjust(sku=catalog.red, delta=30, reason=StockMovement.Reason.ADJUST)  # enough for 31 orders
    paid(member=member, lines=[(catalog.red, 1)])
    admin_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(9) as few:
        page(admin_client.get(url))
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    for _ in range(30):
        paid(member=member, lines=[(catalog.red, 1)])
    with django_assert_max_num_queries(budget):
        page(admin_client.get(url))


def test_order_page_is_read_only_with_the_audit_trail(admin_client, paid_order):
    payment = Payment.objects.get(kind=ORDER_PAYABLE_KIND, out_trade_no=paid_order.order_no)

    html = page(admin_client.get(reverse("admin:shop_order_change", args=[paid_order.pk])))

    assert "查看 订单" in html and "王小明" in html and "13700001234" in html
    assert "¥398.00" in html and "¥10.00" in html and "¥408.00" in html
    assert payment.transaction_id is not None
    assert payment.out_trade_no in html and payment.transaction_id in html
    assert "操作日志" in html and "下单" in html and "支付成功" in html and "待付款 → 待发货" in html
    assert "微信支付" in html  # the actor
    assert "发货" in html and "添加备注" in html and "取消订单" not in html  # paid: no cancel
    assert 'name="_save"' not in html and "删除" not in html
    assert 'name="status"' not in html and 'name="payable_fen"' not in html


def test_orders_cannot_be_added_or_deleted(admin_client, paid_order):
    assert admin_client.get(reverse("admin:shop_order_delete", args=[paid_order.pk])).status_code == 403
    assert admin_client.get(reverse("admin:shop_order_add")).status_code == 403
    response = admin_client.post(reverse("admin:shop_order_changelist"),
                                 {"action": "delete_selected", "_selected_action": [paid_order.pk]})
    assert Order.objects.filter(pk=paid_order.pk).exists()
    assert response.status_code in (200, 302)
    # A POST to the change page cannot edit anything either.
    admin_client.post(reverse("admin:shop_order_change", args=[paid_order.pk]), {"status": "cancelled"})
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID


def test_ship_changes_status_and_writes_the_audit_event(admin_client, admin_user, paid_order):
    url = reverse("admin:shop_order_ship", args=[paid_order.pk])
    form = page(admin_client.get(url))
    assert "快递公司" in form and "顺丰速运" in form and "极兔速递" in form and "快递单号" in form

    response = admin_client.post(url, {"carrier": "顺丰速运", "tracking_no": "sf 1234 5678 90"}, follow=True)

    html = page(response)
    assert f"订单 {paid_order.order_no} 已发货" in html
    order = Order.objects.get(pk=paid_order.pk)
    assert order.status == OrderStatus.SHIPPED and order.shipped_at is not None
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_no, shipment.operator) == ("顺丰速运", "SF1234567890", admin_user)
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.action, event.from_status, event.to_status, event.actor, event.operator) == (
        "shipped", OrderStatus.PAID, OrderStatus.SHIPPED, Actor.OPERATOR, admin_user)
    assert "待发货 → 已发货" in html and "SF1234567890" in html


def test_ship_refused_by_the_service_shows_its_message(admin_client, unpaid_order):
    url = reverse("admin:shop_order_ship", args=[unpaid_order.pk])

    html = page(admin_client.post(url, {"carrier": "中通快递", "tracking_no": "ZT123456789"}))

    assert "不能发货" in html  # the service's InvalidTransition message
    assert Order.objects.get(pk=unpaid_order.pk).status == OrderStatus.PENDING_PAYMENT
    assert not Shipment.objects.exists()


def test_ship_form_checks_input(admin_client, paid_order):
    url = reverse("admin:shop_order_ship", args=[paid_order.pk])

    html = page(admin_client.post(url, {"carrier": "", "tracking_no": "12"}))

    assert "该字段是必填项" in html and "6 位以上" in html
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID


def test_cancel_an_unpaid_order_releases_stock_and_is_audited(admin_client, admin_user, catalog, unpaid_order):
    page_html = page(admin_client.get(reverse("admin:shop_order_change", args=[unpaid_order.pk])))
    assert "取消订单" in page_html
    before = Stock.objects.get(sku=catalog.blue).available

    response = admin_client.post(reverse("admin:shop_order_cancel", args=[unpaid_order.pk]),
                                 {"reason": "客户电话要求取消"}, follow=True)

    assert "已取消" in page(response)
    order = Order.objects.get(pk=unpaid_order.pk)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "客户电话要求取消")
    assert Stock.objects.get(sku=catalog.blue).available == before + 1
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.action, event.actor, event.operator) == ("cancelled", Actor.OPERATOR, admin_user)


def test_cancel_a_paid_order_is_refused(admin_client, paid_order):
    html = page(admin_client.post(reverse("admin:shop_order_cancel", args=[paid_order.pk]), {"reason": "x"}))

    assert "不能取消" in html
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID


def test_cancelling_an_order_wechat_says_is_paid_records_the_payment_instead(admin_client, unpaid_order,
                                                                            sandbox):
    # given the shopper paid at WeChat while the operator was about to cancel; the notify is late
    order_prepay(member=unpaid_order.member, order_no=unpaid_order.order_no, client_ip="127.0.0.1")
    sandbox.pay(unpaid_order.order_no, notify=False)

    html = page(admin_client.post(reverse("admin:shop_order_cancel", args=[unpaid_order.pk]), {"reason": "x"}))

    assert "不能取消" in html
    assert Order.objects.get(pk=unpaid_order.pk).status == OrderStatus.PAID
    assert Payment.objects.get(out_trade_no=unpaid_order.order_no).status == "paid"


def test_add_remark(admin_client, admin_user, paid_order):
    response = admin_client.post(reverse("admin:shop_order_remark", args=[paid_order.pk]),
                                 {"text": "客户要求周末送达"}, follow=True)

    html = page(response)
    assert "客户要求周末送达" in html and "商家备注" in html
    assert "客户要求周末送达" in Order.objects.get(pk=paid_order.pk).operator_remark
    event = OrderEvent.objects.filter(order=paid_order).latest("id")
    assert (event.action, event.operator) == ("remark", admin_user)


def test_bulk_cancel_asks_for_a_reason_then_cancels_unpaid_only(admin_client, paid_order, unpaid_order):
    url = reverse("admin:shop_order_changelist")
    selected = [paid_order.pk, unpaid_order.pk]

    html = page(admin_client.post(url, {"action": "cancel_selected", "_selected_action": selected}))
    assert "批量取消" in html and unpaid_order.order_no in html and "将被跳过" in html
    assert Order.objects.get(pk=unpaid_order.pk).status == OrderStatus.PENDING_PAYMENT

    response = admin_client.post(url, {"action": "cancel_selected", "_selected_action": selected, "apply": "1",
                                       "reason": "重复下单"}, follow=True)
    assert "已取消 1 个订单" in page(response)
    assert Order.objects.get(pk=unpaid_order.pk).status == OrderStatus.CANCELLED
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID


def test_export_orders_in_yuan_with_status_labels(admin_client, paid_order, unpaid_order):
    url = reverse("admin:shop_order_export")
    form_page = admin_client.get(url)
    assert "导出" in page(form_page) and "应付金额（元）" in page(form_page) and "Order No" not in page(form_page)
    columns = {name: "on" for name in form_page.context["form"].fields if name.startswith("orderexportresource_")}

    response = admin_client.post(url + f"?status__exact={OrderStatus.PAID}", {"format": "0", **columns})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    text = response.content.decode("utf-8-sig")
    header, *rows = [line for line in text.splitlines() if line]
    assert header.split(",")[:4] == ["订单号", "状态", "会员", "会员手机号"]
    assert "应付金额（元）" in header
    assert len(rows) == 1
    assert paid_order.order_no in rows[0] and "待发货" in rows[0]
    assert "408.00" in rows[0] and "398.00" in rows[0] and "广东省深圳市南山区科技园 1 号" in rows[0]
