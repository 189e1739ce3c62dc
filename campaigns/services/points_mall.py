"""The points mall (积分商城): exchange points for a coupon or a gift; ship a gift.

    exchange, replayed = points_mall_exchange(member=…, item_id=…, idempotency_key="…", address_id=None)

An exchange is all or nothing in one transaction: the member's per-item counter (conditional
UPDATE under the limit), the item's stock (conditional UPDATE, stock_left >= 1, CheckConstraint
≥ 0), the points (members' points_spend: a 积分兑换 ledger row, oldest lots first, never below
zero) and, for a coupon item, the coupon (coupon_grant, source 积分兑换, the template's own
limits). Any refusal rolls every part back.

Locks, in the global lock order (docs/architecture.md, "Lock order"): the campaign rows first —
the member's counter row, the item row, then for a coupon item the coupon template's counter and
row (coupon_grant) — then the member row and their lots (points_spend).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.errors import PointsMallItemNotFound, PointsMallLimitReached, PointsMallNotAvailable, PointsMallSoldOut
from campaigns.models import (
    CouponSource,
    PointsExchange,
    PointsExchangeStatus,
    PointsMallItem,
    PointsMallItemKind,
    PointsMallQuota,
)
from campaigns.services.coupons import coupon_grant
from core.errors import Conflict, NotFound, ValidationFailed
from core.idempotency import idempotent_replay
from core.privacy import mask_name, mask_phone
from core.tracking import track
from members import selectors as member_selectors
from members.errors import PointsInsufficient
from members.models import Address, Member, PointsKind
from members.services.points import points_spend

NOT_AVAILABLE = {
    "inactive": "该商品已下架",
    "not_started": "兑换尚未开始",
    "ended": "兑换已结束",
}


def points_mall_unavailable(*, item: PointsMallItem, now: dt.datetime) -> str | None:
    """Why `item` cannot be exchanged now (inactive, not_started, ended), or None."""
    if not item.is_active:
        return "inactive"
    if item.starts_at and now < item.starts_at:
        return "not_started"
    if item.ends_at and now >= item.ends_at:
        return "ended"
    return None


def points_mall_exchange(*, member: Member, item_id: int, idempotency_key: str | None = None,
                         address_id: int | None = None,
                         now: dt.datetime | None = None) -> tuple[PointsExchange, bool]:
    """Exchange `member`'s points for one unit of an item. Returns (exchange, replayed).

    Refusals change nothing: 404 points_mall_item_not_found; 409 points_mall_not_available,
    points_mall_sold_out, points_mall_limit_reached, points_insufficient; a coupon the template
    refuses (its own limits, stock, budget) with the coupon error. A gift needs an address: the
    one given (the member's own, else 404 address_not_found) or the default one (else 400
    address_required); it is copied onto the exchange.

    Idempotent per (member, idempotency_key): the same key and item replays the first exchange
    (also when the twin ran concurrently); the same key for another item is a 409. Outermost
    transaction (durable).
    """
    now = now or timezone.now()
    fingerprint = hashlib.sha256(f"{item_id}:{address_id or ''}".encode()).hexdigest()
    mine = PointsExchange.objects.filter(member=member)
    replay = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
    if replay is not None:
        return replay, True
    item = PointsMallItem.objects.select_related("coupon_template").filter(pk=item_id).first()
    if item is None:
        raise PointsMallItemNotFound(detail={"item_id": item_id})
    reason = points_mall_unavailable(item=item, now=now)
    if reason:
        raise PointsMallNotAvailable(NOT_AVAILABLE[reason], detail={"reason": reason})
    address = _gift_address(member, address_id) if item.kind == PointsMallItemKind.GIFT else None
    try:
        with transaction.atomic(durable=True):
            _quota_take(item=item, member_id=member.pk)
            _stock_take(item)
            exchange = PointsExchange.objects.create(
                member=member, item=item, item_name=item.name, points=item.points_price,
                status=(PointsExchangeStatus.COMPLETED if item.kind == PointsMallItemKind.COUPON
                        else PointsExchangeStatus.AWAITING_SHIPMENT),
                idempotency_key=idempotency_key, request_hash=fingerprint if idempotency_key else "",
                **_address_fields(address))
            if item.kind == PointsMallItemKind.COUPON:
                assert item.coupon_template is not None  # a CheckConstraint guarantees it
                exchange.coupon = coupon_grant(template=item.coupon_template, member=member,
                                               source=CouponSource.POINTS, issue_key=f"points_mall:{exchange.pk}",
                                               now=now, check_window=False).coupon
            # The member row and their lots after every campaign row (the global lock order).
            exchange.points_entry = points_spend(member_id=member.pk, points=item.points_price,
                                                 kind=PointsKind.EXCHANGE, reference=f"mall:{exchange.pk}", now=now)
            exchange.save(update_fields=["points_entry", "coupon"])
    except (IntegrityError, PointsMallLimitReached, PointsMallSoldOut, PointsInsufficient):
        # A concurrent twin with the same key may have committed first: it made our insert fail,
        # or took the limit / stock / points we were waiting for. The retry gets its exchange.
        replay = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return replay, True
        raise
    track("points_exchanged", member_id=member.pk,
          properties={"item_id": item.pk, "kind": item.kind, "points": item.points_price})
    return exchange, False


def points_exchange_ship(*, exchange_id: int, tracking_no: str, operator: AbstractBaseUser | None = None,
                         now: dt.datetime | None = None) -> PointsExchange:
    """Mark a gift exchange shipped with its tracking number. Shipping one already shipped with the
    same number is a no-op; anything else not awaiting shipment is a 409. Locks the exchange."""
    tracking_no = (tracking_no or "").strip()
    if not tracking_no or len(tracking_no) > 64:
        raise ValidationFailed("请填写物流单号（最多 64 个字符）", code="invalid_tracking_no")
    with transaction.atomic(durable=True):
        exchange = PointsExchange.objects.select_for_update().filter(pk=exchange_id).first()
        if exchange is None:
            raise NotFound("兑换记录不存在", code="points_exchange_not_found")
        if exchange.status == PointsExchangeStatus.SHIPPED and exchange.tracking_no == tracking_no:
            return exchange
        if exchange.status != PointsExchangeStatus.AWAITING_SHIPMENT:
            raise Conflict("该兑换记录不是待发货状态", code="points_exchange_not_shippable",
                           detail={"status": exchange.status})
        exchange.status = PointsExchangeStatus.SHIPPED
        exchange.tracking_no = tracking_no
        exchange.shipped_at = now or timezone.now()
        exchange.save(update_fields=["status", "tracking_no", "shipped_at"])
    return exchange


@dataclass(frozen=True)
class PointsMallItemInput:
    """An item as the console submits it. `item_id` None creates a new item."""

    name: str
    kind: str
    points_price: int
    stock_total: int
    coupon_template_id: int | None = None
    per_member_limit: int | None = 1
    image_url: str = ""
    description: str = ""
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    is_active: bool = True
    sort: int = 0
    item_id: int | None = None


def points_mall_item_save(*, data: PointsMallItemInput) -> PointsMallItem:
    """Create or update an item. A new item starts with stock_left = stock_total; a changed
    stock_total moves stock_left by the difference in one conditional UPDATE (WHERE stock_left >=
    stock_total - new total), so it never drops below what was exchanged — otherwise 400
    points_mall_stock_below_exchanged and nothing changes. Runs in the caller's transaction (the
    admin's change form holds one) or its own; no row lock (the WHERE clause is the guard).
    """
    if data.kind not in PointsMallItemKind.values:
        raise ValidationFailed("未知的商品类型", code="invalid_points_mall_kind")
    if (data.kind == PointsMallItemKind.COUPON) != (data.coupon_template_id is not None):
        raise ValidationFailed("优惠券商品须选择优惠券，实物礼品不能选择优惠券", code="invalid_points_mall_coupon")
    if data.points_price <= 0 or data.stock_total < 0 or (data.per_member_limit is not None
                                                          and data.per_member_limit < 1):
        raise ValidationFailed("所需积分须大于 0，库存不能为负数，每人限兑至少 1 件", code="invalid_points_mall_item")
    if data.starts_at and data.ends_at and data.starts_at >= data.ends_at:
        raise ValidationFailed("结束时间须晚于开始时间", code="invalid_points_mall_window")
    fields = {"name": data.name, "kind": data.kind, "coupon_template_id": data.coupon_template_id,
              "image_url": data.image_url, "description": data.description, "points_price": data.points_price,
              "per_member_limit": data.per_member_limit, "starts_at": data.starts_at, "ends_at": data.ends_at,
              "is_active": data.is_active, "sort": data.sort}
    with transaction.atomic():
        if data.item_id is None:
            return PointsMallItem.objects.create(stock_total=data.stock_total, stock_left=data.stock_total, **fields)
        updated = PointsMallItem.objects.filter(pk=data.item_id,
                                                stock_left__gte=F("stock_total") - data.stock_total).update(
            stock_left=F("stock_left") + data.stock_total - F("stock_total"), stock_total=data.stock_total, **fields)
        current = PointsMallItem.objects.filter(pk=data.item_id).first()
        if current is None:
            raise PointsMallItemNotFound(detail={"item_id": data.item_id})
        if not updated:
            taken = current.stock_total - current.stock_left
            raise ValidationFailed(f"总库存不能少于已兑换的 {taken} 件（填写的是 {data.stock_total} 件）",
                                   code="points_mall_stock_below_exchanged",
                                   detail={"taken": taken, "stock_total": data.stock_total})
        return current


def _gift_address(member: Member, address_id: int | None) -> Address:
    if address_id is not None:
        return member_selectors.address_get_for_member(member=member, address_id=address_id)
    address = member_selectors.address_default_for_member(member=member)
    if address is None:
        raise ValidationFailed("请先填写收货地址", code="address_required")
    return address


def _address_fields(address: Address | None) -> dict[str, str]:
    if address is None:
        return {}
    text = f"{address.province}{address.city}{address.district}{address.detail}"
    return {"receiver_name": address.receiver_name, "receiver_phone": address.phone, "address": text[:300]}


def _quota_take(*, item: PointsMallItem, member_id: int) -> None:
    PointsMallQuota.objects.bulk_create([PointsMallQuota(item=item, member_id=member_id)], ignore_conflicts=True)
    rows = PointsMallQuota.objects.filter(item=item, member_id=member_id)
    if item.per_member_limit is not None:
        rows = rows.filter(exchanged__lt=item.per_member_limit)
    if not rows.update(exchanged=F("exchanged") + 1):
        raise PointsMallLimitReached(detail={"per_member_limit": item.per_member_limit})


def _stock_take(item: PointsMallItem) -> None:
    if not PointsMallItem.objects.filter(Q(pk=item.pk) & Q(stock_left__gte=1)).update(stock_left=F("stock_left") - 1):
        raise PointsMallSoldOut()


def points_exchanges_forget_member(*, member_id: int) -> int:
    """A deleted member's points-mall gifts: receiver masked (张** / 139****1111), address erased.

    Gifts waiting to ship hold a deletion up (`points_exchange_deletion_blockers`), so every
    exchange here has left. Idempotent. A member-deleted hook (settings.MEMBER_DELETED_HOOKS), after
    the deletion committed. Outermost transaction; locks the member's exchanges by id. Returns the
    number of exchanges masked.
    """
    with transaction.atomic(durable=True):
        exchanges = list(PointsExchange.objects.select_for_update().filter(member_id=member_id)
                         .exclude(address="").order_by("id"))
        for exchange in exchanges:
            exchange.receiver_name = mask_name(exchange.receiver_name)
            exchange.receiver_phone = mask_phone(exchange.receiver_phone)
            exchange.address = ""
        PointsExchange.objects.bulk_update(exchanges, ["receiver_name", "receiver_phone", "address"])
    return len(exchanges)
