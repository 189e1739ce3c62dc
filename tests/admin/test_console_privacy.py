"""Phone numbers by role (138****8000 unless the role needs them), exports by permission, and who did what."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from shop.errors import SecondApprovalPermissionRequired
from shop.models import AfterSale, AfterSaleStatus, OrderStatus
from shop.services.aftersales import after_sale_approve
from tests.admin.support_pages import cell, page
from tests.admin.support_roles import staff_in
from tests.builders import lines_of, order_up_to, requested_after_sale

pytestmark = pytest.mark.django_db
FULL, MASKED = "13700001234", "137****1234"  # the member fixture's phone
RECEIVER_FULL, RECEIVER_MASKED = "13900001111", "139****1111"


def client_in(role: str) -> Client:
    client = Client()
    client.force_login(staff_in(role))
    return client


def export_rows(client: Client, name: str, prefix: str) -> list[str]:
    url = reverse(f"admin:{name}_export")
    columns = {field: "on" for field in client.get(url).context["form"].fields if field.startswith(prefix)}
    response = client.post(url, {"format": "0", **columns})
    assert response.status_code == 200
    return [line for line in response.content.decode("utf-8-sig").splitlines() if line]


def test_customer_service_reads_masked_phones_on_lists_pages_and_search(member, paid_order):
    service = client_in("客服")

    members = page(service.get(reverse("admin:members_member_changelist")))
    member_page = page(service.get(reverse("admin:members_member_change", args=[member.pk])))
    order_page = page(service.get(reverse("admin:shop_order_change", args=[paid_order.pk])))
    found = page(service.get(reverse("console-search"), {"q": "1234"}))

    assert cell(members, "王小明", "phone_shown") == MASKED
    for html in (members, member_page, order_page, found):
        assert FULL not in html and RECEIVER_FULL not in html
    assert MASKED in member_page and RECEIVER_MASKED in order_page and MASKED in found


def test_the_warehouse_reads_the_receivers_whole_number_to_ship(paid_order):
    warehouse = client_in("仓库")
    order_page = page(warehouse.get(reverse("admin:shop_order_change", args=[paid_order.pk])))
    ship_page = page(warehouse.get(reverse("admin:shop_order_ship", args=[paid_order.pk])))

    assert RECEIVER_FULL in order_page and RECEIVER_FULL in ship_page


def test_a_superuser_reads_whole_numbers(admin_client, member):
    html = page(admin_client.get(reverse("admin:members_member_changelist")))

    assert cell(html, "王小明", "phone_shown") == FULL


def test_finance_exports_orders_with_masked_phones_and_customer_service_may_not_export(paid_order):
    rows = export_rows(client_in("财务"), "shop_order", "orderexportresource_")

    assert paid_order.order_no in rows[1] and MASKED in rows[1] and RECEIVER_MASKED in rows[1]
    assert FULL not in "\n".join(rows)
    assert client_in("客服").get(reverse("admin:shop_order_export")).status_code == 403


def test_a_large_refund_is_reviewed_by_customer_service_then_approved_and_exported_by_finance(catalog, member,
                                                                                               freight):
    order = order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 3)])
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 3})  # ¥597, above the ¥500 line
    service, finance = client_in("客服"), client_in("财务")
    approve = reverse("admin:shop_aftersale_approve", args=[after_sale.pk])

    assert service.post(approve, follow=True).status_code == 200
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSaleStatus.AWAITING_SECOND_APPROVAL
    assert service.get(approve).status_code == 403  # the second approval is finance's
    assert finance.post(approve, follow=True).status_code == 200

    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSaleStatus.REFUNDING
    header, *rows = export_rows(finance, "shop_refund", "refundexportresource_")
    assert header.split(",")[:5] == ["退款单号", "微信退款单号", "订单号", "售后单号", "退款金额（元）"]
    assert len(rows) == 1 and order.order_no in rows[0] and "597.00" in rows[0]
    assert service.get(reverse("admin:shop_refund_export")).status_code == 403


def test_the_service_refuses_a_second_approval_without_the_permission(catalog, member, freight):
    order = order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 3)])
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 3})
    first, second = (get_user_model().objects.create_user(name, password="x", is_staff=True) for name in "ab")
    for user in (first, second):
        user.groups.add(Group.objects.get(name="客服"))
    after_sale_approve(after_sale=after_sale, operator=get_user_model().objects.get(pk=first.pk))

    with pytest.raises(SecondApprovalPermissionRequired):
        after_sale_approve(after_sale=after_sale, operator=get_user_model().objects.get(pk=second.pk))
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSaleStatus.AWAITING_SECOND_APPROVAL


def test_a_service_button_is_recorded_in_the_admin_log_and_shown_on_the_order(admin_client, paid_order):
    admin_client.post(reverse("admin:shop_order_ship", args=[paid_order.pk]),
                      {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}, follow=True)

    html = page(admin_client.get(reverse("admin:shop_order_change", args=[paid_order.pk])))

    assert "后台操作记录" in html and "发货：顺丰速运 SF1234567890" in html
