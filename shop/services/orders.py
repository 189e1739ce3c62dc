"""Order use cases: place, cancel, ship, confirm receipt, remark.

Status changes only through `shop.models.orders.ORDER_MACHINE.transition()`: it locks the order
row, checks the table (ORDER_TRANSITIONS), treats a repeat as a no-op, saves with update_fields
and writes the audit row (OrderEvent), all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.errors import FlashLimitExceeded, FlashSoldOut
from campaigns.selectors.flash import FlashOffer, flash_offers
from campaigns.services.bargain import BargainWant
from campaigns.services.checkout import CouponUse, campaign_release, campaign_reserve
from campaigns.services.commissions import commission_freeze_for_order
from campaigns.services.flash import FlashWant, flash_precheck
from campaigns.services.flash_gate import flash_gate_admit
from campaigns.services.groupbuy import GroupBuyWant, groupbuy_item_running, groupbuy_join_check
from catalog.models import Product
from catalog.services import stock_quantities, stock_release, stock_reserve
from core.audit import Actor
from core.compiled import CompiledQuery
from core.db import attach_prefetched
from core.errors import ValidationFailed
from core.idempotency import idempotent_replay
from core.tracking import track
from members.models import Address, Member, PointsKind
from members.pricing import BuyerFacts, member_checkout_facts
from members.services.growth import member_may_buy_early, tier_may_buy_early
from members.services.points import points_refund_spent, points_spend
from shop.errors import (
    AddressRequired,
    EarlyAccessOnly,
    EmptyOrder,
    OrderNotFound,
    PriceChanged,
)
from shop.models import CartItem, Order, OrderLine, OrderLineAdjustment, OrderStatus
from shop.models.orders import ORDER_MACHINE, OrderAction
from shop.pricing import CartLine, PricingContext, PricingRun, Quote, check_points_to_use, member_facts_of, quote
from shop.selectors import cart_snapshot_lines
from shop.services.shipping import PackageInput, shipment_create

# order_cancel() gives back what an unpaid order holds; a paid order is refunded through an after-sale.
CANCELLABLE = frozenset({OrderStatus.PENDING_PAYMENT})


@dataclass(frozen=True)
class LineInput:
    sku_id: int
    quantity: int
    flash_item_id: int | None = None  # buy at this flash-sale item's price
    bargain_launch_id: int | None = None  # buy at this bargain launch's price (one unit)


@dataclass(frozen=True)
class GroupChoice:
    """A group-buy order: the item bought, the group joined (None: open a new group), and the
    mini-program's device id (the per-device join cap; not part of the order's fingerprint)."""

    item_id: int
    group_id: int | None = None
    device_id: str = ""


@dataclass(frozen=True)
class CheckoutInput:
    """What preview and placement both take, so they price the very same thing."""

    items: tuple[LineInput, ...]  # empty: the member's selected cart lines
    address_id: int | None = None
    remark: str = ""
    expected_payable_fen: int | None = None
    coupon_ids: tuple[int, ...] | None = None  # None: the best coupons are picked; (): none
    points: int = 0  # points to spend (积分抵扣); 0: none
    group: GroupChoice | None = None  # open or join a group (拼团): its one item at the group price

    def fingerprint(self) -> str:
        # Inputs without a flash item or a coupon choice hash as they always did.
        items = sorted(_line_key(i) for i in self.items)
        body: dict[str, Any] = {"items": items, "address_id": self.address_id, "remark": self.remark,
                                "expected_payable_fen": self.expected_payable_fen}
        if self.coupon_ids is not None:
            body["coupon_ids"] = sorted(set(self.coupon_ids))
        if self.points:
            body["points"] = self.points
        if self.group is not None:
            body["group"] = [self.group.item_id, self.group.group_id]
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _line_key(item: LineInput) -> tuple[int, ...]:
    if item.bargain_launch_id is not None:
        return (item.sku_id, item.quantity, item.flash_item_id or 0, item.bargain_launch_id)
    if item.flash_item_id is not None:
        return (item.sku_id, item.quantity, item.flash_item_id)
    return (item.sku_id, item.quantity)


@dataclass
class Checkout:
    quote: Quote
    address: Address | None
    from_cart: bool
    run: PricingRun | None = None  # the clock and the offers the quote was priced with


def checkout_price(*, member: Member, data: CheckoutInput, now: dt.datetime | None = None,
                   flash_offers: Mapping[int, FlashOffer] | None = None) -> Checkout:
    """Price a checkout for `member`: the one function behind preview and placement.

    Refuses (403 early_access_only) a product in its early-access window the member's tier may
    not buy yet; points_to_use is checked by the points stage (shop.pricing). Reads the SKUs
    (with their products' early-access windows) in one query and everything about the buyer
    (tier, card, stacking settings, points balance, address) in another
    (members.pricing.member_checkout_facts); the stages add only the campaign offers and freight.
    A caller that has read the flash offers at `now` already passes them (not read twice)."""
    check_points_to_use(data.points)
    from_cart = not data.items
    if from_cart:
        pairs = list(CartItem.objects.filter(member=member, selected=True).values_list("sku_id", "quantity"))
    else:
        pairs = [(i.sku_id, i.quantity) for i in data.items]
    quantities = stock_quantities(pairs)
    if not quantities:
        raise EmptyOrder()
    lines = cart_snapshot_lines(quantities=quantities, flash_items=_flash_items(data.items),
                                bargain_launches=_bargain_launches(data.items))
    now = now or timezone.now()
    if data.group is not None:
        lines = _group_lines(lines, member_id=member.pk, choice=data.group, now=now)
    buyer = member_checkout_facts(member_id=member.pk, at=now, address_id=data.address_id)
    _early_access_refuse(lines=lines, buyer=buyer, now=now)
    address = buyer.address if buyer else None
    if data.address_id is not None and address is None:
        raise AddressRequired("收货地址不存在", code="address_not_found")
    ctx = PricingContext(member_id=member.pk, province=address.province if address else "",
                         coupon_ids=None if data.coupon_ids is None else tuple(sorted(set(data.coupon_ids))),
                         points_to_use=data.points)
    run = PricingRun(now=now, member=member_facts_of(buyer) if buyer else None, flash_offers=flash_offers)
    return Checkout(quote=quote(lines, ctx, run=run), address=address, from_cart=from_cart, run=run)


def _early_access_refuse(*, lines: list[CartLine], buyer: BuyerFacts | None, now: dt.datetime) -> None:
    """early_access_check() on what checkout has already read: the lines' windows and the tier."""
    open_windows = sorted({(line.product_id, line.early_access_until, line.early_access_min_tier_level)
                           for line in lines if line.early_access_until and line.early_access_until > now})
    for product_id, until, level in open_windows:
        allowed = buyer is not None and tier_may_buy_early(
            tier_level=buyer.tier_level, tier_early_access=buyer.tier_early_access, required_tier_level=level)
        if not allowed:
            raise _early_access_only(product_id=product_id, until=until, level=level)


def early_access_check(*, member_id: int, product_ids: set[int], now: dt.datetime) -> None:
    """EarlyAccessOnly (403) when one of the products is in its early-access window (now <
    early_access_until) and members.services.growth.member_may_buy_early says this member may
    not buy it yet. One query for the products; the member's tier only when a window is open."""
    windows = list(Product.objects.filter(pk__in=product_ids, early_access_until__gt=now)
                   .values_list("pk", "early_access_until", "early_access_min_tier_level"))
    for product_id, until, level in sorted(windows):
        if until is not None and not member_may_buy_early(member_id=member_id, required_tier_level=level):
            raise _early_access_only(product_id=product_id, until=until, level=level)


def _early_access_only(*, product_id: int, until: dt.datetime, level: int | None) -> EarlyAccessOnly:
    return EarlyAccessOnly(detail={"product_id": product_id,
                                   "early_access_until": timezone.localtime(until).isoformat(),
                                   "min_tier_level": level})


def _flash_items(items: tuple[LineInput, ...]) -> dict[int, int]:
    """sku_id -> flash item id. A SKU is bought at one price per order: all its lines through the
    same flash item, or none."""
    chosen: dict[int, int | None] = {}
    for item in items:
        if chosen.setdefault(item.sku_id, item.flash_item_id) != item.flash_item_id:
            raise ValidationFailed("同一商品不能同时以秒杀价和其他价格购买", code="flash_item_conflict",
                                   detail={"sku_id": item.sku_id})
    return {sku_id: item_id for sku_id, item_id in chosen.items() if item_id is not None}


def _group_lines(lines: list[CartLine], *, member_id: int, choice: GroupChoice, now: dt.datetime) -> list[CartLine]:
    """A group-buy order holds its item's SKU alone, at the group price: the join rules first
    (campaigns.services.groupbuy.groupbuy_join_check: the member is not blocked; the group is
    forming, has a seat, is not the member's own; 老带新), then the line is marked for the pricing
    pipeline's group stage."""
    groupbuy_join_check(member_id=member_id, item_id=choice.item_id, group_id=choice.group_id, now=now)
    sku_id = groupbuy_item_running(item_id=choice.item_id, now=now).sku_id
    if len(lines) != 1 or lines[0].sku_id != sku_id or lines[0].flash_item_id is not None:
        raise ValidationFailed("拼团订单只能包含该拼团商品", code="group_buy_line_mismatch",
                               detail={"group_item_id": choice.item_id})
    return [replace(lines[0], group_item_id=choice.item_id, group_leader=choice.group_id is None)]


def _bargain_launches(items: tuple[LineInput, ...]) -> dict[int, int]:
    """sku_id -> bargain launch id. A SKU is bought at one price per order: a bargain line is the
    SKU's only line, and not a flash line too."""
    chosen: dict[int, int] = {}
    for item in items:
        if item.bargain_launch_id is None:
            continue
        others = [i for i in items if i.sku_id == item.sku_id and i is not item]
        if item.flash_item_id is not None or others:
            raise ValidationFailed("同一商品不能同时以砍价价和其他价格购买", code="bargain_line_invalid",
                                   detail={"sku_id": item.sku_id})
        chosen[item.sku_id] = item.bargain_launch_id
    return chosen


def order_place(*, member: Member, data: CheckoutInput,
                idempotency_key: str | None = None) -> tuple[Order, bool]:
    """Create an unpaid order exactly as checkout_price() prices it, lock its coupons and take its
    flash-sale and product stock, and spend the points it uses. Returns (order, replayed).

    Idempotent on (member, idempotency_key): a replay with the same input returns the first
    order; the same key with a different input raises IdempotencyKeyReused. One durable
    transaction: the order row is inserted first (a concurrent replay blocks on the unique key),
    then campaigns.services.checkout.campaign_reserve() locks the coupons (a coupon taken by
    another order meanwhile: 409 coupon_unavailable) and takes flash allowance and stock (a
    flash order's unpaid timeout is its session's, 15 minutes by default; a group-buy order takes
    its activity stock and a pending seat, with the activity's timeout); then the points are
    spent (members.services.points.points_spend, reference = order_no: a conditional UPDATE of
    the balance, so of two orders spending the same points one gets 409 points_insufficient and
    rolls back whole — order, coupons, flash and product stock); product stock is taken last,
    SKUs locked in id order, one conditional UPDATE with its movement
    (catalog.services.stock_reserve), so hot rows are locked only until the commit; any refusal
    rolls everything back. A flash line the read already shows sold out, or over the member's
    limit, is refused before anything is written (campaigns.services.flash.flash_precheck); the
    conditional UPDATEs still decide. No network I/O: prepay happens in payment_prepay() after
    this commits.

    A new order comes back with its lines, their adjustments and its (no) shipments attached as
    written, so the caller renders it without reading it back; a replay comes back bare.
    """
    fingerprint = data.fingerprint()
    mine = Order.objects.filter(member=member)
    # A fresh key (nearly always) costs one compiled lookup; a seen one is read and checked in full.
    if idempotency_key and _KEY_SEEN.rows(member_id=member.pk, key=idempotency_key):
        existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return existing, True
    now = timezone.now()
    checkout = checkout_price(member=member, data=data, now=now,
                              flash_offers=_flash_offers_checked(member=member, data=data, now=now))
    q = checkout.quote
    if checkout.address is None:
        raise AddressRequired()
    if data.expected_payable_fen is not None and data.expected_payable_fen != q.payable_fen:
        raise PriceChanged(detail={"payable_fen": q.payable_fen})
    flash = _flash_wants(q)
    # The offers pricing read (campaigns' FlashOffer rows, typed by pricing as a protocol).
    offers = ({k: v for k, v in checkout.run.flash_offers.items() if isinstance(v, FlashOffer)}
              if checkout.run and checkout.run.flash_offers is not None else None)
    ticket = None
    if flash and offers is not None:
        # A rush's losers are answered here, before any write: from the read, then the gate.
        flash_precheck(member_id=member.pk, wants=flash, offers=offers)
        ticket = flash_gate_admit(member_id=member.pk, wants=[(w.item_id, w.quantity) for w in flash],
                                  offers=offers)
    try:
        order = _place(member=member, data=data, checkout=checkout, flash=flash, offers=offers,
                       idempotency_key=idempotency_key, fingerprint=fingerprint)
    except IntegrityError:
        if ticket:
            ticket.give_back()
        # A concurrent request with the same key committed first.
        existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, True
    except (FlashSoldOut, FlashLimitExceeded):
        if ticket:
            ticket.forget()
        raise
    except BaseException:
        if ticket:
            ticket.give_back()
        raise
    return order, False


def _flash_offers_checked(*, member: Member, data: CheckoutInput, now: dt.datetime) -> dict[int, FlashOffer] | None:
    """A flash order's offers, read before anything else of the checkout, so that a rush's losers
    (the item sold out, the member at the limit: flash_precheck) are answered after one read
    rather than after pricing; None for an order without flash lines. Pricing reuses the offers."""
    wants = [FlashWant(item_id=i.flash_item_id, quantity=i.quantity, list_price_fen=0)
             for i in data.items if i.flash_item_id is not None]
    if not wants:
        return None
    offers = flash_offers(item_ids=sorted({w.item_id for w in wants}), now=now, member_id=member.pk)
    flash_precheck(member_id=member.pk, wants=wants, offers=offers)
    return offers


def _key_seen_query(*, member_id: int, key: str) -> QuerySet[Any, Any]:
    return Order.objects.filter(member_id=member_id, idempotency_key=key).order_by().values_list("pk")


_KEY_SEEN = CompiledQuery(_key_seen_query)


def _place(*, member: Member, data: CheckoutInput, checkout: Checkout, flash: list[FlashWant],
           offers: Mapping[int, FlashOffer] | None, idempotency_key: str | None, fingerprint: str) -> Order:
    """order_place()'s transaction; the order comes back with its lines attached as written."""
    q = checkout.quote
    now = timezone.now()
    # A flash order waits as long as its session says (15 min by default), known from the offers.
    timeouts = [offers[w.item_id].unpaid_timeout_minutes for w in flash if offers and w.item_id in offers]
    timeout_minutes = min(timeouts, default=settings.ORDER_UNPAID_TIMEOUT_MINUTES)
    with transaction.atomic(durable=True):
        order = _order_new(member=member, checkout=checkout, data=data,
                           expires_at=now + dt.timedelta(minutes=timeout_minutes),
                           idempotency_key=idempotency_key, fingerprint=fingerprint)
        lines = _order_and_lines_insert(order=order, quote=q)
        ORDER_MACHINE.record(order, action=OrderAction.PLACED, from_status="", actor=Actor.MEMBER,
                             data={"payable_fen": order.payable_fen})
        # Coupons and flash stock before product stock: a lost race on either rolls all back.
        timeout = campaign_reserve(
            member_id=member.pk, order_id=order.pk, order_no=order.order_no,
            coupons=[CouponUse(v.coupon.coupon_id, v.discount_fen) for v in q.coupons.selected],
            flash=flash, now=now, flash_offers=offers, groupbuy=_group_want(q, data),
            bargains=_bargain_wants(q))
        # An activity order (flash, group-buy, bargain) waits as long as its activity says (15 min
        # by default).
        if timeout is not None and timeout != timeout_minutes:
            order.expires_at = now + dt.timedelta(minutes=timeout)
            Order.objects.filter(pk=order.pk).update(expires_at=order.expires_at)
        if q.points.used:
            # Member row after the coupons, before the stock: the same order as cancel.
            points_spend(member_id=member.pk, points=q.points.used, reference=order.order_no,
                         note=f"订单 {order.order_no} 积分抵扣")
        if checkout.from_cart:
            CartItem.objects.filter(member=member, selected=True,
                                    sku_id__in=[pl.line.sku_id for pl in q.lines]).delete()
        # Last, so a hot SKU's row stays locked only for this statement and the commit.
        stock_reserve(quantities={pl.line.sku_id: pl.line.quantity for pl in q.lines},
                      reference=order.order_no)
        track("order_placed", member_id=member.pk,
              properties={"order_no": order.order_no, "payable_fen": order.payable_fen,
                          "skus": [pl.line.sku_id for pl in q.lines]})
    attach_prefetched(order, "lines", lines)
    attach_prefetched(order, "shipments", [])
    return order


def _flash_wants(q: Quote) -> list[FlashWant]:
    wants = []
    for pl in q.lines:
        if pl.line.flash_item_id is not None:
            wants.append(FlashWant(item_id=pl.line.flash_item_id, quantity=pl.line.quantity,
                                   list_price_fen=pl.line.unit_price_fen))
    return wants


def _group_want(q: Quote, data: CheckoutInput) -> GroupBuyWant | None:
    if data.group is None:
        return None
    line = q.lines[0].line
    return GroupBuyWant(item_id=data.group.item_id, group_id=data.group.group_id, quantity=line.quantity,
                        device_id=data.group.device_id)


def _bargain_wants(q: Quote) -> list[BargainWant]:
    """The launches the order buys, at the unit price the activity stage gave them."""
    return [BargainWant(launch_id=pl.line.bargain_launch_id,
                        price_fen=pl.line.unit_price_fen + sum(a.amount_fen for a in pl.adjustments
                                                               if a.stage == "activity"))
            for pl in q.lines if pl.line.bargain_launch_id is not None]


def _order_new(*, member: Member, checkout: Checkout, data: CheckoutInput, expires_at: dt.datetime,
               idempotency_key: str | None, fingerprint: str) -> Order:
    """The order row to insert (unsaved; its order_no is drawn by the INSERT)."""
    q, address = checkout.quote, checkout.address
    assert address is not None
    return Order(
        order_no="", member=member, idempotency_key=idempotency_key or None,
        request_hash=fingerprint, receiver_name=address.receiver_name, receiver_phone=address.phone,
        province=address.province, city=address.city, district=address.district,
        address_detail=address.detail, goods_total_fen=q.goods_total_fen, discount_fen=q.discount_fen,
        freight_fen=q.freight_fen, freight_discount_fen=q.freight_discount_fen, payable_fen=q.payable_fen,
        points_used=q.points.used, points_fen=q.points.used_fen, buyer_remark=data.remark, applied_coupons=[
            {"id": v.coupon.coupon_id, "name": v.coupon.name, "kind": v.coupon.kind, "discount_fen": v.discount_fen}
            for v in q.coupons.selected],
        expires_at=expires_at,
    )


def _order_and_lines_insert(*, order: Order, quote: Quote) -> list[OrderLine]:
    """Insert `order` (its order_no drawn from shop_order_no_seq: the Shanghai date + 8 digits), its
    lines and their adjustments in ONE statement (_placement_sql), whatever the number of lines.
    Fills in the ids, order_no and created_at; returns the lines, each with its adjustments
    attached."""
    lines = [OrderLine(order=order, sku_id=pl.line.sku_id, product_id_snapshot=pl.line.product_id,
                       product_name=pl.line.product_name, sku_code=pl.line.sku_code, spec_text=pl.line.spec_text,
                       image_url=pl.line.image_url, unit_price_fen=pl.line.unit_price_fen,
                       quantity=pl.line.quantity, goods_total_fen=pl.goods_total_fen,
                       discount_fen=pl.discount_fen, payable_fen=pl.payable_fen)
             for pl in quote.lines]
    per_line = [[OrderLineAdjustment(line=line, stage=a.stage, label=a.label, amount_fen=a.amount_fen,
                                     reference=a.reference) for a in pl.adjustments]
                for line, pl in zip(lines, quote.lines, strict=True)]
    adjustments = [(number, a) for number, group in enumerate(per_line) for a in group]
    params: list[Any] = [f"{timezone.localdate():%Y%m%d}"]
    params += [_db_value(field, order) for field in _ORDER_FIELDS]
    for line in lines:
        params += [_db_value(field, line) for field in _LINE_FIELDS]
    for position, (number, adjustment) in enumerate(adjustments):
        params += [position, number, *(_db_value(field, adjustment) for field in _ADJUSTMENT_FIELDS)]
    with connection.cursor() as cursor:
        cursor.execute(_placement_sql(len(lines), len(adjustments)), params)
        order_id, order_no, line_ids, adjustment_ids = cursor.fetchone()
    order.pk, order.order_no = order_id, order_no
    order._state.adding = False
    for line, line_id in zip(lines, line_ids, strict=True):
        line.pk, line.order_id = line_id, order_id
        line._state.adding = False
    for (number, adjustment), adjustment_id in zip(adjustments, adjustment_ids or [], strict=True):
        adjustment.pk, adjustment.line_id = adjustment_id, lines[number].pk
        adjustment._state.adding = False
    for line, group in zip(lines, per_line, strict=True):
        attach_prefetched(line, "adjustments", group)
    return lines


# The columns placement writes (all but the ids and the foreign keys the statement fills in).
_ORDER_FIELDS = [f for f in Order._meta.concrete_fields if not f.primary_key and f.name != "order_no"]
_LINE_FIELDS = [f for f in OrderLine._meta.concrete_fields if not f.primary_key and f.name != "order"]
_ADJUSTMENT_FIELDS = [f for f in OrderLineAdjustment._meta.concrete_fields if not f.primary_key and f.name != "line"]


def _db_value(field: Any, instance: Any) -> Any:
    """What Django's INSERT would send for the field (its default, auto_now_add, JSON adapted)."""
    return field.get_db_prep_save(field.pre_save(instance, True), connection=connection)


_VARCHAR = re.compile(r"^varchar\(\d+\)$")


@functools.cache
def _placement_sql(line_count: int, adjustment_count: int) -> str:
    """The order, its lines and their adjustments in one statement, for that many lines and
    adjustments (every value bound and cast to its column's type; line ids come back in line
    order, adjustment ids in adjustment order, as the sequence draws them in insertion order)."""
    def placeholders(fields: list[Any]) -> str:
        # varchar(n) as text: the column's own length check still refuses a value too long.
        return ", ".join(f"%s::{_VARCHAR.sub('text', f.db_type(connection))}" for f in fields)

    def columns(fields: list[Any]) -> str:
        return ", ".join(connection.ops.quote_name(f.column) for f in fields)

    order_table, line_table = Order._meta.db_table, OrderLine._meta.db_table
    adjustment_table = OrderLineAdjustment._meta.db_table
    line_values = ", ".join(f"({number}, {placeholders(_LINE_FIELDS)})" for number in range(line_count))
    sql = f"""
        WITH placed AS (
            INSERT INTO {order_table} (order_no, {columns(_ORDER_FIELDS)})
            VALUES (%s || LPAD((nextval('shop_order_no_seq') %% 100000000)::text, 8, '0'),
                    {placeholders(_ORDER_FIELDS)})
            RETURNING id, order_no),
        wanted (number, {columns(_LINE_FIELDS)}) AS (VALUES {line_values}),
        lined AS (
            INSERT INTO {line_table} (order_id, {columns(_LINE_FIELDS)})
            SELECT placed.id, {", ".join(f"wanted.{connection.ops.quote_name(f.column)}" for f in _LINE_FIELDS)}
            FROM placed CROSS JOIN wanted ORDER BY wanted.number
            RETURNING id)"""
    adjusted = "NULL::bigint[]"
    if adjustment_count:
        adjustment_values = ", ".join(f"(%s::integer, %s::integer, {placeholders(_ADJUSTMENT_FIELDS)})"
                                      for _ in range(adjustment_count))
        sql += f""",
        numbered AS (SELECT id, (ROW_NUMBER() OVER (ORDER BY id)) - 1 AS number FROM lined),
        adjustments (position, number, {columns(_ADJUSTMENT_FIELDS)}) AS (VALUES {adjustment_values}),
        adjusted AS (
            INSERT INTO {adjustment_table} (line_id, {columns(_ADJUSTMENT_FIELDS)})
            SELECT numbered.id, {", ".join(f"adjustments.{connection.ops.quote_name(f.column)}"
                                           for f in _ADJUSTMENT_FIELDS)}
            FROM adjustments JOIN numbered ON numbered.number = adjustments.number
            ORDER BY adjustments.position
            RETURNING id)"""
        adjusted = "(SELECT ARRAY_AGG(id ORDER BY id) FROM adjusted)"
    return sql + f"""
        SELECT placed.id, placed.order_no, (SELECT ARRAY_AGG(id ORDER BY id) FROM lined), {adjusted}
        FROM placed"""


def order_get_for_member(*, member: Member, order_no: str) -> Order:
    order = Order.objects.filter(member=member, order_no=order_no).first()
    if order is None:
        raise OrderNotFound()
    return order


def order_cancel(*, order: Order, reason: str, actor: str,
                 operator: AbstractBaseUser | None = None) -> Order:
    """Cancel an unpaid order and give back, exactly once, its coupons (an expired one stays
    expired), its flash-sale stock and allowance, the points it spent (积分退回, kind
    CANCEL_RETURN, refund_reference "cancel:<order_no>") and its stock. Idempotent: the order row
    is locked and only the call that moves it to cancelled gives anything back (and the points
    ledger's unique (kind, reference) would refuse a second return anyway).

    Callers that may race a payment (the auto-cancel job, a shopper or an operator while the pay
    sheet may be open) must first close the WeChat trade: shop.services.payments.order_cancel_unpaid()
    and order_cancel_expired() do.
    """
    with transaction.atomic(durable=True):
        order, changed = ORDER_MACHINE.transition(pk=order.pk, to=OrderStatus.CANCELLED, action=OrderAction.CANCELLED,
                                                  actor=actor, operator=operator, note=reason,
                                                  allowed_from=CANCELLABLE,
                                                  fields={"cancel_reason": reason[:100]})
        if changed:
            # Campaign rows first, product stock last: the same lock order as placement.
            campaign_release(order_id=order.pk, order_no=order.order_no)
            if order.points_used:
                points_refund_spent(member_id=order.member_id, reference=order.order_no, points=order.points_used,
                                    refund_reference=f"cancel:{order.order_no}", kind=PointsKind.CANCEL_RETURN)
            _release_order_stock(order)
            track("order_cancelled", member_id=order.member_id,
                  properties={"order_no": order.order_no, "reason": reason, "actor": actor})
    return order


def _release_order_stock(order: Order) -> None:
    pairs = OrderLine.objects.filter(order=order).values_list("sku_id", "quantity")
    stock_release(quantities=stock_quantities(pairs), reference=order.order_no)


def order_ship(*, order: Order, carrier: str, tracking_no: str,
               operator: AbstractBaseUser | None = None) -> Order:
    """Ship everything the order still has to ship as one package. Repeating it is a no-op.

    `carrier` is a Carrier code or name. Several packages, or chosen lines and quantities:
    shop.services.shipping.shipment_create(), which this calls (same locks, audit, after-commit
    upload and notification).
    """
    if not carrier.strip() or not tracking_no.strip():
        raise ValidationFailed("请填写快递公司和快递单号", code="shipment_incomplete")
    result = shipment_create(order=order, packages=[PackageInput(carrier, tracking_no, None)],
                             operator=operator)
    return result.order


def order_confirm_receipt(*, order: Order, actor: str = Actor.MEMBER) -> Order:
    """The shopper (or the auto-confirm job) confirms a shipped order arrived. Idempotent.

    The order's commissions (分销) are frozen from now until the after-sales window closes
    (campaigns.services.commissions.commission_freeze_for_order; the distributors' rows after
    the order's, the lock order)."""
    with transaction.atomic(durable=True):
        order, changed = ORDER_MACHINE.transition(pk=order.pk, to=OrderStatus.RECEIVED, action=OrderAction.RECEIVED,
                                                  actor=actor, note="自动确认收货" if actor == Actor.SYSTEM else "")
        if changed:
            commission_freeze_for_order(order_ref=order.order_no, received_at=order.received_at or timezone.now())
            track("order_received", member_id=order.member_id,
                  properties={"order_no": order.order_no, "auto": actor == Actor.SYSTEM})
    return order


def order_add_remark(*, order: Order, text: str, operator: AbstractBaseUser | None = None) -> Order:
    """Append an operator remark (kept in the audit trail too)."""
    text = text.strip()
    if not text:
        raise ValidationFailed("备注不能为空", code="remark_empty")
    with transaction.atomic(durable=True):
        locked = Order.objects.select_for_update().get(pk=order.pk)
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        who = getattr(operator, "username", "") or "系统"
        entry = f"[{stamp} {who}] {text}"
        locked.operator_remark = f"{locked.operator_remark}\n{entry}".strip()
        locked.save(update_fields=["operator_remark"])
        ORDER_MACHINE.record(locked, action=OrderAction.REMARK, actor=Actor.OPERATOR, operator=operator, note=text,
                             from_status="", to_status="")
    return locked


def order_confirm_overdue_receipts(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Confirm receipt of orders shipped more than ORDER_AUTO_CONFIRM_DAYS ago. Safe to run twice."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ORDER_AUTO_CONFIRM_DAYS)
    done = 0
    while True:
        ids = list(Order.objects.filter(status=OrderStatus.SHIPPED, shipped_at__lte=cutoff)
                   .order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return done
        for order_id in ids:
            order_confirm_receipt(order=Order(pk=order_id), actor=Actor.SYSTEM)
            done += 1
