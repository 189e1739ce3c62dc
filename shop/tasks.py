"""Celery tasks: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from shop.services.groupbuy import group_buys_expire
from shop.services.orders import order_confirm_overdue_receipts
from shop.services.payments import order_cancel_expired
from shop.services.privacy import orders_anonymise_expired
from shop.services.reconcile import counters_reconcile


@shared_task(name="shop.tasks.cancel_expired_orders")
def cancel_expired_orders() -> dict[str, int]:
    return order_cancel_expired()


@shared_task(name="shop.tasks.expire_group_buys")
def expire_group_buys() -> dict[str, int]:
    """Groups past their time settled (simulated completion or failure); failed groups' orders refunded."""
    return group_buys_expire()


@shared_task(name="shop.tasks.confirm_overdue_receipts")
def confirm_overdue_receipts() -> int:
    return order_confirm_overdue_receipts()


@shared_task(name="shop.tasks.anonymise_expired_orders")
def anonymise_expired_orders() -> dict[str, int]:
    """Deleted members' orders past ORDER_PII_RETENTION_DAYS anonymised (and any left unmasked, masked)."""
    return orders_anonymise_expired()


@shared_task(name="shop.tasks.reconcile_counters")
def reconcile_counters() -> dict[str, Any]:
    """Sales counts, coupon used counts and members' paid totals against the rows they count;
    drifts are repaired, logged and returned. Commission balances against their ledger: reported."""
    report = counters_reconcile()
    return {"drifts": [asdict(drift) for drift in report.drifts], "skipped": report.skipped,
            "commission_drifts": [asdict(drift) for drift in report.commission_drifts]}


# --- shipping ---------------------------------------------------------------------------------------


@shared_task(bind=True, name="shop.tasks.upload_shipping_info", max_retries=None)
def upload_shipping_info(self, order_id: int) -> str:  # type: ignore[no-untyped-def]
    """Upload an order's shipping info to WeChat; transient failures retry with backoff."""
    from shop.services.shipping_upload import shipping_upload_attempt

    outcome = shipping_upload_attempt(order_id=order_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="shop.tasks.sweep_shipping_uploads")
def sweep_shipping_uploads() -> int:
    """Queue every upload whose retry time (or a dead worker's lease) has passed."""
    from shop.services.shipping_upload import shipping_upload_due

    due = shipping_upload_due()
    for order_id in due:
        upload_shipping_info.delay(order_id)
    return len(due)


@shared_task(name="shop.tasks.refresh_tracking")
def refresh_tracking() -> dict[str, int]:
    """Ask the logistics provider about packages in transit; cache checkpoints on each."""
    from shop.services.shipping import shipment_refresh_tracking

    return shipment_refresh_tracking()


# --- after-sales and refunds ------------------------------------------------------------------------


@shared_task(name="shop.tasks.submit_refund")
def submit_refund(refund_id: int) -> str:
    """Send one PENDING refund to WeChat Pay (queued after the commit that created it)."""
    from shop.services.refunds import refund_submit

    refund = refund_submit(refund_id=refund_id)
    return refund.status if refund is not None else "missing"


@shared_task(name="shop.tasks.process_refunds")
def process_refunds() -> dict[str, int]:
    """Refund paid-but-cancelled orders, resubmit refunds stuck before WeChat, query late ones."""
    from shop.services.refunds import refunds_process_due

    return refunds_process_due()


@shared_task(name="shop.tasks.purge_after_sale_photo_uploads")
def purge_after_sale_photo_uploads() -> int:
    """Delete after-sales photo uploads never used in a request within a day."""
    from shop.services.aftersales import after_sale_photos_purge

    return after_sale_photos_purge()


# --- reviews ----------------------------------------------------------------------------------------


@shared_task(name="shop.tasks.auto_positive_reviews")
def auto_positive_reviews() -> int:
    """5★ 默认好评 for lines not reviewed REVIEW_AUTO_POSITIVE_DAYS after receipt (batched, idempotent)."""
    from shop.services.reviews import review_auto_positive

    return review_auto_positive()


@shared_task(name="shop.tasks.purge_review_photo_uploads")
def purge_review_photo_uploads() -> int:
    """Delete review photo uploads never attached to a review within a day."""
    from shop.services.reviews import review_photo_purge_unattached

    return review_photo_purge_unattached()
