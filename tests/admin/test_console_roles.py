"""The console's roles: groups made by the migration, each seeing its jobs' pages and nothing else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from analytics.admin.dashboard import todo_for
from config.console import NAVIGATION, navigation_for
from config.roles import ROLES, SUPERUSER, role_permissions, roles_sync
from tests.admin.support_pages import page
from tests.admin.support_roles import SIDEBARS, staff_in

pytestmark = pytest.mark.django_db

def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sidebar_of(user) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    return [section["title"] for section in navigation_for(request)]


def test_the_migration_made_the_five_roles_and_the_superuser_role_holds_every_permission():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name=SUPERUSER).permissions.count() == Permission.objects.count()


def test_each_role_holds_exactly_the_permissions_derived_from_its_pages():
    expected = role_permissions()
    for role, names in expected.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}
        assert held == names, role


def test_syncing_again_restores_a_role_changed_by_hand():
    service = Group.objects.get(name="客服")
    service.permissions.add(Permission.objects.get(codename="delete_order"))

    roles_sync()

    assert not service.permissions.filter(codename="delete_order").exists()


@pytest.mark.parametrize("role", list(SIDEBARS))
def test_each_role_sees_only_its_jobs_in_the_sidebar(role):
    assert sidebar_of(staff_in(role)) == SIDEBARS[role]


def test_a_page_added_to_a_section_reaches_the_sections_roles():
    # The contract a new console page relies on: no role list to edit beside the navigation.
    campaigns = next(section for section in NAVIGATION if section.key == "campaigns")
    page = next(page for page in campaigns.pages if page.model == "campaigns.flashsession")

    assert page.roles is None and "campaigns.add_flashsession" in role_permissions()["运营"]


@pytest.mark.parametrize(("role", "forbidden"), [
    ("客服", "admin:catalog_product_changelist"),
    ("客服", "admin:shop_order_shipping_import"),
    ("仓库", "admin:shop_aftersale_changelist"),
    ("财务", "admin:campaigns_coupontemplate_changelist"),
    ("运营", "admin:payments_transfer_changelist"),
    ("运营", "admin:auth_user_changelist"),
])
def test_another_roles_page_is_a_403(role, forbidden):
    assert client_of(staff_in(role)).get(reverse(forbidden)).status_code == 403


def test_each_inbox_entry_goes_to_the_role_that_does_the_work():
    service = [entry["key"] for entry in todo_for(staff_in("客服"))]
    finance = [entry["key"] for entry in todo_for(staff_in("财务"))]

    assert "after_sales_to_review" in service and "refunds_second_approval" not in service
    assert "refunds_failed" not in service  # 客服 may look at refunds; retrying them is 财务's
    assert "refunds_second_approval" in finance and "refunds_failed" in finance
    assert "after_sales_to_review" not in finance
    warehouse = [entry["key"] for entry in todo_for(staff_in("仓库"))]
    assert "to_ship" in warehouse and "shipping_upload_failed" in warehouse and "low_stock" in warehouse
    assert "to_ship" not in service and "to_ship" not in finance  # they see orders; shipping is 仓库's


def test_customer_service_sees_orders_without_shipping_or_export_buttons(paid_order):
    html = page(client_of(staff_in("客服")).get(reverse("admin:shop_order_changelist")))

    assert paid_order.order_no in html
    assert reverse("admin:shop_order_shipping_import") not in html
    assert reverse("admin:shop_order_export") not in html


def test_the_group_editor_shows_a_built_in_role_read_only_in_words(admin_client):
    role = Group.objects.get(name="客服")

    html = page(admin_client.get(reverse("admin:auth_group_change", args=[role.pk])))

    assert "由 config/roles.py 定义" in html and "商城 | 订单 | 查看订单" in html
    assert 'name="permissions"' not in html
    assert admin_client.get(reverse("admin:auth_group_delete", args=[role.pk])).status_code == 403
