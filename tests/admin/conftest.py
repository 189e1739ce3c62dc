"""Data for the console tests: a small catalog, a member, and orders in each status.

Orders are made by tests.builders through the real services (placed, paid by WeChat's notify,
shipped), so the console shows exactly what it would show for a shopper's order.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from catalog.models import Category, FreightTemplate, Product, Sku
from members.models import Address, Member
from shop.models import Order
from tests import builders
from tests.factories import MemberFactory, SkuFactory, default_freight


@dataclass
class Catalog:
    parent: Category
    child: Category
    product: Product
    red: Sku
    blue: Sku


@pytest.fixture
def catalog(db) -> Catalog:
    parent = Category.objects.create(name="母婴")
    child = Category.objects.create(name="奶粉", parent=parent)
    product = Product.objects.create(category=child, name="有机奶粉", is_on_shelf=True)
    red = SkuFactory.create(product=product, code="MILK-1", specs={"段位": "1段"}, price_fen=19900,
                            original_price_fen=25900, cost_fen=12000, stock=10)
    blue = SkuFactory.create(product=product, code="MILK-2", specs={"段位": "2段"}, price_fen=18900, stock=5)
    return Catalog(parent=parent, child=child, product=Product.objects.get(pk=product.pk), red=red, blue=blue)


@pytest.fixture
def member(db) -> Member:
    """王小明, whose orders go to 李四 in 深圳 (an address not marked default, so a test may add one)."""
    member = MemberFactory.create(nickname="王小明", phone="13700001234", session_key="SECRET-SESSION-KEY")
    Address.objects.create(member=member, receiver_name="李四", phone="13900001111", province="广东省",
                           city="深圳市", district="南山区", detail="科技园 1 号")
    return member


@pytest.fixture
def freight(db) -> FreightTemplate:
    """¥10 an order, whatever it holds."""
    return default_freight(first_fee_fen=1000, extra_fee_fen=0, free_threshold_fen=None)


@pytest.fixture
def paid_order(catalog: Catalog, member: Member, freight: FreightTemplate) -> Order:
    """2 × ¥199 + ¥10 freight, paid: 待发货."""
    return builders.paid_order(member=member, lines=[(catalog.red, 2)])


@pytest.fixture
def unpaid_order(catalog: Catalog, member: Member, freight: FreightTemplate) -> Order:
    """1 × ¥189 + ¥10 freight: 待付款."""
    return builders.placed_order(member=member, lines=[(catalog.blue, 1)])
