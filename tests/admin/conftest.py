"""Data for the console tests: a small catalog and orders in each status, built with the ORM.

Orders are inserted directly (not through checkout): these tests are about what the console
shows and which services its buttons call, not about placement.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from django.utils import timezone

from catalog.models import Category, Product, Sku
from core.audit import Actor
from members.models import Member
from shop.models import Order, OrderEvent, OrderLine, OrderStatus
from tests.factories import MemberFactory, SkuFactory

_order_numbers = itertools.count(1)


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
    red = SkuFactory(product=product, code="MILK-1", specs={"段位": "1段"}, price_fen=19900,
                     original_price_fen=25900, cost_fen=12000, stock=10)
    blue = SkuFactory(product=product, code="MILK-2", specs={"段位": "2段"}, price_fen=18900, stock=5)
    return Catalog(parent=parent, child=child, product=Product.objects.get(pk=product.pk), red=red, blue=blue)


@pytest.fixture
def member(db) -> Member:
    return MemberFactory(nickname="王小明", phone="13700001234", session_key="SECRET-SESSION-KEY")


def make_order(member: Member, sku: Sku, *, status: str = OrderStatus.PAID, quantity: int = 1,
               paid_at: dt.datetime | None = None, freight_fen: int = 0) -> Order:
    now = timezone.now()
    goods = sku.price_fen * quantity
    paid = status not in {OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED}
    order = Order.objects.create(
        order_no=f"T{now:%Y%m%d}{next(_order_numbers):06d}", member=member, status=status,
        receiver_name="李四", receiver_phone="13900001111", province="广东省", city="深圳市",
        district="南山区", address_detail="科技园 1 号", goods_total_fen=goods, discount_fen=0,
        freight_fen=freight_fen, payable_fen=goods + freight_fen,
        paid_fen=goods + freight_fen if paid else 0, expires_at=now + dt.timedelta(minutes=30),
        paid_at=(paid_at or now) if paid else None,
    )
    OrderLine.objects.create(order=order, sku=sku, product_id_snapshot=sku.product_id,
                             product_name=sku.product.name, sku_code=sku.code, spec_text=sku.spec_text,
                             unit_price_fen=sku.price_fen, quantity=quantity, goods_total_fen=goods,
                             payable_fen=goods)
    OrderEvent.objects.create(order=order, action="placed", to_status=OrderStatus.PENDING_PAYMENT,
                              actor=Actor.MEMBER)
    if paid:
        OrderEvent.objects.create(order=order, action="paid", from_status=OrderStatus.PENDING_PAYMENT,
                                  to_status=OrderStatus.PAID, actor=Actor.WECHAT)
    return order


@pytest.fixture
def paid_order(catalog: Catalog, member: Member) -> Order:
    return make_order(member, catalog.red, status=OrderStatus.PAID, quantity=2, freight_fen=1000)


@pytest.fixture
def unpaid_order(catalog: Catalog, member: Member) -> Order:
    return make_order(member, catalog.blue, status=OrderStatus.PENDING_PAYMENT)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()
