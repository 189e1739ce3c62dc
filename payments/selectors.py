"""Reads of the payments core."""

from __future__ import annotations

from payments.models import Payment, PaymentStatus


def payment_paid(*, kind: str, out_trade_no: str) -> Payment | None:
    """The payable's trade if WeChat said it was paid; None otherwise. One query."""
    return Payment.objects.filter(kind=kind, out_trade_no=out_trade_no, status=PaymentStatus.PAID).first()
