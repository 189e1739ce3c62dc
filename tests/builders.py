"""Builders for the rows most tests start from: orders at each stage, their payment, after-sales.

One way to make each, through the real services, so a test's "given" is a state the shop can
actually reach: placement is `order_place`, a payment is a signed WeChat notification posted to
our notify endpoint (`payment_handle_notify` behind the view WeChat calls), shipping is
`order_ship`, receipt `order_confirm_receipt`, an after-sale `after_sale_request`, WeChat's word
that a refund succeeded `refund_notice` (for `refund_record_result`), WeChat's verdict on a member
photo `media_check_verdict` (through `media_check_record_verdict`).

Paying works with or without the WeChat sandbox. Pass the `sandbox` fixture's control when the
test later needs WeChat to know the trade (a refund, a shipping-info upload, an orderquery): the
order is prepaid and paid at the sandbox first and the notification carries WeChat's transaction
id. Without it, the trade exists in our books only (the row payments' payment_prepay stores before it calls
WeChat) and the notification carries a transaction id of our own.

Tests that deliberately build a state the services cannot reach (an inconsistent row for a
reconcile test, a status forced for a transition-table test) build it themselves, in the test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import FlashItem
from catalog.models import Sku
from core.audit import Actor
from members.models import Member
from payments.models import Payment
from shop import pricing
from shop.models import ORDER_PAYABLE_KIND, AfterSale, Order, OrderLine, OrderStatus, Refund
from shop.services.aftersales import AfterSaleInput, LineRequest, after_sale_request
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_confirm_receipt, order_place, order_ship
from shop.services.payments import order_prepay
from tests.factories import AddressFactory, MemberFactory
from wechat.gateway import RefundNotice
from wechat.media_checks import MediaVerdict, media_check_record_verdict, media_check_submit
from wechat.models import MediaCheck
from wechat.pay_v2 import NOTIFY_ACK
from wechat.sandbox.client import SandboxControl
from wechat.sandbox.wire import format_time, signed, to_xml

Lines = Sequence[tuple[Sku, int]]
LineQuantities = Mapping[OrderLine, int] | Sequence[tuple[OrderLine, int]]

# Transaction ids of payments WeChat never saw (no sandbox): unique per test run, WeChat's shape.
_transaction_ids = itertools.count(1)


def buyer(**member_fields: Any) -> Member:
    """A member with a default address (浙江省杭州市), ready to place orders."""
    member: Member = AddressFactory.create(member=MemberFactory.create(**member_fields)).member
    return member


def placed_order(*, member: Member | None = None, lines: Lines, coupon_ids: tuple[int, ...] | None = None,
                 points: int = 0, flash: FlashItem | None = None) -> Order:
    """An unpaid order of `lines` [(sku, quantity)] to the member's default address, placed by
    `order_place` (stock taken, coupons locked, points spent); by a new buyer() unless `member`
    is given. `coupon_ids` None lets checkout pick the best coupons, as the API does; () uses
    none. With `flash`, the line of the flash item's SKU is bought at the flash-sale price."""
    items = tuple(LineInput(sku.pk, quantity, flash.pk if flash is not None and flash.sku_id == sku.pk else None)
                  for sku, quantity in lines)
    order, _ = order_place(member=member or buyer(),
                           data=CheckoutInput(items=items, coupon_ids=coupon_ids, points=points))
    return order


def pay(order: Order, *, sandbox: SandboxControl | None = None, paid_at: dt.datetime | None = None) -> Order:
    """Pay `order` in full and return it fresh from the database.

    WeChat's signed payment notification is posted to our notify endpoint, which must answer
    SUCCESS. With `sandbox`, the trade is prepaid (order_prepay) and paid at the WeChat sandbox
    first, and the notification says what WeChat recorded. `paid_at` is the payment time the
    notification carries (default now).
    """
    order = Order.objects.select_related("member").get(pk=order.pk)
    if sandbox is not None:
        order_prepay(member=order.member, order_no=order.order_no, client_ip="203.0.113.9")
        sandbox.pay(order.order_no, notify=False)
        transaction_id = sandbox.trade(order.order_no)["transaction_id"]
    else:
        # What payments.services.payment_prepay stores before it asks WeChat for a prepay id.
        Payment.objects.get_or_create(out_trade_no=order.order_no,
                                      defaults={"kind": ORDER_PAYABLE_KIND, "amount_fen": order.payable_fen})
        transaction_id = f"42000{timezone.localdate():%Y%m%d}{next(_transaction_ids):015d}"
    body = payment_notification(out_trade_no=order.order_no, transaction_id=transaction_id,
                                amount_fen=order.payable_fen, openid=order.member.openid,
                                paid_at=paid_at or timezone.now())
    response = Client().post(reverse("payment-wechat-notify"), body, content_type="text/xml")
    assert (response.status_code, response.content) == (200, NOTIFY_ACK), response.content
    return Order.objects.get(pk=order.pk)


def payment_notification(*, out_trade_no: str, transaction_id: str, amount_fen: int, openid: str,
                         paid_at: dt.datetime) -> bytes:
    """The body of WeChat Pay v2's payment notification, signed with our merchant key."""
    fields = {
        "appid": settings.WECHAT_APP_ID, "mch_id": settings.WECHAT_MCH_ID, "return_code": "SUCCESS",
        "result_code": "SUCCESS", "openid": openid, "is_subscribe": "N", "trade_type": "JSAPI",
        "bank_type": "OTHERS", "fee_type": "CNY", "total_fee": str(amount_fen), "cash_fee": str(amount_fen),
        "transaction_id": transaction_id, "out_trade_no": out_trade_no, "time_end": format_time(paid_at),
    }
    return to_xml(dict(sorted(signed(fields, settings.WECHAT_PAY_API_KEY).items())))


def paid_order(*, member: Member | None = None, lines: Lines, sandbox: SandboxControl | None = None,
               paid_at: dt.datetime | None = None, coupon_ids: tuple[int, ...] | None = None,
               points: int = 0) -> Order:
    """placed_order() then pay(): an order waiting to be shipped (待发货)."""
    order = placed_order(member=member, lines=lines, coupon_ids=coupon_ids, points=points)
    return pay(order, sandbox=sandbox, paid_at=paid_at)


def ship(order: Order, *, carrier: str = "顺丰速运", tracking_no: str = "SF1000000001") -> Order:
    """Ship everything the order still owes as one package (order_ship)."""
    order_ship(order=order, carrier=carrier, tracking_no=tracking_no)
    return Order.objects.get(pk=order.pk)


def receive(order: Order, *, days_ago: float = 0) -> Order:
    """The shopper confirms receipt (order_confirm_receipt); `days_ago` moves the receipt back in
    time, for tests of windows that count from it."""
    order_confirm_receipt(order=order)
    if days_ago:
        Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - dt.timedelta(days=days_ago))
    return Order.objects.get(pk=order.pk)


def order_up_to(status: str, *, member: Member | None = None, lines: Lines, sandbox: SandboxControl | None = None,
                paid_at: dt.datetime | None = None) -> Order:
    """An order moved through the lifecycle by its services up to `status`: pending payment,
    cancelled (by the shopper, unpaid), paid, shipped or received."""
    order = placed_order(member=member, lines=lines)
    if status == OrderStatus.PENDING_PAYMENT:
        return order
    if status == OrderStatus.CANCELLED:
        return order_cancel(order=order, reason="买家取消", actor=Actor.MEMBER)
    path = [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED]
    if status not in path:
        raise ValueError(f"order_up_to() cannot reach {status!r}")
    order = pay(order, sandbox=sandbox, paid_at=paid_at)
    if status in (OrderStatus.SHIPPED, OrderStatus.RECEIVED):
        order = ship(order)
    if status == OrderStatus.RECEIVED:
        order = receive(order)
    return order


def received_order(*, member: Member | None = None, lines: Lines) -> Order:
    """order_up_to(received): placed, paid, shipped and received just now."""
    return order_up_to(OrderStatus.RECEIVED, member=member, lines=lines)


def lines_of(order: Order) -> list[OrderLine]:
    """The order's lines in the order they were placed."""
    return list(OrderLine.objects.filter(order=order).order_by("id"))


def requested_after_sale(*, order: Order, lines: LineQuantities, member: Member | None = None,
                         kind: str = "refund_only", reason: str = "quality", description: str = "",
                         photo_ids: Sequence[int] = (), key: str | None = None) -> AfterSale:
    """An after-sale request for `lines` {order line: quantity} of `order`, by its buyer unless
    `member` says otherwise (after_sale_request: counters checked, amounts allocated)."""
    pairs = lines.items() if isinstance(lines, Mapping) else lines
    data = AfterSaleInput(order_no=order.order_no, kind=kind, reason=reason, description=description,
                          lines=tuple(LineRequest(line.pk, quantity) for line, quantity in pairs),
                          photo_ids=tuple(photo_ids))
    created, _ = after_sale_request(member=member or order.member, data=data, idempotency_key=key)
    return created


def refund_notice(refund: Refund, *, refund_id: str | None = None) -> RefundNotice:
    """WeChat's word that `refund` succeeded, as the gateway hands it over once verified (pass it
    to refund_record_result). `refund_id` is WeChat's refund id (default: one per refund)."""
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    return RefundNotice(out_refund_no=refund.out_refund_no, refund_id=refund_id or f"50300{refund.pk:012d}",
                        out_trade_no=refund.payment.out_trade_no, status="SUCCESS", amount_fen=refund.amount_fen,
                        total_fee_fen=refund.payment.amount_fen, succeeded_at=timezone.now())


def media_check_verdict(check_id: int | None, suggest: str = "pass", *, sandbox: SandboxControl) -> str:
    """WeChat's verdict on a member photo's image check, as the message push hands it over once
    verified (media_check_record_verdict). A check not submitted yet is submitted to the sandbox
    first (its member must be a user the sandbox knows), with the sandbox's own push held back."""
    assert check_id is not None, "the photo has no image check"
    check = MediaCheck.objects.get(pk=check_id)
    if check.trace_id is None:
        sandbox.media_check_options(auto_push=False)
        assert media_check_submit(check_id=check_id).state == "submitted"
        check.refresh_from_db()
    assert check.trace_id is not None
    return media_check_record_verdict(verdict=MediaVerdict(trace_id=check.trace_id, suggest=suggest, label=None))


def order_discount(monkeypatch: pytest.MonkeyPatch, amount_fen: int, *, label: str = "优惠券满减") -> None:
    """From now on every order gets an order-level discount of `amount_fen` (like a coupon),
    allocated to its lines by the pricing pipeline's own helper in the coupon stage."""

    def coupon(lines: list[pricing.PricedLine], ctx: pricing.PricingContext,
               run: pricing.PricingRun) -> list[pricing.Adjustment | None]:
        return pricing.allocate_discount(lines, amount_fen, stage="coupon", label=label, reference="TEST-COUPON")

    stages = [(name, coupon if name == "coupon" else stage) for name, stage in pricing.GOODS_STAGES]
    monkeypatch.setattr(pricing, "GOODS_STAGES", stages)


def operator(username: str) -> AbstractUser:
    """A console user allowed everything (a superuser), for services that record who acted."""
    user: Any = get_user_model().objects.create_superuser(username, f"{username}@example.com", "a-long-password-1")
    return user
