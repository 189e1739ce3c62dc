"""The job sidebar: every console list has a place, permissions decide what shows, badges are cheap."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from analytics.admin.dashboard import TODO
from config.console import NAVIGATION, navigation_for
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db

SECTIONS = ["首页", "商品", "订单", "售后", "会员", "营销", "分销", "数据", "内容", "设置"]


def request_as(user, path: str = "/admin/", query: str = ""):
    request = RequestFactory().get(f"{path}?{query}" if query else path)
    request.user = user
    return request


def staff_with(*codenames: str):
    user = get_user_model().objects.create_user("clerk", password="a-long-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)  # a fresh permission cache


def test_the_sections_are_the_jobs_in_order():
    assert [section.title for section in NAVIGATION] == SECTIONS


def test_every_console_list_has_a_page_in_the_navigation():
    linked = {reverse(page.url_name) for section in NAVIGATION for page in section.pages}
    lists = {reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
             for model in admin.site._registry}

    # A new console page goes into config.console.NAVIGATION, in its job's section.
    assert lists - linked == set()


def test_every_inbox_entry_is_a_sidebar_page_with_its_badge():
    badges = {page.badge: page for section in NAVIGATION for page in section.pages if page.badge}

    assert set(badges) == {entry.key for entry in TODO}
    assert all(badges[entry.key].url() == entry.url() for entry in TODO)


def test_a_superuser_sees_every_job_with_pages(admin_user):
    sections = navigation_for(request_as(admin_user))

    assert [section["title"] for section in sections] == SECTIONS


def test_an_operator_sees_only_the_pages_of_their_permissions():
    clerk = staff_with("view_order", "view_review")

    sections = navigation_for(request_as(clerk))

    assert [section["title"] for section in sections] == ["首页", "订单", "数据", "内容"]  # 数据: the order trend
    orders = [page["label"] for page in sections[1]["pages"]]
    # 待发货 / 物流上传失败 / 批量发货 are shipping work (change), 支付记录 needs its own view
    assert orders == ["全部订单", "待付款"]


def test_the_current_page_is_the_one_whose_filter_the_request_carries(admin_user):
    def current(path: str, query: str = "") -> list[str]:
        sections = navigation_for(request_as(admin_user, path, query))
        return [page["label"] for section in sections for page in section["pages"] if page["current"]]

    orders = reverse("admin:shop_order_changelist")
    assert current(orders) == ["全部订单"]
    assert current(orders, "status__exact=paid") == ["待发货"]
    assert current(orders, "status__exact=paid&o=2") == ["待发货"]
    assert current(reverse("admin:shop_order_change", args=[1])) == ["全部订单"]
    assert current(reverse("admin:index")) == ["运营概览"]


def test_badges_cost_one_query_and_none_when_the_page_has_them(admin_user, django_assert_num_queries):
    request = request_as(admin_user)

    with django_assert_num_queries(1):
        sections = navigation_for(request)
    assert sum(1 for section in sections for page in section["pages"] if page["badge"] is not None) == len(TODO)
    with django_assert_num_queries(0):
        navigation_for(request, counts={entry.key: 0 for entry in TODO})


def test_every_console_page_has_the_sidebar_and_the_search_box(admin_client):
    html = page(admin_client.get(reverse("admin:shop_order_changelist")))

    assert 'id="nav-sidebar"' in html and 'id="console-search"' in html
    sidebar = html.split('id="nav-sidebar"')[1].split("</nav>")[0]
    assert all(f">{title}<" in sidebar for title in ["订单", "售后", "设置"])
    assert '<a href="/admin/shop/order/?status__exact=paid">待发货</a>' in sidebar


def test_staff_without_permissions_sees_no_sections():
    nobody = staff_with()
    client = Client()
    client.force_login(nobody)

    html = page(client.get(reverse("admin:index")))

    sidebar = html.split('id="nav-sidebar"')[1].split("</nav>")[0]
    assert "你没有查看或编辑的权限。" in sidebar and "console-section" not in sidebar
    assert 'data-todo="' not in html

