"""Shipping use cases: packages (one or several per order), tracking, and the shopper's view of them.

A package is a Shipment with its ShipmentLine rows. Shipping a package counts its units into
OrderLine.shipped_quantity under the order's row lock; the order moves to SHIPPED (through
ORDER_MACHINE, with its audit row) when no line has units left to ship, and until then stays
PAID with an OrderEvent "partially_shipped" per package. What a line still has to ship is
quantity − shipped_quantity − the unshipped units an after-sale claims (pending, approved or
refunded refund-only requests: shop.selectors.order_line_units_withheld), never below
zero. Refunds of units that did ship (returns) do not change what was owed.

After commit: the shopper's notification (shop.notifications) and the WeChat shipping-info
upload (shop.services.shipping_upload) — never inside the transaction. Bulk shipping from a
file: shop.services.shipping_import.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from campaigns.selectors.groupbuy import groupbuy_shipping_hold
from core.audit import Actor
from core.db import require_transaction
from core.errors import Conflict, ValidationFailed
from core.tracking import track
from shop.errors import InvalidTransition, OrderNotFound
from shop.logistics import LogisticsProvider, TrackingUnavailable, get_provider
from shop.models import Carrier, Order, OrderLine, OrderStatus, Shipment, ShipmentLine
from shop.models.orders import ORDER_MACHINE, OrderAction
from shop.notifications import notify_order_shipped
from shop.selectors import order_line_units_withheld
from shop.services.shipping_upload import shipping_upload_schedule

logger = logging.getLogger(__name__)

MAX_PACKAGES_PER_ORDER = 15  # WeChat: a payment splits into at most 15 packages
TRACKING_NO = re.compile(r"[A-Z0-9-]{6,32}")

# What operators type for a carrier besides its code and full name.
CARRIER_ALIASES: dict[str, str] = {
    "顺丰": Carrier.SF, "顺丰快递": Carrier.SF, "顺丰速递": Carrier.SF,
    "中通": Carrier.ZTO, "中通速递": Carrier.ZTO,
    "圆通": Carrier.YTO, "圆通快递": Carrier.YTO,
    "韵达": Carrier.YD, "韵达速递": Carrier.YD,
    "申通": Carrier.STO, "申通速递": Carrier.STO,
    "邮政": Carrier.EMS, "中国邮政": Carrier.EMS, "邮政EMS": Carrier.EMS, "EMS快递": Carrier.EMS,
    "京东": Carrier.JD, "京东快递": Carrier.JD,
    "极兔": Carrier.JTSD, "极兔快递": Carrier.JTSD, "J&T": Carrier.JTSD,
}


# --- errors the console and the import report show ----------------------------------------------


class UnknownCarrier(ValidationFailed):
    code = "unknown_carrier"
    message = "未知的快递公司"


class BadTrackingNo(ValidationFailed):
    code = "bad_tracking_no"
    message = "快递单号应为 6 到 32 位字母、数字或短横线"


class NothingToShip(Conflict):
    code = "nothing_to_ship"
    message = "该订单没有待发货的商品"


class OverShipment(Conflict):
    code = "over_shipment"
    message = "发货数量超过待发数量"


class TrackingNoReused(Conflict):
    code = "tracking_no_reused"
    message = "该快递单号已用于本订单的另一个包裹"


class GroupBuyNotShippable(Conflict):
    """A group-buy order whose group has not succeeded (forming, or failed and being refunded)."""

    code = "group_buy_not_shippable"
    message = "拼团尚未成功，成团后才能发货"


# --- values ------------------------------------------------------------------------------------------


def carrier_resolve(text: str) -> Carrier:
    """A carrier from its code ("SF", "sf"), name ("顺丰速运") or a common short name ("顺丰")."""
    cleaned = re.sub(r"\s+", "", text or "")
    upper = cleaned.upper()
    if upper in Carrier.values:
        return Carrier(upper)
    for carrier in Carrier:
        if cleaned == carrier.label:
            return carrier
    alias = CARRIER_ALIASES.get(cleaned) or CARRIER_ALIASES.get(upper)
    if alias:
        return Carrier(alias)
    raise UnknownCarrier(f"未知的快递公司：{text.strip() or '（空）'}", detail={"carrier": text})


def tracking_no_clean(text: str) -> str:
    """'sf 1234 5678 90' -> 'SF1234567890'; refuses what no carrier prints on a waybill."""
    cleaned = re.sub(r"\s+", "", text or "").upper()
    if not TRACKING_NO.fullmatch(cleaned):
        raise BadTrackingNo(f"快递单号格式不正确：{text.strip() or '（空）'}", detail={"tracking_no": text})
    return cleaned


def units_to_ship(*, order_id: int, lines: Iterable[OrderLine] | None = None) -> dict[int, int]:
    """Units each line of the order still has to ship (see the module docstring), by line id.

    Counts units an after-sale withholds from the moment it is requested, not only once its
    refund succeeds, so nothing being refunded can still be shipped.
    """
    withheld = order_line_units_withheld(order_id=order_id)
    rows = OrderLine.objects.filter(order_id=order_id) if lines is None else lines
    return {line.pk: max(0, line.quantity - line.shipped_quantity - withheld.get(line.pk, 0)) for line in rows}


@dataclass(frozen=True)
class PackageInput:
    """One package as the operator describes it.

    `carrier` is a code or a name; `lines` maps order line id → units in this package, or None
    for every unit still to ship.
    """

    carrier: str
    tracking_no: str
    lines: Mapping[int, int] | None = None


@dataclass
class ShipResult:
    order: Order
    shipments: list[Shipment] = field(default_factory=list)  # every package asked for
    created: list[Shipment] = field(default_factory=list)  # those that were not already there

    @property
    def complete(self) -> bool:
        return self.order.status == OrderStatus.SHIPPED


@dataclass(frozen=True)
class _Package:
    carrier: Carrier
    tracking_no: str
    lines: Mapping[int, int] | None


# --- shipping ----------------------------------------------------------------------------------------


def shipment_create(*, order: Order, packages: Sequence[PackageInput],
                    operator: AbstractBaseUser | None = None, actor: str = Actor.OPERATOR) -> ShipResult:
    """Ship one or more packages of a paid order, all or nothing.

    Each package gets a Shipment and ShipmentLine rows and adds to its lines' shipped_quantity;
    asking for more than a line has left to ship, a line of another order, or a package with
    nothing in it raises a DomainError and changes nothing; so does a group-buy order whose group
    has not succeeded (GroupBuyNotShippable, with the reason). The order becomes SHIPPED when
    nothing is left to ship, else stays PAID with a "partially_shipped" event per package.

    Idempotent per package: one whose carrier and tracking number the order already has, with
    the same lines (or lines=None), is the earlier package again and is not shipped twice; the
    same number with other lines is refused. A fully shipped order asked to ship "everything
    left" (lines=None) again is a no-op.

    One durable transaction; locks the order row, then its lines in id order. Schedules the
    WeChat shipping-info upload and notifies the shopper after commit; no network I/O here.
    """
    wanted = [_Package(carrier_resolve(p.carrier), tracking_no_clean(p.tracking_no),
                       _clean_lines(p.lines)) for p in packages]
    if not wanted:
        raise ValidationFailed("请至少填写一个包裹", code="no_package")
    numbers = [(p.carrier, p.tracking_no) for p in wanted]
    if len(set(numbers)) != len(numbers):
        raise ValidationFailed("同一个快递单号不能用于两个包裹", code="duplicate_tracking_no")
    with transaction.atomic(durable=True):
        locked = Order.objects.select_for_update().get(pk=order.pk)
        lines = {line.pk: line for line in OrderLine.objects.select_for_update().filter(order=locked).order_by("id")}
        existing = _existing_packages(locked)
        result = ShipResult(order=locked)
        new: list[_Package] = []
        for package in wanted:
            replay = _replay_of(package, existing)
            if replay is not None:
                result.shipments.append(replay)
            else:
                new.append(package)
        if not new:
            return result
        if not ORDER_MACHINE.can(locked, OrderStatus.SHIPPED):
            if locked.status in (OrderStatus.SHIPPED, OrderStatus.RECEIVED) and all(p.lines is None for p in new):
                return result  # "ship everything left" on a shipped order: nothing is left
            raise InvalidTransition(
                f"订单当前状态为「{locked.get_status_display()}」，不能发货", detail={"status": locked.status})
        hold = groupbuy_shipping_hold(order_id=locked.pk)
        if hold:
            raise GroupBuyNotShippable(hold, detail={"order_no": locked.order_no})
        if len(existing) + len(new) > MAX_PACKAGES_PER_ORDER:
            raise ValidationFailed(f"一个订单最多分 {MAX_PACKAGES_PER_ORDER} 个包裹发货（微信限制）",
                                   code="too_many_packages")
        remaining = units_to_ship(order_id=locked.pk, lines=lines.values())
        for package in new:
            quantities = _package_quantities(package, remaining, lines)
            shipment = _ship_package(locked, package, quantities, lines, operator)
            for pk, quantity in quantities.items():
                remaining[pk] -= quantity
            result.shipments.append(shipment)
            result.created.append(shipment)
            complete = not any(remaining.values())
            _record(locked, shipment, quantities, complete=complete, operator=operator, actor=actor)
            if complete:
                locked, _ = ORDER_MACHINE.transition(
                    pk=locked.pk, to=OrderStatus.SHIPPED, action=OrderAction.SHIPPED, actor=actor, operator=operator,
                    note=f"{shipment.carrier} {shipment.tracking_no}",
                    data={"shipment_id": shipment.pk, "carrier": shipment.carrier,
                          "carrier_code": shipment.carrier_code, "tracking_no": shipment.tracking_no,
                          "lines": {str(k): v for k, v in quantities.items()}})
                result.order = locked
        shipping_upload_schedule(order_id=locked.pk)
        for shipment in result.created:
            notify_order_shipped(order_id=locked.pk, shipment_id=shipment.pk)
        track("order_package_shipped", member_id=locked.member_id,
              properties={"order_no": locked.order_no, "packages": len(result.created)})
        if result.complete:
            track("order_shipped", member_id=locked.member_id, properties={"order_no": locked.order_no})
    return result


def shipment_settle_order(*, order_id: int, actor: str = Actor.SYSTEM,
                          operator: AbstractBaseUser | None = None, note: str = "") -> bool:
    """Move a paid, partly shipped order to SHIPPED once nothing is left to ship. Returns whether it moved.

    For the after-sales service: refunding the last unshipped units of a partly shipped order
    leaves nothing owed, so the order is shipped. Runs inside the caller's transaction (locks the
    order row); schedules the WeChat upload (now "all delivered") after commit. Idempotent.
    """
    require_transaction("shipment_settle_order")
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != OrderStatus.PAID or not Shipment.objects.filter(order=order).exists():
        return False
    if any(units_to_ship(order_id=order.pk).values()):
        return False
    ORDER_MACHINE.transition(pk=order.pk, to=OrderStatus.SHIPPED, action=OrderAction.SHIPPED, actor=actor,
                             operator=operator, note=note or "未发商品已全部退款", data={"settled": True})
    shipping_upload_schedule(order_id=order.pk)
    return True


def _clean_lines(lines: Mapping[int, int] | None) -> dict[int, int] | None:
    if lines is None:
        return None
    cleaned: dict[int, int] = {}
    for line_id, quantity in lines.items():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ValidationFailed("发货数量必须是非负整数", code="invalid_quantity",
                                   detail={"line_id": line_id})
        if quantity:
            cleaned[int(line_id)] = quantity
    if not cleaned:
        raise ValidationFailed("包裹中没有商品，请填写发货数量", code="empty_package")
    return cleaned


def _existing_packages(order: Order) -> list[tuple[Shipment, dict[int, int]]]:
    shipments = list(Shipment.objects.filter(order=order).prefetch_related("lines").order_by("id"))
    return [(s, {sl.order_line_id: sl.quantity for sl in s.lines.all()}) for s in shipments]


def _replay_of(package: _Package, existing: list[tuple[Shipment, dict[int, int]]]) -> Shipment | None:
    for shipment, lines in existing:
        same_number = shipment.tracking_no == package.tracking_no and (
            shipment.carrier_code in ("", package.carrier.value))
        if not same_number:
            continue
        if package.lines is None or dict(package.lines) == lines:
            return shipment
        raise TrackingNoReused(f"快递单号 {package.tracking_no} 已用于本订单的另一个包裹，内容不同",
                               detail={"tracking_no": package.tracking_no, "shipment_id": shipment.pk})
    return None


def _package_quantities(package: _Package, remaining: dict[int, int],
                        lines: dict[int, OrderLine]) -> dict[int, int]:
    if package.lines is None:
        quantities = {pk: left for pk, left in remaining.items() if left > 0}
        if not quantities:
            raise NothingToShip()
        return quantities
    for pk, quantity in package.lines.items():
        line = lines.get(pk)
        if line is None:
            raise ValidationFailed("包裹中的商品不属于该订单", code="line_not_in_order", detail={"line_id": pk})
        if quantity > remaining[pk]:
            raise OverShipment(
                f"「{line.product_name}」待发 {remaining[pk]} 件，不能再发 {quantity} 件",
                detail={"line_id": pk, "remaining": remaining[pk], "requested": quantity})
    return dict(package.lines)


def _ship_package(order: Order, package: _Package, quantities: dict[int, int], lines: dict[int, OrderLine],
                  operator: AbstractBaseUser | None) -> Shipment:
    shipment = Shipment.objects.create(
        order=order, carrier=package.carrier.label, carrier_code=package.carrier.value,
        tracking_no=package.tracking_no, operator_id=operator.pk if operator is not None else None)
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line_id=pk, quantity=q) for pk, q in sorted(quantities.items()))
    for pk, quantity in sorted(quantities.items()):
        # The counter's limit is in the WHERE clause too (and in a CheckConstraint), not only in
        # the check above: a line's count can never pass what it owes.
        updated = OrderLine.objects.filter(
            pk=pk, shipped_quantity__lte=F("quantity") - quantity,
        ).update(shipped_quantity=F("shipped_quantity") + quantity)
        if updated != 1:
            raise OverShipment(f"「{lines[pk].product_name}」发货数量超过待发数量", detail={"line_id": pk})
        lines[pk].shipped_quantity += quantity
    return shipment


def _record(order: Order, shipment: Shipment, quantities: dict[int, int], *, complete: bool,
            operator: AbstractBaseUser | None, actor: str) -> None:
    if complete:
        return  # the transition to SHIPPED writes this package's audit row
    ORDER_MACHINE.record(
        order, action=OrderAction.PARTIALLY_SHIPPED, actor=actor, operator=operator, from_status="", to_status="",
        note=f"{shipment.carrier} {shipment.tracking_no}（部分发货）",
        data={"shipment_id": shipment.pk, "carrier": shipment.carrier, "carrier_code": shipment.carrier_code,
              "tracking_no": shipment.tracking_no, "lines": {str(k): v for k, v in quantities.items()}})


# --- tracking -----------------------------------------------------------------------------------------


def shipment_refresh_tracking(*, now: dt.datetime | None = None, batch_size: int | None = None, max_batches: int = 20,
                              provider: LogisticsProvider | None = None) -> dict[str, int]:
    """Ask the logistics provider about packages in transit and cache the answer on the Shipment.

    A package is due when it is not delivered, shipped within LOGISTICS_TRACK_DAYS, and not
    asked about in the last LOGISTICS_REFRESH_MINUTES. Each batch is claimed with
    SELECT … FOR UPDATE SKIP LOCKED and stamped (tracked_at) in a short transaction, so two
    workers never ask about the same package and a package the provider cannot answer waits a
    full interval. The provider is called outside any transaction. Safe to run twice.
    """
    now = now or timezone.now()
    provider = provider or get_provider()
    batch_size = batch_size or settings.LOGISTICS_REFRESH_BATCH
    interval = dt.timedelta(minutes=settings.LOGISTICS_REFRESH_MINUTES)
    counts = {"refreshed": 0, "delivered": 0, "unavailable": 0}
    for _ in range(max_batches):
        claimed = _tracking_claim(now=now, interval=interval, batch_size=batch_size)
        for shipment in claimed:
            try:
                answer = provider.query(carrier_code=shipment.carrier_code or _code_of(shipment.carrier),
                                        tracking_no=shipment.tracking_no,
                                        phone_tail=shipment.order.receiver_phone[-4:])
            except TrackingUnavailable as exc:
                logger.warning("tracking %s %s unavailable: %s", shipment.carrier_code, shipment.tracking_no, exc)
                counts["unavailable"] += 1
                continue
            Shipment.objects.filter(pk=shipment.pk).update(
                checkpoints=[c.as_json() for c in answer.checkpoints], logistics_state=answer.state,
                delivered_at=answer.delivered_at, tracked_at=now)
            counts["refreshed"] += 1
            counts["delivered"] += answer.delivered_at is not None
        if len(claimed) < batch_size:
            break
    return counts


def _tracking_claim(*, now: dt.datetime, interval: dt.timedelta, batch_size: int) -> list[Shipment]:
    with transaction.atomic(durable=True):
        due = (Shipment.objects.select_for_update(skip_locked=True, of=("self",))
               .filter(delivered_at__isnull=True,
                       shipped_at__gte=now - dt.timedelta(days=settings.LOGISTICS_TRACK_DAYS))
               .filter(Q(tracked_at__isnull=True) | Q(tracked_at__lte=now - interval))
               .select_related("order").only("id", "carrier", "carrier_code", "tracking_no", "order__receiver_phone")
               .order_by(F("tracked_at").asc(nulls_first=True), "id")[:batch_size])
        claimed = list(due)
        Shipment.objects.filter(pk__in=[s.pk for s in claimed]).update(tracked_at=now)
    return claimed


def _code_of(carrier_name: str) -> str:
    try:
        return carrier_resolve(carrier_name).value
    except ValidationFailed:
        return ""



# --- reads (the shopper's view of the packages) -----------------------------------------------------


def shipments_for_member(*, member: Any, order_no: str) -> tuple[Order, list[Shipment]]:
    """The member's order and its packages with their lines and cached checkpoints.

    Scoped by the member: another member's order is OrderNotFound (404). Four queries however
    many packages; no provider call — checkpoints are what the refresh job cached.
    """
    order = Order.objects.filter(member=member, order_no=order_no).prefetch_related("lines").first()
    if order is None:
        raise OrderNotFound()
    shipments = list(Shipment.objects.filter(order=order).order_by("id")
                     .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")
                                                .order_by("id"))))
    return order, shipments
