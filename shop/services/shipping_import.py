"""Bulk shipping from a file (批量导入发货): the dry-run preview and the confirmation.

Each row names an order, a carrier and a tracking number and ships every unit the order still
has to ship as one package, through shipment_create — so a row gets the same locks, checks and
audit as the console's 发货 page. Parsing the file is the console's job (shop.admin.shipping_import).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from core.errors import Conflict, ValidationFailed
from shop.models import Order, OrderStatus
from shop.services.shipping import PackageInput, carrier_resolve, shipment_create, tracking_no_clean, units_to_ship


@dataclass(frozen=True)
class ImportRow:
    """One row of a shipping file as typed: 订单号, 快递公司 (name or code), 快递单号."""

    row_no: int
    order_no: str
    carrier: str
    tracking_no: str

    def as_json(self) -> list[Any]:
        return [self.row_no, self.order_no, self.carrier, self.tracking_no]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> ImportRow:
        return cls(int(data[0]), str(data[1]), str(data[2]), str(data[3]))


@dataclass
class ImportOutcome:
    """What a row would do (preview) or did (apply): ok, and a message either way."""

    row: ImportRow
    ok: bool
    message: str
    order_id: int | None = None
    carrier: str = ""
    tracking_no: str = ""
    units: int = 0
    receiver: str = ""  # 收货人, so the operator can tell the row names the order meant


def shipment_import_preview(*, rows: Sequence[ImportRow]) -> list[ImportOutcome]:
    """Dry run of a shipping file: for each row, what confirming would do or why it cannot.

    Reads only. A row ships every unit its order still has to ship as one package. Refused:
    a missing value, an unknown order, an order not paid (or cancelled), already shipped or
    with nothing left to ship, an unknown carrier, a bad tracking number, and an order that an
    earlier row of the same file already ships.
    """
    orders = {o.order_no: o for o in Order.objects.filter(order_no__in={r.order_no.strip() for r in rows})
              .prefetch_related("lines")}
    seen: dict[str, int] = {}
    outcomes = []
    for row in rows:
        outcome = _preview_row(row, orders, seen)
        if outcome.ok:
            seen[row.order_no.strip()] = row.row_no
        outcomes.append(outcome)
    return outcomes


def _preview_row(row: ImportRow, orders: dict[str, Order], seen: dict[str, int]) -> ImportOutcome:
    order_no = row.order_no.strip()
    missing = [label for label, value in (("订单号", order_no), ("快递公司", row.carrier.strip()),
                                          ("快递单号", row.tracking_no.strip())) if not value]
    if missing:
        return ImportOutcome(row, False, f"缺少{'、'.join(missing)}")
    order = orders.get(order_no)
    if order is None:
        return ImportOutcome(row, False, "订单不存在")
    outcome = _preview_order(row, order, seen)
    outcome.receiver = order.receiver_name
    return outcome


def _preview_order(row: ImportRow, order: Order, seen: dict[str, int]) -> ImportOutcome:
    order_no = order.order_no
    try:
        carrier = carrier_resolve(row.carrier)
        tracking_no = tracking_no_clean(row.tracking_no)
    except ValidationFailed as exc:
        return ImportOutcome(row, False, exc.message, order_id=order.pk)
    if order_no in seen:
        return ImportOutcome(row, False, f"与第 {seen[order_no]} 行的订单重复", order_id=order.pk)
    if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
        return ImportOutcome(row, False, f"订单{order.get_status_display()}，未支付不能发货", order_id=order.pk)
    if order.status in (OrderStatus.SHIPPED, OrderStatus.RECEIVED):
        return ImportOutcome(row, False, "订单已发货", order_id=order.pk)
    units = sum(units_to_ship(order_id=order.pk, lines=order.lines.all()).values())
    if units == 0:
        return ImportOutcome(row, False, "订单没有待发货的商品（已退款）", order_id=order.pk)
    partial = any(line.shipped_quantity for line in order.lines.all())
    message = f"发货 {units} 件" + ("（已部分发货，发剩余商品）" if partial else "")
    return ImportOutcome(row, True, message, order_id=order.pk, carrier=carrier.label, tracking_no=tracking_no,
                         units=units)


def shipment_import_apply(*, rows: Sequence[ImportRow], operator: AbstractBaseUser | None = None
                          ) -> list[ImportOutcome]:
    """Ship each row that still passes the preview's checks, each in its own transaction.

    A row that fails (now, or because the order changed since the preview) is reported and
    does not stop the others. Safe to run twice: a shipped row then reports "订单已发货".
    """
    outcomes = []
    for outcome in shipment_import_preview(rows=rows):
        if outcome.ok and outcome.order_id is not None:
            try:
                result = shipment_create(
                    order=Order(pk=outcome.order_id),
                    packages=[PackageInput(outcome.carrier, outcome.tracking_no, None)], operator=operator)
            except (ValidationFailed, Conflict) as exc:
                outcome.ok, outcome.message = False, exc.message
            else:
                if not result.created:
                    outcome.ok, outcome.message = False, "订单已发货"
                else:
                    outcome.message = f"已发货 {outcome.units} 件"
        outcomes.append(outcome)
    return outcomes
