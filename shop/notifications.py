"""What the shop tells shoppers through WeChat subscribe messages.

Each function is called inside the transaction that made the change and defers its work with
transaction.on_commit, so nothing is sent for a change that rolled back and no WeChat call runs
inside a transaction. The sending itself (credits, field limits, retries, the message log) lives
in the wechat app.
"""

from __future__ import annotations


def notify_order_paid(*, order_id: int) -> None:
    """订单支付成功."""


def notify_order_shipped(*, order_id: int, shipment_id: int) -> None:
    """订单发货提醒: carrier and tracking number."""


def notify_after_sale_progress(*, after_sale_id: int, event: str) -> None:
    """售后进度: approved, rejected (with the reason), refunded."""
