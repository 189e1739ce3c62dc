"""Helpers for the after-sales and refund tests (this module holds no tests).

Orders are placed, paid and shipped through the real services; payments go through the WeChat
sandbox (unifiedorder, pay, orderquery), so refunds later find a real paid trade there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Sku
from members.models import Member
from payments.services import payment_gateway, payment_record_paid
from shop import pricing
from shop.models import AfterSale, Order, OrderLine
from shop.services.aftersales import AfterSaleInput, LineRequest, after_sale_request
from shop.services.orders import CheckoutInput, LineInput, order_confirm_receipt, order_place, order_ship
from shop.services.payments import order_prepay
from wechat.pay_v2 import NOTIFY_ACK
from wechat.sandbox.client import SandboxControl


def order_discount(monkeypatch: Any, amount_fen: int, *, label: str = "优惠券满减") -> None:
    """An order-level discount (like a coupon) allocated to the lines by the pricing pipeline."""

    def coupon(lines: list[pricing.PricedLine], ctx: pricing.PricingContext,
               run: pricing.PricingRun) -> list[pricing.Adjustment | None]:
        return pricing.allocate_discount(lines, amount_fen, stage="coupon", label=label, reference="TEST-COUPON")

    stages = [(name, coupon if name == "coupon" else stage) for name, stage in pricing.GOODS_STAGES]
    monkeypatch.setattr(pricing, "GOODS_STAGES", stages)


def place(member: Member, items: Sequence[tuple[Sku, int]]) -> Order:
    order, _ = order_place(member=member, data=CheckoutInput(items=tuple(LineInput(s.pk, q) for s, q in items)))
    return order


def pay(order: Order) -> Order:
    """Pay the order at the sandbox and record it as the auto-cancel job would (orderquery)."""
    order_prepay(member=order.member, order_no=order.order_no, client_ip="203.0.113.9")
    SandboxControl(settings.WECHAT_API_BASE).pay(order.order_no, notify=False)
    answer = payment_gateway().query(out_trade_no=order.order_no)
    assert answer.notice is not None
    payment_record_paid(notice=answer.notice, source="orderquery")
    return Order.objects.get(pk=order.pk)


def paid_order(member: Member, items: Sequence[tuple[Sku, int]]) -> Order:
    return pay(place(member, items))


def ship(order: Order, tracking_no: str = "SF1000000001") -> Order:
    order_ship(order=order, carrier="顺丰速运", tracking_no=tracking_no)
    return Order.objects.get(pk=order.pk)


def receive(order: Order, *, days_ago: float = 0) -> Order:
    order_confirm_receipt(order=order)
    if days_ago:
        Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - dt.timedelta(days=days_ago))
    return Order.objects.get(pk=order.pk)


def lines_of(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order=order).order_by("id"))


def ask(member: Member, order: Order, quantities: dict[OrderLine, int] | Sequence[tuple[OrderLine, int]], *,
        kind: str = "refund_only", reason: str = "quality", photo_ids: Sequence[int] = (),
        description: str = "", key: str | None = None) -> AfterSale:
    pairs = quantities.items() if isinstance(quantities, dict) else quantities
    data = AfterSaleInput(order_no=order.order_no, kind=kind, reason=reason, description=description,
                          lines=tuple(LineRequest(line.pk, q) for line, q in pairs), photo_ids=tuple(photo_ids))
    after_sale, _ = after_sale_request(member=member, data=data, idempotency_key=key)
    return after_sale


def operator(username: str) -> Any:
    return get_user_model().objects.create_superuser(username, f"{username}@example.com", "a-long-password-1")


@contextlib.contextmanager
def celery_eager() -> Iterator[None]:
    """Tasks queued with .delay() run at once in the calling thread (after the commit that
    queued them, since they are queued from on_commit)."""
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


class Recorder:
    """An HTTP server standing in for our notify endpoint: records bodies, answers SUCCESS."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", str(len(NOTIFY_ACK)))
                self.end_headers()
                self.wfile.write(NOTIFY_ACK)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
