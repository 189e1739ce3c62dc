"""Flash-sale data for the bench: one running session, one activity SKU, and a crowd of buyers.

The rush is many members each buying their own unit, so every client is a different member (its
own allowance row, as in a real rush) and the activity SKU has stock and a per-member limit no
run can exhaust: what is measured is the rate of successful placements on one hot activity row,
against raw conditional UPDATEs on that SKU's stock row from as many connections.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from bench.load import Target

FLASH_STOCK = 1_000_000_000
PER_MEMBER_LIMIT = 30_000  # a bench client places at most a few hundred orders


@dataclass(frozen=True)
class FlashData:
    sku_id: int
    item_id: int
    tokens: tuple[str, ...]
    sold_out_item_id: int = 0  # an item of the same session with nothing left: every order is refused


def load_flash(*, product_id: int, clients: int) -> FlashData:
    """A running session with one item on a fresh SKU of `product_id`, and `clients` shoppers."""
    from django.utils import timezone

    from campaigns.models import FlashItem, FlashSession
    from catalog.models import Sku, Stock, StockMovement

    sku = Sku.objects.create(product_id=product_id, code="BENCH-FLASH", specs={"规格": "秒杀装"},
                             price_fen=19900, original_price_fen=29900, cost_fen=5000)
    Stock.objects.create(sku=sku, available=FLASH_STOCK)
    StockMovement.objects.create(sku=sku, delta=FLASH_STOCK, reason=StockMovement.Reason.INITIAL)
    now = timezone.now()
    session = FlashSession.objects.create(name="bench 秒杀场", starts_at=now - dt.timedelta(minutes=1),
                                          ends_at=now + dt.timedelta(hours=6))
    item = FlashItem.objects.create(session=session, sku=sku, flash_price_fen=9900, stock_total=FLASH_STOCK,
                                    stock_left=FLASH_STOCK, per_member_limit=PER_MEMBER_LIMIT)
    gone_sku = Sku.objects.create(product_id=product_id, code="BENCH-FLASH-GONE", specs={"规格": "已抢光"},
                                  price_fen=19900, original_price_fen=29900, cost_fen=5000)
    Stock.objects.create(sku=gone_sku, available=0)
    gone = FlashItem.objects.create(session=session, sku=gone_sku, flash_price_fen=9900, stock_total=1,
                                    stock_left=0, per_member_limit=1)
    return FlashData(sku_id=sku.pk, item_id=item.pk, tokens=_crowd(clients), sold_out_item_id=gone.pk)


def _crowd(count: int) -> tuple[str, ...]:
    from django.utils import timezone

    from members.models import Address, Member
    from members.services.identity import _token_issue

    members = Member.objects.bulk_create(Member(openid=f"o-bench-flash-{i:05d}", nickname=f"抢购{i}")
                                         for i in range(count))
    Address.objects.bulk_create(Address(member=m, receiver_name="李四", phone="13900139000", province="上海市",
                                        city="上海市", district="浦东新区", detail="世纪大道 1 号", is_default=True)
                                for m in members)
    now = timezone.now()
    return tuple(_token_issue(member=m, now=now)[0] for m in members)


def flash_target(data: FlashData) -> Target:
    body = json.dumps({"items": [{"sku_id": data.sku_id, "quantity": 1, "flash_item_id": data.item_id}]}).encode()
    return Target("POST /api/v1/orders/ (flash item)", ("/api/v1/orders/",), method="POST", body=body,
                  tokens=data.tokens, idempotency_keys=True, expected_status=201)


def sold_out_target(data: FlashData) -> Target:
    """The rush after the units are gone: every order for the sold-out item is a 409 flash_sold_out,
    answered from a read before any write."""
    from campaigns.models import FlashItem

    sku_id = FlashItem.objects.get(pk=data.sold_out_item_id).sku_id
    body = json.dumps({"items": [{"sku_id": sku_id, "quantity": 1, "flash_item_id": data.sold_out_item_id}]})
    return Target("POST /api/v1/orders/ (flash item sold out)", ("/api/v1/orders/",), method="POST",
                  body=body.encode(), tokens=data.tokens, idempotency_keys=True, expected_status=409)


def check_consistency(data: FlashData, *, orders_created: int, raw_taken: int) -> str:
    """Every 201 took one unit of activity stock and one of product stock; raw UPDATEs one more each."""
    from campaigns.models import FlashItem, FlashReservation
    from catalog.models import Stock

    item = FlashItem.objects.get(pk=data.item_id)
    reserved = FlashReservation.objects.filter(item_id=data.item_id).count()
    product_left = Stock.objects.get(sku_id=data.sku_id).available
    flash_sold = FLASH_STOCK - item.stock_left
    expected_product = FLASH_STOCK - flash_sold - raw_taken
    if reserved == flash_sold and product_left == expected_product and flash_sold >= orders_created:
        return f"ok ({flash_sold} flash units sold, {reserved} reservations, product stock {product_left})"
    return (f"MISMATCH: {flash_sold} flash units sold, {reserved} reservations, {orders_created} orders "
            f"counted; product stock {product_left}, expected {expected_product}")
