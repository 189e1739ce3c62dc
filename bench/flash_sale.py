"""Flash-sale data for the bench: one running session, one activity SKU, and a crowd of buyers;
and the rush itself, as a one-shot burst.

The sustained rows: many members each buying their own unit, so every client is a different
member (its own allowance row, as in a real rush) and the activity SKU has stock and a per-member
limit no run can exhaust: what is measured is the rate of successful placements on one hot
activity row, against raw conditional UPDATEs on that SKU's stock row from as many connections.
Closed loop, so their latency is clients ÷ throughput (Little's law), whatever the sale's size.

The rush (`load_rush`, `run_rush`): what a shopper lives through. A fresh item of RUSH_UNITS units
(one per member), and RUSH_BUYERS members who each send ONE order at the same moment (released
together by a barrier, as in bench/group_buy.py): RUSH_UNITS of them get a 201, the others a 409
flash_sold_out. Reported: the burst's duration, p50 and p99 over every buyer, p99 of the winners
and of the losers apart, and how many reached PostgreSQL's write transaction (order numbers
drawn); beside the same crowd's burst of `GET /bench/ping` just before (read speed, now).
Checked: units sold = reservations = RUSH_UNITS, activity stock left 0, product stock down by
exactly RUSH_UNITS, and with the Redis gate its count of units left at 0.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bench.group_buy import Burst, burst
from bench.load import Target

FLASH_STOCK = 1_000_000_000
PER_MEMBER_LIMIT = 30_000  # a bench client places at most a few hundred orders
RUSH_UNITS = 20
RUSH_BUYERS = 200
RUSH_PRODUCT_STOCK = 1_000  # the SKU's own stock: far more than the sale, so only the activity stock runs out
RUSH_TARGET_P99_MS = 1000.0


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


def _crowd(count: int, *, kind: str = "flash") -> tuple[str, ...]:
    from django.utils import timezone

    from members.models import Address, Member
    from members.services.identity import _token_issue

    members = Member.objects.bulk_create(Member(openid=f"o-bench-{kind}-{i:05d}", nickname=f"抢购{i}")
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


@dataclass(frozen=True)
class RushData:
    name: str  # what tells the runs apart: "postgresql", "redis-gate"
    sku_id: int
    item_id: int
    tokens: tuple[str, ...]


def load_rush(*, product_id: int, name: str, buyers: int = RUSH_BUYERS) -> RushData:
    """A session running now with one fresh item of RUSH_UNITS units, one per member, on a fresh
    SKU of `product_id` holding RUSH_PRODUCT_STOCK; and `buyers` new members, each with a token."""
    from django.utils import timezone

    from campaigns.models import FlashItem, FlashSession
    from catalog.models import Sku, Stock, StockMovement

    sku = Sku.objects.create(product_id=product_id, code=f"BENCH-RUSH-{name}", specs={"规格": f"限量 {name}"},
                             price_fen=19900, original_price_fen=29900, cost_fen=5000)
    Stock.objects.create(sku=sku, available=RUSH_PRODUCT_STOCK)
    StockMovement.objects.create(sku=sku, delta=RUSH_PRODUCT_STOCK, reason=StockMovement.Reason.INITIAL)
    now = timezone.now()
    session = FlashSession.objects.create(name=f"bench 限量抢购 {name}", starts_at=now - dt.timedelta(minutes=1),
                                          ends_at=now + dt.timedelta(hours=6))
    item = FlashItem.objects.create(session=session, sku=sku, flash_price_fen=9900, stock_total=RUSH_UNITS,
                                    stock_left=RUSH_UNITS, per_member_limit=1)
    return RushData(name=name, sku_id=sku.pk, item_id=item.pk, tokens=_crowd(buyers, kind=f"rush-{name}"))


def run_rush(data: RushData, *, port: int) -> tuple[Burst, Burst, int]:
    """As many `GET /bench/ping` at once as there are buyers (the baseline: what answering a crowd
    at read speed takes on this server now), then every buyer sends one order for the item at the
    same moment. Returns both bursts and how many of the orders reached the write transaction
    (order numbers drawn meanwhile: the server does nothing else during the burst)."""
    pings = burst("GET /bench/ping", port, [("/bench/ping", b"", {}) for _ in data.tokens], method="GET")
    body = json.dumps({"items": [{"sku_id": data.sku_id, "quantity": 1, "flash_item_id": data.item_id}]}).encode()
    requests = [("/api/v1/orders/", body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                                           "Idempotency-Key": f"bench-rush-{data.name}-{i}"})
                for i, token in enumerate(data.tokens)]
    drawn_before = _order_numbers_drawn()
    result = burst(f"POST /api/v1/orders/ (flash rush, {data.name})", port, requests)
    return result, pings, _order_numbers_drawn() - drawn_before


def _order_numbers_drawn() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM shop_order_no_seq")
        value, called = cursor.fetchone()
    return int(value if called else value - 1)


def rush_block(data: RushData, result: Burst, pings: Burst, *, reached_writes: int,
               gate_url: str = "") -> dict[str, Any]:
    """The rush's figures for the report, beside its ping burst's, with its consistency check (and,
    with `gate_url`, the Redis gate's own count of units left)."""
    from campaigns.models import FlashItem, FlashPurchase, FlashReservation
    from catalog.models import Stock
    from shop.models import Order

    sold_out = sum(1 for status, body in zip(result.statuses, result.bodies, strict=True)
                   if status == 409 and _code(body) == "flash_sold_out")
    placed = result.ok(201)
    item = FlashItem.objects.get(pk=data.item_id)
    sold = item.stock_total - item.stock_left
    reserved = sum(FlashReservation.objects.filter(item_id=data.item_id).values_list("quantity", flat=True))
    held = sum(FlashPurchase.objects.filter(item_id=data.item_id).values_list("quantity", flat=True))
    orders = Order.objects.filter(lines__sku_id=data.sku_id).count()
    product_taken = RUSH_PRODUCT_STOCK - Stock.objects.get(sku_id=data.sku_id).available
    gate_left = _gate_left(gate_url, data.item_id) if gate_url else None
    summary = (f"{sold} units sold, {reserved} reserved, {held} held by members, {orders} orders; activity stock "
               f"left {item.stock_left}; product stock -{product_taken}"
               + (f"; the gate's units left {gate_left}" if gate_url else ""))
    ok = (placed == sold == reserved == held == orders == product_taken == RUSH_UNITS and item.stock_left == 0
          and sold_out == len(result.statuses) - RUSH_UNITS and (not gate_url or gate_left == 0))
    others = [f"{s}: {b[:160].decode(errors='replace')}" for s, b in zip(result.statuses, result.bodies, strict=True)
              if s != 201 and not (s == 409 and _code(b) == "flash_sold_out")]
    p99, ping_p99 = result.percentile(99), pings.percentile(99)
    return {
        "mode": data.name, "buyers": result.clients, "units": RUSH_UNITS, "seconds": result.seconds,
        "per_s": result.clients / result.seconds if result.seconds else 0.0,
        "p50_ms": result.percentile(50), "p99_ms": p99,
        "winners_p50_ms": result.percentile(50, status=201), "winners_p99_ms": result.percentile(99, status=201),
        "losers_p50_ms": result.percentile(50, status=409), "losers_p99_ms": result.percentile(99, status=409),
        "placed": placed, "sold_out": sold_out, "other_answers": len(result.statuses) - placed - sold_out,
        "other_samples": others[:3], "reached_writes": reached_writes,
        "target_p99_ms": RUSH_TARGET_P99_MS, "ratio_to_target": p99 / RUSH_TARGET_P99_MS,
        "ping_seconds": pings.seconds, "ping_p99_ms": ping_p99, "ping_errors": pings.clients - pings.ok(200),
        "losers_p99_to_ping_p99": result.percentile(99, status=409) / ping_p99 if ping_p99 else 0.0,
        "consistency": ("ok: " if ok else "MISMATCH: ") + f"{placed}×201, {sold_out}×409 flash_sold_out; " + summary,
    }


def _code(body: bytes) -> str:
    try:
        return str(json.loads(body).get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _gate_left(url: str, item_id: int) -> int | None:
    import redis

    from campaigns.services.flash_gate import _keys

    client = redis.Redis.from_url(url)
    try:
        left = client.get(_keys(item_id)[0])
    finally:
        client.close()
    return None if left is None else int(left)
