"""Demo after-sales, refunds and reviews, and an operator per console role, so every page an operator
opens from the inbox has rows: a request to review, a large refund awaiting finance's second
approval, one waiting for the buyer's parcel, refunds that reached the buyer and one that failed,
a rejected request, reviews published and reviews held for moderation.

Made once (skipped when any after-sale exists) on the demo's own orders, through the services, each
step at its past moment (demo_clock): the buyer asks shortly after receipt, 客服 reviews, 财务
approves; WeChat's word on a refund is recorded as its verified notify would be. Nothing is queued:
this is history, and the sandbox never held these refunds (shop.demo.sandbox tells it of the paid
trades only).

Reviews go through review_create(), whose text check asks WeChat: while `make run` loads, the sandbox
is not listening yet, so a review with text gets no verdict and waits in 待审核评价 — the service's
own rule for an unavailable check; a rating without text is published at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.utils import timezone

from catalog.models import Sku
from core.audit import Actor
from core.errors import DomainError
from core.jobs import jobs_not_queued
from members.models import Address, Member
from shop.demo.history import demo_clock, demo_pay
from shop.models import (
    AfterSale,
    AfterSaleKind,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    Review,
    ShippingInfoUpload,
    ShippingUploadState,
)
from shop.models.aftersales import AfterSaleReason
from shop.services.aftersales import (
    AfterSaleInput,
    LineRequest,
    after_sale_approve,
    after_sale_reject,
    after_sale_request,
)
from shop.services.orders import CheckoutInput, LineInput, order_confirm_receipt, order_place, order_ship
from shop.services.refunds import refund_record_result
from shop.services.reviews import review_create
from wechat.gateway import RefundNotice, RefundState

# One operator per role, to sign in as (ensure_demo_operator gives them the demo password).
DEMO_OPERATORS = (("kefu", "客服"), ("caiwu", "财务"), ("cangku", "仓库"), ("yunying", "运营"))
REVIEW_TEXTS = ("宝宝很喜欢，包装也很严实，会回购", "味道不错，物流很快，第二天就到了",
                "质量挺好的，和描述一致，给个好评")


def demo_operators() -> dict[str, AbstractBaseUser]:
    """The role operators by role, created once without a password of their own."""
    users: dict[str, AbstractBaseUser] = {}
    for username, role in DEMO_OPERATORS:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = get_user_model().objects.create_user(username=username, is_staff=True)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
        users[role] = user
    return users


def load_after_sales_demo(*, members: list[Member]) -> str:
    """After-sales, refunds and reviews on the demo orders, unless any after-sale exists."""
    operators = demo_operators()
    if AfterSale.objects.exists():
        return "skipped (after-sales exist)"
    service = operators["客服"]
    received = list(Order.objects.filter(status=OrderStatus.RECEIVED, member__in=members).order_by("received_at"))
    shipped = list(Order.objects.filter(status=OrderStatus.SHIPPED, member__in=members).order_by("id"))
    paid = list(Order.objects.filter(status=OrderStatus.PAID, member__in=members).order_by("id"))
    if len(received) < 6 or not shipped or not paid:
        return "skipped (not enough demo orders)"
    with jobs_not_queued():
        # 待审核: bought by mistake, not shipped yet.
        _request(paid[0], AfterSaleKind.REFUND_ONLY, AfterSaleReason.ORDERED_BY_MISTAKE, "拍错颜色了，麻烦退款",
                 at=timezone.now() - dt.timedelta(hours=2))
        # 已拒绝, 待买家退货, 已退款: on received orders, a day after receipt.
        rejected = _request(received[0], AfterSaleKind.RETURN_REFUND, AfterSaleReason.NO_LONGER_WANTED,
                            "买多了，想退一件")
        with demo_clock(_after(received[0], hours=30)):
            after_sale_reject(after_sale=rejected, operator=service, reason="商品已拆封使用，不符合七天无理由退货条件")
        returning = _request(received[-1], AfterSaleKind.RETURN_REFUND, AfterSaleReason.NOT_AS_DESCRIBED,
                             "颜色和图片差别很大")
        with demo_clock(_after(received[-1], hours=26)):
            after_sale_approve(after_sale=returning, operator=service)
        _refunded(received[1], service, RefundState.SUCCESS)
        _refunded(received[2], service, RefundState.SUCCESS)
        # 退款失败: WeChat could not return the money (the buyer's card was closed).
        _refunded(received[3], service, RefundState.CHANGE)
        # 待二审: above the second-approval line, reviewed by 客服, waiting for 财务.
        large = _large_order(members)
        if large is not None:
            waiting = _request(large, AfterSaleKind.REFUND_ONLY, AfterSaleReason.QUALITY, "两件都有明显划痕",
                               everything=True, at=timezone.now() - dt.timedelta(hours=5))
            with demo_clock(timezone.now() - dt.timedelta(hours=4)):
                after_sale_approve(after_sale=waiting, operator=service)
    _reviews(received[4:])
    return "created"


def _after(order: Order, *, hours: float) -> dt.datetime:
    return (order.received_at or order.paid_at or timezone.now()) + dt.timedelta(hours=hours)


def _request(order: Order, kind: str, reason: str, description: str, *, everything: bool = False,
             at: dt.datetime | None = None) -> AfterSale:
    """The buyer asks for one unit of the first line (or every unit of every line), a day after receipt."""
    lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    wanted = [(line, line.quantity) for line in lines] if everything else [(lines[0], 1)]
    data = AfterSaleInput(order_no=order.order_no, kind=kind, reason=reason, description=description,
                          lines=tuple(LineRequest(line.pk, quantity) for line, quantity in wanted))
    with demo_clock(at or _after(order, hours=20)):
        after_sale, _ = after_sale_request(member=order.member, data=data,
                                           idempotency_key=f"demo-after-sale-{order.order_no}")
    return after_sale


def _refunded(order: Order, operator: AbstractBaseUser, state: str) -> None:
    """仅退款 of one unit, approved by 客服, and WeChat's word on the refund an hour later."""
    after_sale = _request(order, AfterSaleKind.REFUND_ONLY, AfterSaleReason.QUALITY, "收到有破损，拍照为证")
    with demo_clock(_after(order, hours=24)):
        after_sale_approve(after_sale=after_sale, operator=operator)
    refund = Refund.objects.select_related("payment").filter(after_sale=after_sale).first()
    if refund is None:
        return
    with demo_clock(_after(order, hours=25)):
        refund_record_result(notice=RefundNotice(
            out_refund_no=refund.out_refund_no, refund_id=f"50300{refund.pk:012d}",
            out_trade_no=refund.payment.out_trade_no, status=state, amount_fen=refund.amount_fen,
            total_fee_fen=refund.payment.amount_fen,
            succeeded_at=timezone.now() if state == RefundState.SUCCESS else None), source="demo")


def _large_order(members: Sequence[Member]) -> Order | None:
    """Two units of a dear SKU, paid, shipped and received two days ago: above the second-approval line."""
    threshold = settings.REFUND_SECOND_APPROVAL_ABOVE_FEN
    sku = (Sku.objects.filter(is_active=True, product__is_on_shelf=True, price_fen__gt=threshold // 2,
                              stock__available__gte=5).order_by("-price_fen").first())
    buyer = next((m for m in members if Address.objects.filter(member=m).exists()), None)
    if sku is None or buyer is None:
        return None
    address = Address.objects.filter(member=buyer).order_by("id").first()
    assert address is not None
    start = timezone.now() - dt.timedelta(days=4)
    with demo_clock(start):
        order, _ = order_place(member=buyer, data=CheckoutInput(items=(LineInput(sku_id=sku.pk, quantity=2),),
                                                                address_id=address.pk),
                               idempotency_key="demo-order-large-refund")
    with demo_clock(start + dt.timedelta(minutes=5)):
        demo_pay(order)
    with demo_clock(start + dt.timedelta(hours=6)):
        order_ship(order=order, carrier="顺丰速运", tracking_no="SF100200300400")
        # As the loader's history: the shipping info reached WeChat back then.
        ShippingInfoUpload.objects.filter(order=order).update(
            state=ShippingUploadState.UPLOADED, uploaded_at=timezone.now(), next_attempt_at=None)
    with demo_clock(start + dt.timedelta(days=2)):
        order_confirm_receipt(order=Order.objects.get(pk=order.pk), actor=Actor.MEMBER)
    return Order.objects.get(pk=order.pk)


def _reviews(orders: Sequence[Order]) -> None:
    """A review per line of some received orders: a few with text (held while WeChat's check is
    unavailable), the rest stars only (published)."""
    texts = list(REVIEW_TEXTS)
    for order in orders[:6]:
        for line in OrderLine.objects.filter(order=order).order_by("id"):
            if Review.objects.filter(order_line=line).exists():
                continue
            content = texts.pop(0) if texts else ""
            try:
                with demo_clock(_after(order, hours=40)):
                    review_create(member=order.member, line_id=line.pk, rating=5 if content else 4, content=content)
            except DomainError:
                continue  # a line refunded meanwhile cannot be reviewed
