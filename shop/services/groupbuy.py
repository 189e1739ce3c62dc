"""Group buying (拼团), shop's side: refunding the orders a group could not keep, and the expiry job.

Campaigns decides what happens to groups and seats (campaigns.services.groupbuy) and knows nothing
of orders; what needs an order — a refund — is done here, through the one refund path
(shop.services.refunds.refund_create_for_late_payment: "RF" + order number, once per order; the
gateway after commit; the coupons and points back when WeChat's notify completes it, once).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import GroupBuySeat, SeatStatus
from campaigns.services.groupbuy import GROUP_FAILED_REASON, groupbuy_due_ids, groupbuy_settle_expired
from core.errors import DomainError
from shop.models import Order, Refund
from shop.services.refunds import refund_create_for_late_payment

logger = logging.getLogger(__name__)

# Seats marked for refund whose order has no refund yet, taken per run by the expiry job's sweep.
SWEEP_BATCH = 200


def group_buy_orders_refund(*, order_ids: list[int], reason: str = GROUP_FAILED_REASON) -> int:
    """Refund in full the paid group-buy orders whose seats campaigns marked for refund (the
    failed-group hook, settings.GROUP_BUY_FAILED_HOOKS). Returns the refunds started.

    Each order is flagged needs_refund — only while it has no full refund yet, so a repeat
    leaves a finished refund alone — and refunded through refund_create_for_late_payment, one
    durable transaction per order. Idempotent: a second call (the job running twice) finds each
    order's refund and starts nothing."""
    started = 0
    for order_id in order_ids:
        has_refund = Refund.objects.filter(order=OuterRef("pk"), after_sale__isnull=True)
        Order.objects.filter(pk=order_id, paid_fen__gt=0).exclude(Exists(has_refund)).update(needs_refund=True)
        before = Refund.objects.filter(order_id=order_id, after_sale__isnull=True).exists()
        refund = refund_create_for_late_payment(order_id=order_id, reason=reason)
        started += int(refund is not None and not before)
    return started


def group_buys_expire(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The expiry job (beat `group-buys.expire`): settle the groups whose time is up and refund the
    orders of those that failed.

    Each due group is settled in its own transaction (campaigns.services.groupbuy
    .groupbuy_settle_expired: simulated completion, else failure with its seats marked for
    refund and their activity stock back, once); the failed-group hook starts the refunds after
    that commits. Then the sweep: any seat marked for refund whose order has no refund yet (a
    hook that failed, a crash between the two) is refunded here. Safe to run twice or on two
    workers at once: a group is settled once (its row lock, SKIP LOCKED), and an order refunded
    once (its refund number)."""
    now = now or timezone.now()
    counts = {"succeeded": 0, "failed": 0, "refunds": 0}
    for group_id in groupbuy_due_ids(now=now):
        outcome = groupbuy_settle_expired(group_id=group_id, now=now)
        if outcome:
            counts[outcome] += 1
    has_refund = Refund.objects.filter(order_id=OuterRef("order_id"), after_sale__isnull=True)
    waiting = list(GroupBuySeat.objects.filter(status=SeatStatus.REFUND).exclude(Exists(has_refund))
                   .order_by("pk").values_list("order_id", "refund_reason")[:SWEEP_BATCH])
    for order_id, reason in waiting:
        try:
            counts["refunds"] += group_buy_orders_refund(order_ids=[order_id], reason=reason or GROUP_FAILED_REASON)
        except DomainError:
            logger.exception("refund of group-buy order %s failed; next run tries again", order_id)
    return counts
