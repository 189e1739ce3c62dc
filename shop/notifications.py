"""What the shop tells shoppers through WeChat subscribe messages.

Each function is called inside the transaction that made the change and defers its work with
transaction.on_commit, so nothing is sent for a change that rolled back and no WeChat call runs
inside a transaction. The sending itself (credits, field limits, retries, the message log) lives
in the wechat app: here we only pick the values each template shows.

A notification must never undo the change it tells about: building it runs in a savepoint, and
a failure is logged and swallowed (the payment, the shipment, the refund stand).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from shop.models import AfterSale, AfterSaleKind, Carrier, Order, OrderLine, Shipment, ShipmentLine
from wechat.messages import Suffixed, subscribe_message_queue

logger = logging.getLogger(__name__)

# After-sales events the shopper hears about: (status phrase ≤ 5 汉字, what happens next).
AFTER_SALE_EVENTS = {
    "approved": "审核通过",
    "rejected": "审核未通过",
    "refunded": "退款成功",
}
AFTER_SALE_REMARKS: dict[tuple[str, str], str] = {
    ("approved", AfterSaleKind.RETURN_REFUND): "请寄回商品并在小程序填写退货单号",
    ("approved", AfterSaleKind.REFUND_ONLY): "退款将原路退回，请留意到账",
    ("refunded", AfterSaleKind.RETURN_REFUND): "退款已原路退回，请注意查收",
    ("refunded", AfterSaleKind.REFUND_ONLY): "退款已原路退回，请注意查收",
}
REJECTED_WITHOUT_REASON = "如有疑问请联系客服"


def notify_order_paid(*, order_id: int) -> None:
    """订单支付成功: order number, amount paid, goods, time paid."""
    _queue_safely("order_paid", order_id, lambda: _order_paid(order_id))


def notify_order_shipped(*, order_id: int, shipment_id: int) -> None:
    """订单发货提醒: one message per package, with its carrier and tracking number."""
    _queue_safely("order_shipped", shipment_id, lambda: _order_shipped(order_id, shipment_id))


def notify_after_sale_progress(*, after_sale_id: int, event: str) -> None:
    """售后进度: `event` is approved, rejected (the reason is shown) or refunded.

    Raises ValueError for any other event: that is a mistake in the caller, not a runtime state.
    """
    if event not in AFTER_SALE_EVENTS:
        raise ValueError(f"unknown after-sale event {event!r}; expected one of {sorted(AFTER_SALE_EVENTS)}")
    _queue_safely("after_sale_progress", after_sale_id, lambda: _after_sale_progress(after_sale_id, event))


def _queue_safely(what: str, object_id: int, build: Callable[[], None]) -> None:
    try:
        with transaction.atomic():
            build()
    except Exception:  # a message must never roll back the change it is about
        logger.exception("subscribe message %s for %s was not queued", what, object_id)


def _order_paid(order_id: int) -> None:
    order = Order.objects.select_related("member").get(pk=order_id)
    subscribe_message_queue(
        member_id=order.member_id, openid=order.member.openid, template_key="order_paid",
        reference=order.order_no,
        values={
            "order_no": order.order_no,
            "amount": order.paid_fen or order.payable_fen,
            "goods": goods_summary(OrderLine.objects.filter(order_id=order.pk).order_by("id")
                                   .values_list("product_name", "quantity")),
            "paid_at": order.paid_at or timezone.now(),
        },
    )


def _order_shipped(order_id: int, shipment_id: int) -> None:
    shipment = Shipment.objects.select_related("order__member").get(pk=shipment_id, order_id=order_id)
    order = shipment.order
    packed = list(ShipmentLine.objects.filter(shipment=shipment).order_by("order_line_id")
                  .values_list("order_line__product_name", "quantity"))
    if not packed:  # a package recorded without its lines holds the whole order
        packed = list(OrderLine.objects.filter(order_id=order.pk).order_by("id")
                      .values_list("product_name", "quantity"))
    subscribe_message_queue(
        member_id=order.member_id, openid=order.member.openid, template_key="order_shipped",
        reference=f"{order.order_no}:{shipment.pk}",
        values={
            "order_no": order.order_no,
            "goods": goods_summary(packed),
            "carrier": carrier_name(shipment.carrier),
            "tracking_no": shipment.tracking_no,
            "shipped_at": shipment.shipped_at or timezone.now(),
        },
    )


def _after_sale_progress(after_sale_id: int, event: str) -> None:
    after_sale = AfterSale.objects.select_related("member").get(pk=after_sale_id)
    if event == "rejected":
        remark = after_sale.reject_reason.strip() or REJECTED_WITHOUT_REASON
    else:
        remark = AFTER_SALE_REMARKS.get((event, after_sale.kind),
                                        AFTER_SALE_REMARKS[(event, AfterSaleKind.REFUND_ONLY)])
    subscribe_message_queue(
        member_id=after_sale.member_id, openid=after_sale.member.openid, template_key="after_sale_progress",
        reference=f"{after_sale.after_sale_no}:{event}",
        values={
            "after_sale_no": after_sale.after_sale_no,
            "status": AFTER_SALE_EVENTS[event],
            "amount": after_sale.amount_fen,
            "remark": remark,
            "updated_at": timezone.now(),
        },
    )


def goods_summary(lines: Iterable[tuple[str, int]]) -> Suffixed | str:
    """The goods in a few words: "有机奶粉 ×2", or "有机奶粉等5件" for several lines; the count
    survives when the name is cut to fit WeChat's 20 characters."""
    rows = list(lines)
    if not rows:
        return "商品"
    name, quantity = rows[0]
    if len(rows) == 1:
        return Suffixed(name, f" ×{quantity}") if quantity > 1 else name
    return Suffixed(name, f"等{sum(q for _, q in rows)}件")


def carrier_name(carrier: str) -> str:
    """The carrier as shoppers know it: a WeChat delivery_id code (SF) becomes 顺丰速运."""
    labels = dict(Carrier.choices)
    return str(labels.get(carrier, carrier))
