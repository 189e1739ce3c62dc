"""The WeChat shipping-info upload of an order (发货信息录入): schedule, attempt, retry, requeue.

WeChat keeps a trade's funds frozen until the merchant uploads what was shipped. Each order paid
through WeChat Pay has one ShippingInfoUpload row, a small state machine:

    pending ──upload ok──▶ uploaded
       │  ▲                    │
  error│  │retry (backoff) /   │ another package ships
       ▼  │operator 重新上传     ▼
     failed                 pending

Every package shipped sets the row back to pending and due now (in the shipping transaction),
and an attempt is queued after commit. An attempt claims the row in a short transaction (SELECT
… FOR UPDATE SKIP LOCKED, then a lease on next_attempt_at), calls WeChat outside any transaction,
and stores the outcome in a second short transaction with an OrderEvent audit row. A transient
error (WeChat busy, network) leaves the row failed with next_attempt_at after an exponential
backoff; a permanent one (bad data) or too many attempts leaves it failed with no next attempt
until an operator requeues it. The beat sweep re-queues every row whose next_attempt_at has
passed, so an attempt lost with a worker (or a broker that was down) still happens.

The packages uploaded are those the order had when the attempt read it; the number of packages
is the row's version: an upload only marks the row uploaded if no package was added meanwhile.

Locks: the order row first, then the upload row — the order shipping services' order — so the
FK check of an audit row never waits on an order while holding an upload row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from core.audit import Actor
from core.jobs import enqueue_after_commit
from payments.models import Payment, PaymentStatus
from payments.selectors import payment_paid
from shop.models import (
    ORDER_PAYABLE_KIND,
    Carrier,
    Order,
    OrderStatus,
    Shipment,
    ShippingInfoUpload,
    ShippingUploadState,
)
from shop.models.orders import ORDER_MACHINE, OrderAction
from wechat import shipping as wechat_shipping
from wechat.errors import WechatApiError

logger = logging.getLogger(__name__)

State = ShippingUploadState
# A Celery retry fires at about the time we stored; accept it this much early.
DUE_TOLERANCE = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class UploadOutcome:
    state: str  # "uploaded" | "failed" | "pending" (a newer package waits) | "skipped"
    retry_in: float | None = None  # seconds until the next automatic attempt, when there is one
    error: str = ""


def shipping_upload_schedule(*, order_id: int, now: dt.datetime | None = None) -> bool:
    """Make the order's upload due now and queue an attempt after commit. Returns whether it will.

    Called inside the shipping transaction (the order row already locked). An order with no
    paid WeChat payment has nothing to upload: no row, False.
    """
    order_no = Order.objects.filter(pk=order_id).values("order_no")
    if not Payment.objects.filter(kind=ORDER_PAYABLE_KIND, out_trade_no=Subquery(order_no),
                                  status=PaymentStatus.PAID).exists():
        return False
    now = now or timezone.now()
    row, _ = ShippingInfoUpload.objects.select_for_update().get_or_create(order_id=order_id)
    row.state, row.attempts, row.next_attempt_at, row.last_error = State.PENDING, 0, now, ""
    row.save(update_fields=["state", "attempts", "next_attempt_at", "last_error", "updated_at"])
    _enqueue_upload(order_id)
    return True


def shipping_upload_attempt(*, order_id: int, now: dt.datetime | None = None) -> UploadOutcome:
    """Upload the order's shipping info to WeChat once, if it is due. Safe to run twice.

    Returns what happened; `retry_in` is set when a transient error should be retried (the
    Celery task retries after it; the sweep would too). Skips a row that is not due, already
    uploaded, or being attempted by another worker right now.
    """
    now = now or timezone.now()
    claim = _claim(order_id=order_id, now=now)
    if isinstance(claim, UploadOutcome):
        return claim
    request, version = claim
    try:
        wechat_shipping.upload_shipping_info(**request)
    except WechatApiError as exc:
        message = f"[{exc.errcode}] {exc.errmsg}".strip()
        return _failed(order_id=order_id, version=version, error=message,
                       transient=wechat_shipping.is_transient(exc.errcode))
    except ValueError as exc:  # what we would send cannot be valid (e.g. too many packages)
        return _failed(order_id=order_id, version=version, error=str(exc), transient=False)
    return _uploaded(order_id=order_id, version=version)


def _claim(*, order_id: int, now: dt.datetime) -> tuple[dict, int] | UploadOutcome:
    """Lease a due row and read what to send (one short transaction)."""
    with transaction.atomic(durable=True):
        row = ShippingInfoUpload.objects.select_for_update(skip_locked=True).filter(order_id=order_id).first()
        if row is None or row.state == State.UPLOADED:
            return UploadOutcome("skipped")
        if row.next_attempt_at is None or row.next_attempt_at > now + DUE_TOLERANCE:
            return UploadOutcome("skipped")  # given up, leased by a running attempt, or not yet
        row.attempts += 1
        # The lease: if this worker dies mid-call, the sweep tries again once it has passed.
        row.next_attempt_at = now + dt.timedelta(seconds=2 * settings.WECHAT_HTTP_TIMEOUT + 30)
        row.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
        order = Order.objects.select_related("member").get(pk=order_id)
        payment = payment_paid(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)
        shipments = list(Shipment.objects.filter(order_id=order_id)
                         .prefetch_related("lines__order_line").order_by("id"))
    version = len(shipments)
    if payment is None or not shipments:
        reason = "订单没有微信支付记录，无需上传" if payment is None else "订单还没有发货包裹"
        return _failed(order_id=order_id, version=version, error=reason, transient=False)
    key = wechat_shipping.OrderKey(transaction_id=payment.transaction_id or "",
                                   out_trade_no=payment.out_trade_no)
    packages = [
        wechat_shipping.Package(tracking_no=s.tracking_no, express_company=_express_company(s),
                                item_desc=_item_desc(s), receiver_phone=order.receiver_phone)
        for s in shipments
    ]
    request = {"order_key": key, "payer_openid": order.member.openid, "packages": packages,
               "all_delivered": order.status in (OrderStatus.SHIPPED, OrderStatus.RECEIVED),
               "upload_time": timezone.now()}
    return request, version


def _express_company(shipment: Shipment) -> str:
    if shipment.carrier_code:
        return shipment.carrier_code
    for carrier in Carrier:
        if shipment.carrier == carrier.label:
            return carrier.value
    return shipment.carrier


def _item_desc(shipment: Shipment) -> str:
    """'有机奶粉 1段*2；棉柔巾*1' (WeChat's example: 微信红包抱枕*1个)."""
    parts = []
    for shipment_line in shipment.lines.all():
        line = shipment_line.order_line
        name = f"{line.product_name} {line.spec_text}".strip()
        parts.append(f"{name}*{shipment_line.quantity}")
    return "；".join(parts)


def _uploaded(*, order_id: int, version: int) -> UploadOutcome:
    now = timezone.now()
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=order_id)
        row = ShippingInfoUpload.objects.select_for_update().get(order_id=order_id)
        newer = Shipment.objects.filter(order_id=order_id).count() != version
        ORDER_MACHINE.record(order, action=OrderAction.SHIPPING_INFO_UPLOADED, actor=Actor.SYSTEM,
                             from_status="", to_status="", note=f"已向微信上传 {version} 个包裹的发货信息",
                             data={"packages": version, "attempt": row.attempts})
        if newer:
            # A package shipped while this one was in flight: its own attempt is already queued.
            return UploadOutcome(State.PENDING)
        row.state, row.uploaded_at, row.next_attempt_at, row.last_error = State.UPLOADED, now, None, ""
        row.save(update_fields=["state", "uploaded_at", "next_attempt_at", "last_error", "updated_at"])
    return UploadOutcome(State.UPLOADED)


def _failed(*, order_id: int, version: int, error: str, transient: bool) -> UploadOutcome:
    now = timezone.now()
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=order_id)
        row = ShippingInfoUpload.objects.select_for_update().get(order_id=order_id)
        newer = Shipment.objects.filter(order_id=order_id).count() != version
        retry_in: float | None = None
        if transient and row.attempts < settings.WECHAT_SHIPPING_UPLOAD_MAX_ATTEMPTS:
            retry_in = backoff_seconds(row.attempts)
        ORDER_MACHINE.record(
            order, action=OrderAction.SHIPPING_INFO_UPLOAD_FAILED, actor=Actor.SYSTEM, from_status="", to_status="",
            note=error, data={"attempt": row.attempts, "transient": transient, "retry_in": retry_in})
        row.last_error = error[:300]
        if newer:
            row.save(update_fields=["last_error", "updated_at"])
            return UploadOutcome(State.PENDING, error=error)
        row.state = State.FAILED
        row.next_attempt_at = now + dt.timedelta(seconds=retry_in) if retry_in is not None else None
        row.save(update_fields=["state", "last_error", "next_attempt_at", "updated_at"])
    logger.warning("shipping info upload of order %s failed (attempt %s): %s", order_id, row.attempts, error)
    return UploadOutcome(State.FAILED, retry_in=retry_in, error=error)


def backoff_seconds(attempts: int) -> float:
    """base × 2^(attempts−1), at most WECHAT_SHIPPING_UPLOAD_RETRY_MAX_SECONDS."""
    base = settings.WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), settings.WECHAT_SHIPPING_UPLOAD_RETRY_MAX_SECONDS))


def shipping_upload_due(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Order ids whose upload is due (failed with a retry time passed, or a lease that expired)."""
    now = now or timezone.now()
    return list(ShippingInfoUpload.objects.filter(next_attempt_at__lte=now).exclude(state=State.UPLOADED)
                .order_by("next_attempt_at", "id").values_list("order_id", flat=True)[:limit])


def shipping_upload_requeue(*, order_ids: Iterable[int], operator: AbstractBaseUser | None = None) -> int:
    """重新上传: make failed uploads of these orders due now with a fresh retry budget.

    Uploads that are not failed are left alone. One transaction; locks the orders in id order,
    then their upload rows. Returns how many were requeued; attempts are queued after commit.
    """
    now = timezone.now()
    requeued = []
    with transaction.atomic(durable=True):
        ids = sorted(set(order_ids))
        orders = {order.pk: order for order in Order.objects.select_for_update().filter(pk__in=ids).order_by("id")}
        for row in ShippingInfoUpload.objects.select_for_update().filter(order_id__in=ids, state=State.FAILED):
            row.state, row.attempts, row.next_attempt_at = State.PENDING, 0, now
            row.save(update_fields=["state", "attempts", "next_attempt_at", "updated_at"])
            ORDER_MACHINE.record(orders[row.order_id], action=OrderAction.SHIPPING_INFO_REQUEUED, actor=Actor.OPERATOR,
                                 operator=operator, from_status="", to_status="",
                                 note=f"重新上传发货信息（上次错误：{row.last_error}）")
            _enqueue_upload(row.order_id)
            requeued.append(row.order_id)
    return len(requeued)


def _enqueue_upload(order_id: int) -> None:
    # robust: with the broker down the row stays due and the sweep queues it later.
    enqueue_after_commit("shop.tasks.upload_shipping_info", order_id, robust=True)
