"""After-sales (售后) use cases: a shopper's request, the operators' review, the return of goods.

Status changes only through `shop.models.aftersales.AFTER_SALE_MACHINE.transition()`: it locks
the after-sale row, checks the table (AFTER_SALE_TRANSITIONS), treats a repeat as a no-op, saves
with update_fields and writes the audit row (AfterSaleEvent), all in the caller's transaction.
Every use case locks the order row first, then the after-sale (then the refund): one global order.

Rules (documented for operators and the mini-program):

- Kinds: refund only (仅退款) and return and refund (退货退款), for chosen lines and quantities.
- Units not shipped yet: refund only, at any time; the stock comes back as soon as the refund
  is approved (`restock`), and shipping no longer owes those units.
- Shipped units: refund only (收到货不退货, or 未收到货) or return and refund. While the parcel is
  on its way (shipped, not received) the request is allowed and the operator judges it; after
  receipt only within AFTER_SALE_WINDOW_DAYS of `received_at`. A return restocks when the
  operator confirms the goods came back (and says they can be sold again).
- A request mixing unshipped and shipped units of the kind "refund only" is refused: the two
  are different promises (stock back now / goods kept), so the shopper asks for each apart.
- Amounts: each unit of a line is worth its largest-remainder share of the line's
  `payable_fen` (what was actually paid for it after every discount); a request takes the next
  units' shares, and the request that takes a line's last unit takes exactly what is left, so
  any split of requests refunds exactly `payable_fen` in the end.
- Freight (运费) is refunded only when the whole order is refunded before anything shipped: it
  goes with the request that leaves no unit unclaimed. Once a parcel left, freight was spent.
- The sum of refunds never exceeds what was paid: the order row is locked while a request is
  checked against the counters and the open requests, and CheckConstraints back it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from core.audit import Actor
from core.errors import Conflict, DomainError, ValidationFailed
from core.idempotency import idempotent_replay
from core.images import image_clean
from core.media import private_storage
from core.money import allocate
from core.operators import operator_id
from core.tracking import track
from members.models import Member
from shop.errors import (
    AfterSaleInvalidTransition,
    AfterSaleNotFound,
    AfterSaleWindowClosed,
    MixedShipment,
    MoreThanBought,
    MoreThanLeft,
    NotShippedYet,
    OrderNotFound,
    OrderNotRefundable,
    RefundExceedsPaid,
    SecondApprovalPermissionRequired,
    SecondApproverRequired,
    UnitsShippedMeanwhile,
)
from shop.models import (
    AfterSale,
    AfterSaleKind,
    AfterSaleLine,
    AfterSalePhoto,
    AfterSaleStatus,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
    ShipmentLine,
)
from shop.models.aftersales import (
    AFTER_SALE_CLAIMING,
    AFTER_SALE_MACHINE,
    AFTER_SALE_OPEN,
    AFTER_SALE_PHOTO_MEDIA_KIND,
    AfterSaleAction,
    AfterSaleReason,
)
from shop.models.orders import ORDER_MACHINE, OrderAction
from shop.notifications import notify_after_sale_progress
from shop.services.refunds import refund_start_for_after_sale
from shop.services.shipping import shipment_settle_order
from wechat.media_checks import media_check_create, media_checks_delete
from wechat.media_kinds import MediaKind

logger = logging.getLogger(__name__)

Status = AfterSaleStatus

MAX_PHOTOS = 6
# The permission a large refund's second approval needs (the 财务 role has it).
SECOND_APPROVE = "shop.second_approve_aftersale"
MAX_LINES = 50
MAX_PENDING_UPLOADS = 20  # photos uploaded but not yet in a request, per member
RETURN_TRACKING_NO = re.compile(r"[A-Za-z0-9-]{6,32}")
REFUNDABLE_ORDER_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED})

# Where a use case may start, when the table alone allows more: the operator confirms a return's
# goods only while they are awaited or on their way (the table also lets a review state refund).
RETURN_CONFIRMABLE = frozenset({Status.AWAITING_RETURN, Status.RETURN_SHIPPED})


# --- the shopper's request -----------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    order_line_id: int
    quantity: int


@dataclass(frozen=True)
class AfterSaleInput:
    order_no: str
    kind: str
    reason: str
    lines: tuple[LineRequest, ...]
    description: str = ""
    photo_ids: tuple[int, ...] = ()

    def fingerprint(self) -> str:
        body = {"order_no": self.order_no, "kind": self.kind, "reason": self.reason,
                "description": self.description, "photo_ids": list(self.photo_ids),
                "lines": sorted((x.order_line_id, x.quantity) for x in self.lines)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _LineClaims:
    """What is already spoken for on one order line (refunded or in an open request)."""

    units: int  # refunded + open requests
    fen: int  # refunded + open requests
    unshipped_claimed: int  # units in refund-only-before-shipping requests (open or refunded)
    shipped_claimed: int  # units in after-shipping requests (open or refunded)


def after_sale_request(*, member: Member, data: AfterSaleInput,
                       idempotency_key: str | None = None) -> tuple[AfterSale, bool]:
    """Create an after-sale for chosen lines and quantities of the member's order.

    Returns (after_sale, replayed). One durable transaction that locks the order row first, so
    two requests at the same moment are checked one after the other against the counters and
    the open requests: the second never takes units or money the first took. Refused requests
    (other member's order → 404, after the window, more than bought or left, mixed shipment...)
    raise a DomainError and change nothing. Idempotent on (member, idempotency_key).
    """
    fingerprint = data.fingerprint()
    mine = AfterSale.objects.filter(member=member)
    existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, True
    _validate_input(data)
    try:
        with transaction.atomic(durable=True):
            order = Order.objects.select_for_update().filter(member=member, order_no=data.order_no).first()
            if order is None:
                raise OrderNotFound()
            after_sale = _create(order=order, member=member, data=data, idempotency_key=idempotency_key,
                                 fingerprint=fingerprint)
    except IntegrityError:  # a concurrent request with the same key committed first
        existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, True
    return after_sale, False


def _validate_input(data: AfterSaleInput) -> None:
    if data.kind not in AfterSaleKind.values:
        raise ValidationFailed("售后类型不正确", code="invalid_after_sale_kind", detail={"kind": data.kind})
    if data.reason not in AfterSaleReason.values:
        raise ValidationFailed("请选择售后原因", code="invalid_after_sale_reason", detail={"reason": data.reason})
    if not data.lines or len(data.lines) > MAX_LINES:
        raise ValidationFailed("请选择要售后的商品", code="after_sale_no_lines")
    ids = [x.order_line_id for x in data.lines]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("同一商品只能出现一次", code="after_sale_duplicate_line")
    if any(x.quantity < 1 for x in data.lines):
        raise ValidationFailed("申请数量至少为 1", code="invalid_quantity")
    if len(data.photo_ids) > MAX_PHOTOS or len(set(data.photo_ids)) != len(data.photo_ids):
        raise ValidationFailed(f"最多上传 {MAX_PHOTOS} 张图片", code="too_many_photos")
    if len(data.description) > 500:
        raise ValidationFailed("问题描述最多 500 字", code="description_too_long")


def _create(*, order: Order, member: Member, data: AfterSaleInput, idempotency_key: str | None,
            fingerprint: str) -> AfterSale:
    if order.status not in REFUNDABLE_ORDER_STATUSES or order.needs_refund:
        raise OrderNotRefundable(f"订单当前状态为「{order.get_status_display()}」，不能申请售后",
                                 detail={"status": order.status})
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    unknown = [x.order_line_id for x in data.lines if x.order_line_id not in lines]
    if unknown:
        raise ValidationFailed("所选商品不在该订单中", code="after_sale_line_not_in_order",
                               detail={"order_line_ids": unknown})
    for x in data.lines:
        if x.quantity > lines[x.order_line_id].quantity:
            raise MoreThanBought(detail={"order_line_id": x.order_line_id,
                                         "bought": lines[x.order_line_id].quantity})
    claims = _claims(order)
    shipped = _shipped_units(order, lines.values())
    before_shipping = _classify(data, lines, claims, shipped)
    if not before_shipping:
        _check_window(order)
    amounts = {x.order_line_id: _line_amount(lines[x.order_line_id], claims.get(x.order_line_id), x.quantity)
               for x in data.lines}
    freight = _freight(order, data, lines, claims, shipped) if before_shipping else 0
    total = sum(amounts.values()) + freight
    _check_paid(order, total)
    after_sale = AfterSale.objects.create(
        after_sale_no=_new_number(), order=order, member=member, kind=data.kind, reason=data.reason,
        description=data.description, amount_fen=total, freight_fen=freight, restock=before_shipping,
        idempotency_key=idempotency_key or None, request_hash=fingerprint,
    )
    AfterSaleLine.objects.bulk_create(
        AfterSaleLine(after_sale=after_sale, order_line_id=x.order_line_id, quantity=x.quantity,
                      amount_fen=amounts[x.order_line_id])
        for x in data.lines
    )
    _attach_photos(after_sale, member, data.photo_ids)
    AFTER_SALE_MACHINE.record(after_sale, action=AfterSaleAction.REQUESTED, from_status="", actor=Actor.MEMBER,
                              note=f"{after_sale.get_kind_display()}：{after_sale.get_reason_display()}")
    ORDER_MACHINE.record(order, action=OrderAction.AFTER_SALE_REQUESTED, actor=Actor.MEMBER,
                         note=after_sale.after_sale_no,
                         data={"after_sale_no": after_sale.after_sale_no, "amount_fen": total})
    track("after_sale_requested", member_id=member.pk,
          properties={"order_no": order.order_no, "after_sale_no": after_sale.after_sale_no, "kind": data.kind,
                      "amount_fen": total})
    return after_sale


def _claims(order: Order) -> dict[int, _LineClaims]:
    """Per order line: units and fen refunded or in open requests, split by shipping state."""
    open_rows = (AfterSaleLine.objects.filter(order_line__order=order, after_sale__status__in=AFTER_SALE_OPEN)
                 .values("order_line_id").annotate(units=Sum("quantity"), fen=Sum("amount_fen")))
    open_by_line = {r["order_line_id"]: (r["units"], r["fen"]) for r in open_rows}
    before = Q(after_sale__kind=AfterSaleKind.REFUND_ONLY, after_sale__restock=True)
    split_rows = (AfterSaleLine.objects.filter(order_line__order=order, after_sale__status__in=AFTER_SALE_CLAIMING)
                  .values("order_line_id")
                  .annotate(unshipped=Sum("quantity", filter=before), shipped=Sum("quantity", filter=~before)))
    split = {r["order_line_id"]: (r["unshipped"] or 0, r["shipped"] or 0) for r in split_rows}
    claims = {}
    for line in OrderLine.objects.filter(order=order):
        units, fen = open_by_line.get(line.pk, (0, 0))
        unshipped, shipped = split.get(line.pk, (0, 0))
        claims[line.pk] = _LineClaims(units=line.refunded_quantity + units, fen=line.refunded_fen + fen,
                                      unshipped_claimed=unshipped, shipped_claimed=shipped)
    return claims


def _shipped_units(order: Order, lines: Any) -> dict[int, int]:
    """Units shipped per line. An order shipped before packages recorded their lines (no
    ShipmentLine at all) shipped everything."""
    lines = list(lines)
    legacy = (order.status in (OrderStatus.SHIPPED, OrderStatus.RECEIVED)
              and not any(line.shipped_quantity for line in lines)
              and not ShipmentLine.objects.filter(shipment__order=order).exists())
    return {line.pk: line.quantity if legacy else line.shipped_quantity for line in lines}


def _classify(data: AfterSaleInput, lines: dict[int, OrderLine], claims: dict[int, _LineClaims],
              shipped: dict[int, int]) -> bool:
    """True when the request is for units not shipped yet (refund and restock at once); False
    for shipped units. Raises when the units are not there to claim."""
    unshipped_left, shipped_left = {}, {}
    for x in data.lines:
        line, claim = lines[x.order_line_id], claims[x.order_line_id]
        unshipped_left[x.order_line_id] = line.quantity - shipped[line.pk] - claim.unshipped_claimed
        shipped_left[x.order_line_id] = shipped[line.pk] - claim.shipped_claimed
    fits_unshipped = all(x.quantity <= unshipped_left[x.order_line_id] for x in data.lines)
    fits_shipped = all(x.quantity <= shipped_left[x.order_line_id] for x in data.lines)
    fits_somehow = all(x.quantity <= unshipped_left[x.order_line_id] + shipped_left[x.order_line_id]
                       for x in data.lines)
    left = {str(k): max(0, unshipped_left[k]) + max(0, shipped_left[k]) for k in unshipped_left}
    if data.kind == AfterSaleKind.REFUND_ONLY:
        if fits_unshipped:
            return True
        if fits_shipped:
            return False
        if fits_somehow:
            raise MixedShipment()
        raise MoreThanLeft(detail={"left": left})
    if fits_shipped:
        return False
    if fits_somehow:
        raise NotShippedYet()
    raise MoreThanLeft(detail={"left": left})


def _check_window(order: Order) -> None:
    if order.status != OrderStatus.RECEIVED or order.received_at is None:
        return  # shipped, not received yet: the window has not started
    closes = order.received_at + dt.timedelta(days=settings.AFTER_SALE_WINDOW_DAYS)
    if timezone.now() > closes:
        raise AfterSaleWindowClosed(
            f"已超过售后期限（确认收货后 {settings.AFTER_SALE_WINDOW_DAYS} 天内可申请）",
            detail={"received_at": order.received_at.isoformat(), "window_days": settings.AFTER_SALE_WINDOW_DAYS})


def unit_shares(line: OrderLine) -> list[int]:
    """What each unit of the line paid: its `payable_fen` split by largest remainder."""
    return allocate(line.payable_fen, [1] * line.quantity)


def _line_amount(line: OrderLine, claim: _LineClaims | None, quantity: int) -> int:
    """The next `quantity` units' shares. The request that takes the line's last unit takes
    exactly what is left, so the line's requests always sum to `payable_fen`."""
    claimed_units = claim.units if claim else 0
    claimed_fen = claim.fen if claim else 0
    left = line.payable_fen - claimed_fen
    if claimed_units + quantity >= line.quantity:
        return max(0, left)
    shares = unit_shares(line)
    amount = sum(shares[claimed_units:claimed_units + quantity])
    return max(0, min(amount, left))


def _freight(order: Order, data: AfterSaleInput, lines: dict[int, OrderLine], claims: dict[int, _LineClaims],
             shipped: dict[int, int]) -> int:
    """The freight the shopper paid (after a freight coupon), when this request completes a refund
    of an order that never shipped."""
    paid_freight = order.freight_fen - order.freight_discount_fen
    if paid_freight <= 0 or any(shipped.values()):
        return 0
    asked = {x.order_line_id: x.quantity for x in data.lines}
    if any(claims[pk].units + asked.get(pk, 0) < line.quantity for pk, line in lines.items()):
        return 0
    already = (AfterSale.objects.filter(order=order, status__in=AFTER_SALE_CLAIMING)
               .aggregate(total=Sum("freight_fen"))["total"]) or 0
    return max(0, paid_freight - already)


def _check_paid(order: Order, amount_fen: int) -> None:
    """Refunded + every open request + this one must stay within what was paid."""
    open_requests = (AfterSale.objects.filter(order=order, status__in=AFTER_SALE_OPEN - {Status.REFUNDING})
                     .aggregate(total=Sum("amount_fen"))["total"]) or 0
    in_flight = (Refund.objects.filter(order=order).exclude(status=RefundStatus.SUCCEEDED)
                 .aggregate(total=Sum("amount_fen"))["total"]) or 0
    if order.refunded_fen + open_requests + in_flight + amount_fen > order.paid_fen:
        raise RefundExceedsPaid(detail={"paid_fen": order.paid_fen, "refunded_fen": order.refunded_fen,
                                        "pending_fen": open_requests + in_flight, "asked_fen": amount_fen})


def _new_number() -> str:
    # Random, not a counter: numbers do not reveal volumes; a clash retries in a savepoint.
    for _ in range(5):
        number = f"AS{timezone.localdate():%Y%m%d}{secrets.randbelow(10**6):06d}"
        if not AfterSale.objects.filter(after_sale_no=number).exists():
            return number
    raise DomainError("请稍后再试", code="after_sale_number_busy", status=503)


def _attach_photos(after_sale: AfterSale, member: Member, photo_ids: Sequence[int]) -> None:
    for sort, photo_id in enumerate(photo_ids):
        # Conditional: a photo already in another request (or not the member's) is not taken.
        taken = AfterSalePhoto.objects.filter(pk=photo_id, member=member, after_sale__isnull=True).update(
            after_sale=after_sale, sort=sort)
        if taken != 1:
            raise ValidationFailed("图片不存在或已被使用，请重新上传", code="after_sale_photo_not_found",
                                   detail={"photo_id": photo_id})


# --- photos ----------------------------------------------------------------------------------------


def after_sale_photo_upload(*, member: Member, upload: Any) -> AfterSalePhoto:
    """Store one shopper photo for a later request (wx.uploadFile sends one file at a time).

    The image is checked and re-encoded by core.images (type, size, pixels, metadata stripped,
    random file name) before anything is stored. The storage write (network I/O for S3) runs
    outside any transaction; then the row and its WeChat image check (wechat.media_checks,
    submitted after commit) are inserted together; if that fails the file is deleted again.
    """
    pending = AfterSalePhoto.objects.filter(member=member, after_sale__isnull=True).count()
    if pending >= MAX_PENDING_UPLOADS:
        raise Conflict("上传的图片过多，请先提交售后申请", code="too_many_pending_uploads")
    clean = image_clean(upload)
    photo = AfterSalePhoto(member=member)
    photo.image.save(clean.file.name, clean.file, save=False)
    try:
        with transaction.atomic(durable=True):
            photo.save()
            photo.media_check = media_check_create(kind=AFTER_SALE_PHOTO_MEDIA_KIND, object_id=photo.pk,
                                                   member_id=member.pk, openid=member.openid,
                                                   media_name=photo.image.name)
            photo.save(update_fields=["media_check"])
    except Exception:
        private_storage().delete(photo.image.name)
        raise
    return photo


def _after_sale_photo_console_url(object_id: int) -> str:
    after_sale_id = AfterSalePhoto.objects.filter(pk=object_id).values_list("after_sale_id", flat=True).first()
    return reverse("admin:shop_aftersale_change", args=[after_sale_id]) if after_sale_id else ""


# Nothing derives from an evidence photo's check: its owner and the operators see it anyway (the
# console flags what WeChat found risky), and nobody else ever does.
AFTER_SALE_PHOTO_MEDIA = MediaKind(slug=AFTER_SALE_PHOTO_MEDIA_KIND, label="售后凭证图片",
                                   console_url=_after_sale_photo_console_url)


def after_sale_photos_purge(*, older_than_hours: int = 24, batch_size: int = 200) -> int:
    """Delete photos uploaded but never used in a request. Safe to run twice."""
    cutoff = timezone.now() - dt.timedelta(hours=older_than_hours)
    stale = list(AfterSalePhoto.objects.filter(after_sale__isnull=True, created_at__lt=cutoff)
                 .order_by("id")[:batch_size])
    for photo in stale:
        name = photo.image.name
        with transaction.atomic(durable=True):
            # The check first, as a verdict locks them (check, then photo); both go, or neither
            # when the photo was used in a request meanwhile.
            media_checks_delete(ids=[photo.media_check_id] if photo.media_check_id else [])
            deleted = AfterSalePhoto.objects.filter(pk=photo.pk, after_sale__isnull=True).delete()[0]
            if not deleted:
                transaction.set_rollback(True)
        if deleted:
            try:
                private_storage().delete(name)
            except OSError:
                logger.warning("could not delete orphan photo file %s", name)
    return len(stale)


# --- the shopper's later steps ---------------------------------------------------------------------


def after_sale_get_for_member(*, member: Member, after_sale_no: str) -> AfterSale:
    after_sale = AfterSale.objects.filter(member=member, after_sale_no=after_sale_no).first()
    if after_sale is None:
        raise AfterSaleNotFound()
    return after_sale


def after_sale_withdraw(*, member: Member, after_sale_no: str) -> AfterSale:
    """The shopper withdraws a request not yet refunded (before the goods are sent back). Idempotent."""
    after_sale = after_sale_get_for_member(member=member, after_sale_no=after_sale_no)
    with transaction.atomic(durable=True):
        Order.objects.select_for_update().get(pk=after_sale.order_id)
        after_sale, _ = AFTER_SALE_MACHINE.transition(
            pk=after_sale.pk, to=Status.WITHDRAWN, action=AfterSaleAction.WITHDRAWN, actor=Actor.MEMBER,
            note="买家撤销申请")
    return after_sale


def after_sale_submit_return(*, member: Member, after_sale_no: str, carrier: str, tracking_no: str) -> AfterSale:
    """The shopper sent the goods back: record the carrier and tracking number.

    Approved returns only. Entering it again (a typo) updates it, with an audit row.
    """
    carrier, tracking_no = carrier.strip(), re.sub(r"\s+", "", tracking_no).upper()
    if not carrier or len(carrier) > 32:
        raise ValidationFailed("请填写快递公司", code="return_carrier_required")
    if not RETURN_TRACKING_NO.fullmatch(tracking_no):
        raise ValidationFailed("快递单号应为 6 到 32 位字母、数字或短横线", code="bad_tracking_no")
    after_sale = after_sale_get_for_member(member=member, after_sale_no=after_sale_no)
    with transaction.atomic(durable=True):
        Order.objects.select_for_update().get(pk=after_sale.order_id)
        locked = AfterSale.objects.select_for_update().get(pk=after_sale.pk)
        if locked.status == Status.RETURN_SHIPPED:
            if (locked.return_carrier, locked.return_tracking_no) != (carrier, tracking_no):
                locked.return_carrier, locked.return_tracking_no = carrier, tracking_no
                locked.save(update_fields=["return_carrier", "return_tracking_no", "updated_at"])
                AFTER_SALE_MACHINE.record(locked, action=AfterSaleAction.RETURN_TRACKING_UPDATED, actor=Actor.MEMBER,
                                          note=f"{carrier} {tracking_no}")
            return locked
        after_sale, _ = AFTER_SALE_MACHINE.transition(
            pk=locked.pk, to=Status.RETURN_SHIPPED, action=AfterSaleAction.RETURN_SHIPPED, actor=Actor.MEMBER,
            note=f"{carrier} {tracking_no}", fields={"return_carrier": carrier, "return_tracking_no": tracking_no})
    return after_sale


# --- the operators' review ---------------------------------------------------------------------------


def after_sale_needs_second_approval(after_sale: AfterSale) -> bool:
    """Maker-checker: refunds above REFUND_SECOND_APPROVAL_ABOVE_FEN need two different operators."""
    return after_sale.amount_fen > settings.REFUND_SECOND_APPROVAL_ABOVE_FEN


def after_sale_approved_status(after_sale: AfterSale) -> str:
    """Where 同意 leads once every approval is in: 待买家退货 for a return, else 退款中 (the console
    asks AFTER_SALE_MACHINE.can() about it to show the button)."""
    return Status.AWAITING_RETURN if after_sale.kind == AfterSaleKind.RETURN_REFUND else Status.REFUNDING


def after_sale_approve(*, after_sale: AfterSale, operator: AbstractBaseUser | None) -> AfterSale:
    """同意: the operator approves a request.

    Above the second-approval amount the first approval only moves it to 待复核, and a second,
    different operator with shop.second_approve_aftersale (SECOND_APPROVE, 财务) must approve too.
    Then a refund-only request starts its refund at once
    (restocking units that never shipped) and a return waits for the goods. One durable
    transaction, order row first; the gateway is called after commit. Approving again what is
    already past review is a no-op; approving twice as the same operator is refused.
    """
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=after_sale.order_id)
        locked = AfterSale.objects.select_for_update().get(pk=after_sale.pk)
        if locked.status in (Status.AWAITING_RETURN, Status.RETURN_SHIPPED, Status.REFUNDING, Status.REFUNDED):
            return locked
        if locked.status == Status.REQUESTED and after_sale_needs_second_approval(locked):
            locked, _ = AFTER_SALE_MACHINE.transition(
                pk=locked.pk, to=Status.AWAITING_SECOND_APPROVAL, action=AfterSaleAction.APPROVED_FIRST,
                actor=Actor.OPERATOR, operator=operator, note="初审通过，等待另一位运营复核",
                fields={"approved_by_id": operator_id(operator)})
            return locked
        fields: dict[str, Any] = {}
        if locked.status == Status.AWAITING_SECOND_APPROVAL:
            if operator is None or locked.approved_by_id == operator.pk:
                raise SecondApproverRequired()
            if not operator.has_perm(SECOND_APPROVE):  # type: ignore[attr-defined]
                raise SecondApprovalPermissionRequired()
            fields["second_approved_by_id"] = operator.pk
        elif locked.status == Status.REQUESTED:
            fields["approved_by_id"] = operator_id(operator)
        else:
            raise AfterSaleInvalidTransition(f"售后单当前状态为「{locked.get_status_display()}」，不能审核",
                                             detail={"status": locked.status})
        if locked.kind == AfterSaleKind.RETURN_REFUND:
            locked, _ = AFTER_SALE_MACHINE.transition(
                pk=locked.pk, to=Status.AWAITING_RETURN, action=AfterSaleAction.APPROVED, actor=Actor.OPERATOR,
                operator=operator, note="同意退货，等待买家寄回", fields=fields)
        else:
            if locked.restock:
                _check_still_unshipped(order, locked)
            for name, value in fields.items():
                setattr(locked, name, value)
            locked.save(update_fields=[*fields, "updated_at"])
            AFTER_SALE_MACHINE.record(locked, action=AfterSaleAction.APPROVED, actor=Actor.OPERATOR, operator=operator,
                                      note="同意退款")
            locked = refund_start_for_after_sale(order=order, after_sale=locked, actor=Actor.OPERATOR,
                                                 operator=operator)
            if locked.restock:
                # Refunding the last unshipped units of a partly shipped order leaves nothing owed.
                shipment_settle_order(order_id=order.pk, actor=Actor.OPERATOR, operator=operator,
                                      note="未发商品已全部退款")
        notify_after_sale_progress(after_sale_id=locked.pk, event="approved")
    return locked


def _check_still_unshipped(order: Order, after_sale: AfterSale) -> None:
    """Units approved for a before-shipping refund must still be unshipped (shipping may have run
    since the request); else a restock would create stock from goods already on their way."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    shipped = _shipped_units(order, lines.values())
    others = (AfterSaleLine.objects
              .filter(order_line__order=order, after_sale__status__in=AFTER_SALE_CLAIMING,
                      after_sale__kind=AfterSaleKind.REFUND_ONLY, after_sale__restock=True)
              .exclude(after_sale=after_sale)
              .values("order_line_id").annotate(units=Sum("quantity")))
    withheld = {r["order_line_id"]: r["units"] for r in others}
    for row in after_sale.lines.all():
        line = lines[row.order_line_id]
        if row.quantity > line.quantity - shipped[line.pk] - withheld.get(line.pk, 0):
            raise UnitsShippedMeanwhile(detail={"order_line_id": line.pk})


def after_sale_reject(*, after_sale: AfterSale, operator: AbstractBaseUser | None, reason: str) -> AfterSale:
    """拒绝: the operator rejects a request (with a reason the shopper is told). Idempotent."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("请填写拒绝原因", code="reject_reason_required")
    with transaction.atomic(durable=True):
        Order.objects.select_for_update().get(pk=after_sale.order_id)
        locked, changed = AFTER_SALE_MACHINE.transition(
            pk=after_sale.pk, to=Status.REJECTED, action=AfterSaleAction.REJECTED, actor=Actor.OPERATOR,
            operator=operator, note=reason, fields={"reject_reason": reason[:200]})
        if changed:
            notify_after_sale_progress(after_sale_id=locked.pk, event="rejected")
    return locked


def after_sale_confirm_return(*, after_sale: AfterSale, operator: AbstractBaseUser | None,
                              restock: bool = True) -> AfterSale:
    """确认收到退货: the goods came back; restock them (unless unsellable) and start the refund.

    Restocking happens once per after-sale (the stock ledger's unique release reference); the
    refund goes to the gateway after commit. Confirming again is a no-op.
    """
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=after_sale.order_id)
        locked = AfterSale.objects.select_for_update().get(pk=after_sale.pk)
        if locked.status in (Status.REFUNDING, Status.REFUNDED):
            return locked
        if locked.kind != AfterSaleKind.RETURN_REFUND or not AFTER_SALE_MACHINE.can(
                locked, Status.REFUNDING, allowed_from=RETURN_CONFIRMABLE):
            raise AfterSaleInvalidTransition(
                f"售后单当前状态为「{locked.get_status_display()}」，不能确认收货", detail={"status": locked.status})
        locked.restock = restock
        locked.save(update_fields=["restock", "updated_at"])
        AFTER_SALE_MACHINE.record(locked, action=AfterSaleAction.RETURN_RECEIVED, actor=Actor.OPERATOR,
                                  operator=operator,
                                  note="确认收到退货" + ("，退回库存" if restock else "，商品不可再售，不退回库存"))
        locked = refund_start_for_after_sale(order=order, after_sale=locked, actor=Actor.OPERATOR,
                                             operator=operator)
    return locked


# Console-only steps the shopper's progress trail leaves out.
AFTER_SALE_INTERNAL_ACTIONS = frozenset({AfterSaleAction.RESTOCKED})


@dataclass(frozen=True)
class LineOption:
    line: OrderLine
    unshipped_left: int  # units that can be refunded before shipping (restocked at once)
    shipped_left: int  # shipped units that can be refunded or returned
    amount_all_fen: int  # what asking for every unit left would refund (goods only)


@dataclass(frozen=True)
class AfterSaleOptions:
    order: Order
    open: bool  # whether the order takes requests at all now
    reason: str  # why not, in words for the shopper ("" when open)
    window_closes_at: dt.datetime | None
    lines: list[LineOption]


def after_sale_options_for_member(*, member: Member, order_no: str) -> AfterSaleOptions:
    """What the shopper may ask for on an order: units left per line before and after shipping,
    and until when (a read; the request itself re-checks everything under the order lock)."""
    order = Order.objects.filter(member=member, order_no=order_no).first()
    if order is None:
        raise OrderNotFound()
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("id")}
    claims = _claims(order)
    shipped = _shipped_units(order, lines.values())
    closes = None
    if order.status == OrderStatus.RECEIVED and order.received_at is not None:
        closes = order.received_at + dt.timedelta(days=settings.AFTER_SALE_WINDOW_DAYS)
    window_open = closes is None or timezone.now() <= closes
    options = []
    for pk, line in lines.items():
        claim = claims[pk]
        unshipped_left = max(0, line.quantity - shipped[pk] - claim.unshipped_claimed)
        shipped_left = max(0, shipped[pk] - claim.shipped_claimed) if window_open else 0
        left_units = min(unshipped_left + shipped_left, line.quantity - claim.units)
        amount = _line_amount(line, claim, left_units) if left_units > 0 else 0
        options.append(LineOption(line=line, unshipped_left=unshipped_left, shipped_left=shipped_left,
                                  amount_all_fen=amount))
    reason = ""
    if order.status not in REFUNDABLE_ORDER_STATUSES or order.needs_refund:
        reason = f"订单{order.get_status_display()}，不能申请售后"
    elif not any(o.unshipped_left or o.shipped_left for o in options):
        reason = "已超过售后期限" if not window_open else "没有可申请售后的商品"
    return AfterSaleOptions(order=order, open=not reason, reason=reason, window_closes_at=closes,
                            lines=options)
