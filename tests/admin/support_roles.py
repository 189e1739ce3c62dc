"""The console's roles as tests use them: an operator in a role, and the sidebar each role sees."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "a-long-password-1"

# What each role sees in the sidebar: its jobs, in the navigation's order. (数据 holds the order trend,
# so whoever sees orders sees it.)
SIDEBARS = {
    "运营": ["首页", "商品", "订单", "会员", "营销", "分销", "数据", "内容"],
    "客服": ["首页", "订单", "售后", "会员", "数据", "内容"],
    "财务": ["首页", "订单", "售后", "会员", "分销", "数据", "设置"],
    "仓库": ["首页", "商品", "订单", "营销", "数据"],
}


def staff_in(role: str, username: str | None = None) -> Any:
    """A console operator in `role`, freshly read (an empty permission cache)."""
    user = get_user_model().objects.create_user(username or f"op-{role}", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)
