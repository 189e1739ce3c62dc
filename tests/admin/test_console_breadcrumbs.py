"""Breadcrumbs by job: a list and its object pages say where they sit in the sidebar."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db


def test_breadcrumbs_follow_the_job_on_lists_and_object_pages(admin_client, paid_order):
    def trail(url: str, query: dict | None = None) -> str:
        html = page(admin_client.get(url, query or {}))
        crumbs = html.split('<div class="breadcrumbs">')[1].split("</div>")[0]
        text = unescape(re.sub(r"<[^>]+>", "", crumbs))
        return " › ".join(part.strip() for part in text.split("›"))

    orders = reverse("admin:shop_order_changelist")
    assert trail(orders) == "首页 › 订单 › 全部订单"
    assert trail(orders, {"status__exact": "paid"}) == "首页 › 订单 › 待发货"
    change = reverse("admin:shop_order_change", args=[paid_order.pk])
    assert trail(change) == f"首页 › 订单 › 全部订单 › {paid_order.order_no}"
    # A service form keeps its own trail, which names the order it acts on.
    assert paid_order.order_no in trail(reverse("admin:shop_order_ship", args=[paid_order.pk]))
