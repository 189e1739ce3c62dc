"""The console's global search: one box for an order, an after-sale, a member or a product.

What an operator types is read the way they mean it: a number is an order number, a phone
number or its last four digits (on the phone, the shopper reads out the tail of their number);
words are a nickname or a product name; an OpenID, an after-sale number or a SKU code matches
exactly.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from catalog.models import Product, Sku
from core.privacy import console_phone
from members.models import Member
from shop.models import AfterSale, Order

# The kinds the box finds, in the order the results page lists them.
KINDS = ("order", "after_sale", "member", "product")
PHONE = re.compile(r"1\d{10}")
PHONE_TAIL = re.compile(r"\d{4}")


@dataclass(frozen=True)
class SearchHit:
    """A row found: its kind (one of KINDS), its primary key, and what the results page shows."""

    kind: str
    pk: int
    title: str
    detail: str


def console_search(*, query: str, kinds: Collection[str], limit: int = 20) -> dict[str, list[SearchHit]]:
    """What `query` finds among `kinds`, by kind (only kinds with hits), at most `limit` per kind.

    Exact identifiers use their unique indexes; a phone's last four digits and names are
    scans bounded by `limit`. At most one query per kind (products: two, name and SKU code).
    """
    text = query.strip()
    if not text:
        return {}
    digits = text.isdigit()
    found: dict[str, list[SearchHit]] = {}
    if "order" in kinds:
        orders = Order.objects.filter(order_no=text).select_related("member")[:limit] if digits else []
        found["order"] = [SearchHit("order", order.pk, order.order_no,
                                    f"{order.get_status_display()} · {order.receiver_name or order.member.nickname}")
                          for order in orders]
    if "after_sale" in kinds and text.upper().startswith("AS"):
        after_sales = AfterSale.objects.filter(after_sale_no=text.upper()).select_related("order")[:limit]
        found["after_sale"] = [SearchHit("after_sale", sale.pk, sale.after_sale_no,
                                         f"{sale.get_status_display()} · 订单 {sale.order.order_no}")
                               for sale in after_sales]
    if "member" in kinds:
        found["member"] = [SearchHit("member", member.pk, member.nickname or "（未设置昵称）",
                                     " · ".join(filter(None, [console_phone(member.phone), member.openid])))
                           for member in _members(text, digits=digits, limit=limit)]
    if "product" in kinds:
        found["product"] = _products(text, digits=digits, limit=limit)
    return {kind: found[kind] for kind in KINDS if found.get(kind)}


def _members(text: str, *, digits: bool, limit: int) -> list[Member]:
    members = Member.objects.order_by("-id")
    if digits and PHONE.fullmatch(text):
        return list(members.filter(phone=text)[:limit])
    if digits and PHONE_TAIL.fullmatch(text):
        return list(members.filter(phone__endswith=text)[:limit])
    if digits:
        return []
    by_openid = list(members.filter(openid=text)[:1])
    return by_openid or list(members.filter(nickname__icontains=text)[:limit])


def _products(text: str, *, digits: bool, limit: int) -> list[SearchHit]:
    sku = Sku.objects.filter(code__iexact=text).select_related("product").first()
    if sku is not None:
        return [SearchHit("product", sku.product_id, sku.product.name, f"SKU {sku.code}")]
    if digits:
        return []
    products = Product.objects.filter(name__icontains=text).order_by("-id")[:limit]
    return [SearchHit("product", product.pk, product.name, "已上架" if product.is_on_shelf else "未上架")
            for product in products]
