"""History for the demo: a clock moved back for the loader's own process, and payments recorded as
WeChat's verified notify would record them (the demo's trades never went through the sandbox;
shop.demo.sandbox tells it of them once it listens)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from django.utils import timezone

from payments.models import Payment
from payments.services import payment_record_paid
from shop.models import ORDER_PAYABLE_KIND, Order
from wechat.gateway import PaymentNotice


@contextmanager
def demo_clock(at: dt.datetime) -> Iterator[None]:
    """Make Django's `timezone.now()` start at `at` and run on from there."""
    real_now = timezone.now
    started = real_now()

    def fake_now() -> dt.datetime:
        return at + (real_now() - started)

    with mock.patch("django.utils.timezone.now", fake_now):
        yield


def demo_pay(order: Order) -> None:
    """Record the payment exactly as a verified WeChat notify would."""
    payment, _ = Payment.objects.get_or_create(
        out_trade_no=order.order_no, defaults={"kind": ORDER_PAYABLE_KIND, "amount_fen": order.payable_fen})
    payment_record_paid(
        notice=PaymentNotice(out_trade_no=payment.out_trade_no, transaction_id=f"4200{order.order_no}",
                             amount_fen=payment.amount_fen, paid_at=timezone.now()),
        source="demo",
    )
