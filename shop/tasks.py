"""Celery tasks: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

from celery import shared_task

from shop.services.orders import order_confirm_overdue_receipts
from shop.services.payments import order_cancel_expired


@shared_task(name="shop.tasks.cancel_expired_orders")
def cancel_expired_orders() -> dict[str, int]:
    return order_cancel_expired()


@shared_task(name="shop.tasks.confirm_overdue_receipts")
def confirm_overdue_receipts() -> int:
    return order_confirm_overdue_receipts()
