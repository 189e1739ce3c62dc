"""The header's search box: one hit opens its page, several are listed by kind, permissions apply."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from analytics.selectors.search import console_search
from tests.admin.support_pages import page
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def search(client, query: str):
    return client.get(reverse("console-search"), {"q": query})


def test_an_order_number_opens_the_order(admin_client, paid_order):
    response = search(admin_client, paid_order.order_no)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:shop_order_change", args=[paid_order.pk])


def test_a_full_phone_number_opens_the_member(admin_client, member):
    MemberFactory.create(phone="13800001234")  # the same last four digits, another number

    response = search(admin_client, "13700001234")

    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])


def test_the_last_four_digits_open_the_member_or_list_every_match(admin_client, member):
    response = search(admin_client, "1234")
    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])

    other = MemberFactory.create(nickname="李雷", phone="13800001234")
    html = page(search(admin_client, "1234"))
    assert "会员" in html and "王小明" in html and "李雷" in html
    assert reverse("admin:members_member_change", args=[other.pk]) in html


def test_a_sku_code_opens_its_product(admin_client, catalog):
    response = search(admin_client, "milk-2")

    assert response["Location"] == reverse("admin:catalog_product_change", args=[catalog.product.pk])


def test_a_nickname_openid_and_product_name_are_found(admin_client, member, catalog):
    assert search(admin_client, member.openid)["Location"] == reverse("admin:members_member_change",
                                                                      args=[member.pk])
    assert search(admin_client, "小明")["Location"] == reverse("admin:members_member_change", args=[member.pk])
    assert search(admin_client, "奶粉")["Location"] == reverse("admin:catalog_product_change",
                                                             args=[catalog.product.pk])


def test_several_kinds_are_grouped_and_nothing_found_says_so(admin_client, member, catalog):
    MemberFactory.create(nickname="奶粉达人")

    html = page(search(admin_client, "奶粉"))
    assert html.index("会员") < html.index("商品") and "奶粉达人" in html and "有机奶粉" in html

    html = page(search(admin_client, "不存在的东西"))
    assert "没有找到与“不存在的东西”匹配的" in html


def test_only_the_kinds_an_operator_may_view_are_searched(member, paid_order):
    clerk = get_user_model().objects.create_user("clerk", password="a-long-password-1", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = Client()
    client.force_login(clerk)

    assert search(client, paid_order.order_no).status_code == 302
    assert "王小明" not in page(search(client, "13700001234"))


def test_the_search_needs_a_console_login(client):
    response = client.get(reverse("console-search"), {"q": "1234"})

    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_a_search_is_a_few_queries_whatever_the_rows(member, catalog, django_assert_num_queries):
    kinds = ["order", "after_sale", "member", "product"]
    with django_assert_num_queries(3):  # order number, phone tail, SKU code
        assert console_search(query="2026", kinds=kinds) == {}
    with django_assert_num_queries(4):  # OpenID, nickname, SKU code, product name
        assert console_search(query="无此商品", kinds=kinds) == {}
