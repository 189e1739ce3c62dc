"""Refunds: money back through the payment gateway, exactly once, never more than was paid.

A Refund row is created in the transaction that decides it (an approved after-sale, a
confirmed return, a payment that reached a cancelled order); after commit a Celery task calls
the gateway (`refund_submit`), never inside a transaction. WeChat accepts (PROCESSING) and later
notifies the outcome; `refund_record_result` — idempotent per WeChat refund id — moves the refund
to SUCCEEDED and, in the same transaction, the order's and lines' refunded counters, the order's
refund state (部分退款 / 已全额退款, derived from its lines) and the after-sale.

Status changes only through `shop.models.aftersales.REFUND_MACHINE.transition()` (table:
REFUND_TRANSITIONS; a late answer about an earlier stage is ignored, REFUND_PROGRESS; audit:
RefundEvent). Locks follow the global order (docs/architecture.md, "Lock order"): the order row,
then the after-sale, then the refund, then the coupons, the member and their points lots, and
stock last. A refund takes back what the order counted: the member's paid total (and paid order
count on a full refund) in the refund's transaction, the products' sales counts after it commits.

Failures: a refusal (NOTENOUGH, amount...) makes the refund FAILED at once — visible in the
console with its error and retryable (重试) under the same out_refund_no, which WeChat refunds at
most once. An unknown outcome (network, SYSTEMERROR) stays PENDING and the beat job
(`refunds_process_due`) tries again, up to REFUND_MAX_AUTO_ATTEMPTS, then FAILED. The same job
creates refunds for orders flagged `needs_refund` and asks WeChat about refunds whose
notification is late.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone

from campaigns.services.checkout import campaign_refund
from campaigns.services.commissions import RefundedLine, commission_reverse_for_refund
from campaigns.services.sharing import share_order_refunded
from catalog.selectors import stock_released
from catalog.services import product_sales_count_after_commit, stock_quantities, stock_release
from core.audit import Actor
from core.db import require_transaction
from core.errors import Conflict, DomainError
from core.jobs import enqueue_after_commit
from core.money import yuan
from core.tracking import track
from members.services import growth_reverse_for_refund, points_return_for_refund, points_reverse_for_refund
from members.services.purchases import member_record_refund
from payments.selectors import payment_paid
from payments.services import NotifyOutcome, payment_gateway
from shop.errors import RefundExceedsPaid, RefundNotFound
from shop.models import (
    ORDER_PAYABLE_KIND,
    AfterSale,
    AfterSaleStatus,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundNotification,
    RefundState,
    RefundStatus,
)
from shop.models.aftersales import AFTER_SALE_MACHINE, REFUND_MACHINE, AfterSaleAction, RefundAction
from shop.models.orders import ORDER_MACHINE, OrderAction, revived_points_reference
from shop.notifications import notify_after_sale_progress
from wechat.errors import RefundRefused, WechatApiError
from wechat.gateway import RefundNotice
from wechat.gateway import RefundState as GatewayRefundState

logger = logging.getLogger(__name__)

Status = RefundStatus
LATE_PAYMENT_REASON = "订单已取消，退还付款"


class UnknownRefund(DomainError):
    status = 400
    code = "unknown_refund"
    message = "退款通知对应的退款单不存在"


class RefundAmountMismatch(DomainError):
    status = 400
    code = "refund_amount_mismatch"
    message = "退款通知的金额或订单与退款单不一致"


class NoPaidPayment(Conflict):
    code = "payment_not_found"
    message = "该订单没有已支付的付款记录，无法退款"



# --- creating refunds --------------------------------------------------------------------------------


def refund_start_for_after_sale(*, order: Order, after_sale: AfterSale, actor: str,
                                operator: AbstractBaseUser | None = None) -> AfterSale:
    """Restock (if the after-sale says so) and refund an approved after-sale.

    Inside the caller's transaction, with the order and after-sale rows locked. Stock comes
    back once per after-sale (its number is the stock ledger's release reference), last, after
    every other row this takes (the global lock order). A zero amount (a free gift line)
    completes at once, taking its units out of what the order counted (_uncount_refund);
    otherwise a PENDING refund, numbered with the after-sale number, goes to the gateway after
    commit.
    """
    require_transaction("refund_start_for_after_sale")
    restock = after_sale.restock and not stock_released(reference=after_sale.after_sale_no)
    if restock:
        AFTER_SALE_MACHINE.record(after_sale, action=AfterSaleAction.RESTOCKED, actor=actor, operator=operator,
                                  note="商品已退回库存")
    if after_sale.amount_fen == 0:
        after_sale, _ = AFTER_SALE_MACHINE.transition(pk=after_sale.pk, to=AfterSaleStatus.REFUNDED,
                                                      action=AfterSaleAction.REFUNDED, actor=actor, operator=operator,
                                                      note="退款金额为 0，无需退款")
        units = _after_sale_units(after_sale)
        _count_after_sale_lines(order, after_sale)
        state = _refresh_refund_state(order.pk)
        _uncount_refund(order, reference=after_sale.after_sale_no, amount_fen=0, units=units, state=state)
        notify_after_sale_progress(after_sale_id=after_sale.pk, event="refunded")
    else:
        _refund_create(order=order, after_sale=after_sale, amount_fen=after_sale.amount_fen,
                       out_refund_no=after_sale.after_sale_no, reason=after_sale.get_reason_display(), actor=actor,
                       operator=operator)
        after_sale, _ = AFTER_SALE_MACHINE.transition(
            pk=after_sale.pk, to=AfterSaleStatus.REFUNDING, action=AfterSaleAction.REFUND_STARTED, actor=actor,
            operator=operator, note=f"发起退款 ¥{yuan(after_sale.amount_fen)}")
    if restock:
        # Last: a hot SKU's stock row stays locked only until the commit.
        pairs = after_sale.lines.values_list("order_line__sku_id", "quantity")
        stock_release(quantities=stock_quantities(pairs), reference=after_sale.after_sale_no)
    return after_sale


def _refund_create(*, order: Order, after_sale: AfterSale | None, amount_fen: int, out_refund_no: str,
                   reason: str, actor: str, operator: AbstractBaseUser | None = None) -> Refund:
    payment = payment_paid(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no)
    if payment is None:
        raise NoPaidPayment(detail={"order_no": order.order_no})
    refund = Refund.objects.create(order=order, payment=payment, after_sale=after_sale, out_refund_no=out_refund_no,
                                   amount_fen=amount_fen, reason=reason[:80])
    REFUND_MACHINE.record(refund, action=RefundAction.CREATED, from_status="", actor=actor, operator=operator,
                          note=reason, data={"amount_fen": amount_fen})
    _submit_after_commit(refund.pk)
    return refund


def _submit_after_commit(refund_id: int) -> None:
    # robust: if the broker is down, the refund job (refunds.process) submits PENDING refunds anyway.
    enqueue_after_commit("shop.tasks.submit_refund", refund_id, robust=True)


def refund_create_for_late_payment(*, order_id: int, reason: str = LATE_PAYMENT_REASON) -> Refund | None:
    """Refund in full a payment the order cannot keep (needs_refund): one that reached an
    already-cancelled order, or a group-buy order whose group failed or had no seat left for it
    (`reason` says which; the refund job's safety net uses the late-payment wording).

    Idempotent: one refund per such order (number "RF" + order number); returns it, or None
    when the order needs none. One durable transaction, order row locked; the gateway is
    called after commit.
    """
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=order_id)
        existing = Refund.objects.filter(order=order, after_sale__isnull=True).first()
        if existing is not None or not order.needs_refund:
            return existing
        amount = order.paid_fen - order.refunded_fen
        if amount <= 0:
            Order.objects.filter(pk=order.pk).update(needs_refund=False)
            return None
        refund = _refund_create(order=order, after_sale=None, amount_fen=amount, out_refund_no=f"RF{order.order_no}",
                                reason=reason, actor=Actor.SYSTEM)
        ORDER_MACHINE.record(order, action=OrderAction.REFUND_STARTED, actor=Actor.SYSTEM, note=reason,
                             data={"out_refund_no": refund.out_refund_no, "amount_fen": amount})
    return refund


# --- talking to the gateway -------------------------------------------------------------------------


def refund_notify_url() -> str:
    return settings.SITE_URL + reverse("payment-wechat-refund-notify")


def refund_submit(*, refund_id: int) -> Refund | None:
    """Send a PENDING refund to the gateway (the Celery task's body). Safe to run twice.

    No transaction is open during the call. Accepted → PROCESSING (unless the notify already
    made it SUCCEEDED). Refused → FAILED with the error. Unknown outcome → stays PENDING for
    the beat job, FAILED after REFUND_MAX_AUTO_ATTEMPTS. WeChat refunds an out_refund_no once,
    so a repeated call is harmless.
    """
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != Status.PENDING:
        return refund
    Refund.objects.filter(pk=refund.pk, status=Status.PENDING).update(attempts=F("attempts") + 1)
    try:
        result = payment_gateway().refund(
            out_trade_no=refund.payment.out_trade_no, out_refund_no=refund.out_refund_no,
            total_fee_fen=refund.payment.amount_fen, amount_fen=refund.amount_fen, reason=refund.reason,
            notify_url=refund_notify_url())
    except RefundRefused as exc:
        return _submit_failed(refund, exc, definite=True)
    except WechatApiError as exc:
        return _submit_failed(refund, exc, definite=False)
    with transaction.atomic(durable=True):
        refund, _ = REFUND_MACHINE.transition(pk=refund.pk, to=Status.PROCESSING, action=RefundAction.SUBMITTED,
                                              actor=Actor.SYSTEM, note="微信支付已受理",
                                              data={"refund_id": result.refund_id},
                                              fields={"refund_id": result.refund_id, "last_error": ""})
    return refund


def _submit_failed(refund: Refund, exc: WechatApiError, *, definite: bool) -> Refund:
    error = f"{exc.errcode}：{exc.errmsg}"[:300]
    with transaction.atomic(durable=True):
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if locked.status != Status.PENDING:
            return locked
        if definite or locked.attempts >= settings.REFUND_MAX_AUTO_ATTEMPTS:
            locked, _ = REFUND_MACHINE.transition(pk=locked.pk, to=Status.FAILED, action=RefundAction.FAILED,
                                                  actor=Actor.WECHAT if definite else Actor.SYSTEM, note=error,
                                                  data={"errcode": str(exc.errcode)}, fields={"last_error": error})
            return locked
        locked.last_error = error
        locked.save(update_fields=["last_error"])
        REFUND_MACHINE.record(locked, action=RefundAction.SUBMIT_ERROR, actor=Actor.SYSTEM,
                              note=f"结果未知，稍后自动重试：{error}",
                              data={"errcode": str(exc.errcode), "attempt": locked.attempts})
    logger.warning("refund %s: outcome unknown (%s); will retry", refund.out_refund_no, error)
    return locked


def refund_retry(*, refund: Refund, operator: AbstractBaseUser | None) -> Refund:
    """重试: send a FAILED refund again under the same out_refund_no. Other states: no-op."""
    with transaction.atomic(durable=True):
        Order.objects.select_for_update().get(pk=refund.order_id)
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if not REFUND_MACHINE.can(locked, Status.PENDING):
            return locked
        locked, _ = REFUND_MACHINE.transition(pk=locked.pk, to=Status.PENDING, action=RefundAction.RETRIED,
                                              actor=Actor.OPERATOR, operator=operator, note="运营重新发起退款",
                                              fields={"attempts": 0})
        _submit_after_commit(locked.pk)
    return locked


def refund_handle_notify(*, body: bytes) -> NotifyOutcome:
    """Handle a refund notification: decrypted and verified by the gateway, then recorded.

    A forged, undecryptable or mismatched notification raises DomainError and changes
    nothing; a repeat is accepted as a no-op.
    """
    notice = payment_gateway().parse_refund_notify(body)
    return NotifyOutcome(True, refund_record_result(notice=notice, source="notify"))


def refund_record_result(*, notice: RefundNotice, source: str) -> str:
    """Record WeChat's word on a refund. Idempotent per (refund id, status).

    One durable transaction: locks the order, the after-sale, the refund. SUCCESS moves the
    refund to SUCCEEDED and, exactly once, adds it to the lines' and order's refunded counters
    (CheckConstraints keep them within what was paid), derives the order's refund state, marks
    the after-sale refunded, and reverses rewards. CHANGE / REFUNDCLOSE make it FAILED.
    """
    refund = Refund.objects.select_related("payment").filter(out_refund_no=notice.out_refund_no).first()
    if refund is None:
        raise UnknownRefund(detail={"out_refund_no": notice.out_refund_no})
    if notice.amount_fen != refund.amount_fen or notice.out_trade_no != refund.payment.out_trade_no:
        logger.warning("refund %s: notified %s for %s, expected %s for %s", refund.out_refund_no, notice.amount_fen,
                       notice.out_trade_no, refund.amount_fen, refund.payment.out_trade_no)
        raise RefundAmountMismatch(detail={"out_refund_no": notice.out_refund_no})
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        if refund.after_sale_id:
            AfterSale.objects.select_for_update().get(pk=refund.after_sale_id)
        record = RefundNotification.objects.select_for_update().filter(refund_id=notice.refund_id).first()
        if record is not None and record.refund_status == notice.status:
            return "duplicate"
        if record is None:
            RefundNotification.objects.create(refund_id=notice.refund_id, out_refund_no=notice.out_refund_no,
                                              refund_status=notice.status, raw_xml=notice.raw or f"[{source}]")
        else:
            record.refund_status, record.raw_xml = notice.status, notice.raw or f"[{source}]"
            record.save(update_fields=["refund_status", "raw_xml"])
        if notice.status == GatewayRefundState.SUCCESS:
            refund, changed = REFUND_MACHINE.transition(
                pk=refund.pk, to=Status.SUCCEEDED, action=RefundAction.SUCCEEDED, actor=Actor.WECHAT,
                note=f"退款成功 ¥{yuan(refund.amount_fen)}", data={"refund_id": notice.refund_id, "source": source},
                fields={"refund_id": notice.refund_id, "succeeded_at": notice.succeeded_at or timezone.now(),
                        "last_error": ""})
            if not changed:
                return "already_succeeded"
            _apply_success(order, refund)
            return "succeeded"
        error = f"微信退款{'异常' if notice.status == GatewayRefundState.CHANGE else '关闭'}（{notice.status}）"
        refund, changed = REFUND_MACHINE.transition(pk=refund.pk, to=Status.FAILED, action=RefundAction.FAILED,
                                                    actor=Actor.WECHAT, note=error, data={"source": source},
                                                    fields={"last_error": error, "refund_id": notice.refund_id})
        return "failed" if changed else "ignored"


def _apply_success(order: Order, refund: Refund) -> None:
    """What a succeeded refund changes, once (the caller moved it to SUCCEEDED just now), with
    the order row locked: the lines' and order's refunded counters, the order's refund state,
    the after-sale; then the coupons, rewards and purchase facts the refunded part counted."""
    amount = refund.amount_fen
    if refund.after_sale_id:
        after_sale = AfterSale.objects.get(pk=refund.after_sale_id)
        units = _after_sale_units(after_sale)
        _count_after_sale_lines(order, after_sale)
        AFTER_SALE_MACHINE.transition(pk=after_sale.pk, to=AfterSaleStatus.REFUNDED, action=AfterSaleAction.REFUNDED,
                                      actor=Actor.WECHAT, note=f"退款成功 ¥{yuan(amount)}")
        notify_after_sale_progress(after_sale_id=after_sale.pk, event="refunded")
    else:
        # The whole cancelled order went back: every line is refunded in full.
        units = list(OrderLine.objects.filter(order=order).values_list(
            "product_id_snapshot", F("quantity") - F("refunded_quantity")))
        OrderLine.objects.filter(order=order).update(refunded_quantity=F("quantity"), refunded_fen=F("payable_fen"))
        Order.objects.filter(pk=order.pk).update(needs_refund=False)
    updated = Order.objects.filter(pk=order.pk, refunded_fen__lte=F("paid_fen") - amount).update(
        refunded_fen=F("refunded_fen") + amount)
    if updated != 1:
        raise RefundExceedsPaid(detail={"out_refund_no": refund.out_refund_no})
    state = _refresh_refund_state(order.pk)
    if state == RefundState.FULL and Order.objects.filter(pk=order.pk, status=OrderStatus.PAID).exists():
        # Everything was refunded before it all shipped: nothing is owed either way, the order is over.
        ORDER_MACHINE.transition(pk=order.pk, to=OrderStatus.CLOSED, action=OrderAction.CLOSED, actor=Actor.SYSTEM,
                                 note="全额退款，订单关闭")
    ORDER_MACHINE.record(order, action=OrderAction.REFUNDED, actor=Actor.WECHAT,
                         note=f"退款成功 ¥{yuan(amount)}（{RefundState(state).label}）",
                         data={"out_refund_no": refund.out_refund_no, "amount_fen": amount})
    _reverse_rewards(order, amount_fen=amount, refund=refund, full=state == RefundState.FULL)
    _uncount_refund(order, reference=refund.out_refund_no, amount_fen=amount, units=units, state=state)
    track("order_refunded", member_id=order.member_id,
          properties={"order_no": order.order_no, "out_refund_no": refund.out_refund_no, "amount_fen": amount})


def _after_sale_units(after_sale: AfterSale) -> list[tuple[int, int]]:
    """(product id, units) of each line of the after-sale."""
    return list(after_sale.lines.values_list("order_line__product_id_snapshot", "quantity"))


def _uncount_refund(order: Order, *, reference: str, amount_fen: int, units: list[tuple[int, int]],
                    state: str) -> None:
    """Take a refund out of what the order's payment counted: the member's purchase facts, in
    this transaction (members.services.purchases.member_record_refund: paid_total_fen down by the
    amount, paid_order_count down by one when this refund completes the full refund), and the
    products' sales counts by the units refunded, after commit (hot rows).

    Exactly once per refund: the caller runs once per refund (its transition to SUCCEEDED, or
    the zero-amount after-sale's to REFUNDED), and the member's side is keyed by the refund
    number `reference` besides. `order` is the row as locked before this refund (its refund
    state then); `state` the order's refund state now. An order never counted as paid (paid_at
    empty: a payment that reached it after it was cancelled, refunded in full) takes nothing out.
    """
    require_transaction("_uncount_refund")
    if order.paid_at is None:
        return
    became_full = state == RefundState.FULL and order.refund_state != RefundState.FULL
    member_record_refund(member_id=order.member_id, refunded_fen=amount_fen, order_refunded_in_full=became_full,
                         reference=reference)
    product_sales_count_after_commit(units=[(product_id, -quantity) for product_id, quantity in units])


def _count_after_sale_lines(order: Order, after_sale: AfterSale) -> None:
    for row in after_sale.lines.all():
        # Conditional, like stock: the counters can never pass what the line holds.
        updated = OrderLine.objects.filter(
            pk=row.order_line_id, order=order, refunded_quantity__lte=F("quantity") - row.quantity,
            refunded_fen__lte=F("payable_fen") - row.amount_fen,
        ).update(refunded_quantity=F("refunded_quantity") + row.quantity,
                 refunded_fen=F("refunded_fen") + row.amount_fen)
        if updated != 1:
            raise RefundExceedsPaid(detail={"order_line_id": row.order_line_id})


def _refresh_refund_state(order_id: int) -> str:
    """部分退款 / 已全额退款 from the lines: full when every unit of every line is refunded."""
    lines = list(OrderLine.objects.filter(order_id=order_id).values_list("quantity", "refunded_quantity",
                                                                         "refunded_fen"))
    if not any(units or fen for _, units, fen in lines):
        state = RefundState.NONE
    elif all(units == quantity for quantity, units, _ in lines):
        state = RefundState.FULL
    else:
        state = RefundState.PARTIAL
    Order.objects.filter(pk=order_id).update(refund_state=state)
    return state


def _reverse_rewards(order: Order, *, amount_fen: int, refund: Refund, full: bool) -> None:
    """Give back what the refunded part of the order earned or spent: coupons, points, growth —
    in that order, the global lock order (coupons, then the member row and their points lots).
    Inside the refund's transaction (order row locked, the lines'
    counters already include this refund), once per refund: every call below is keyed by the
    refund number (refund.out_refund_no), so processing a refund again changes nothing.

    Points and growth are proportional, and exact over any sequence of partial refunds (the
    members' services compute the cumulative share under the member's lock, so the parts add up
    to the whole at the last refund):

    - the "paid" amount passed is the goods money paid, Σ line.payable_fen, and the "refunded
      total" is the goods money refunded so far INCLUDING this refund, Σ line.refunded_fen —
      not the order's paid_fen / refunded_fen, which also hold freight. Discounts, and the
      points spent, are allocated to the goods lines, and freight is refunded only with the
      last unit before shipping, so on the goods basis a refund that takes every unit back
      reverses every point and growth the order earned and returns every point it spent, to
      the point, whether or not the freight came back. A refund of nothing but freight moves
      nothing.
    - earned: points_reverse_for_refund (购物 points, reversal reference = the refund number:
      never below zero, a shortfall recorded if the member has spent them) and
      growth_reverse_for_refund (the tier follows at once);
    - spent: points_return_for_refund on the order's spend (reference = the order number). A
      revived order (cancelled, then paid late) had that spend returned by its cancel and spent
      again under shop.models.orders.revived_points_reference: the return goes to that spend.

    Coupons: when this refund completes a full refund (`full`), the coupons whose template says
    so (return_on_full_refund) go back to the member — or expire, if their validity has ended —
    once per order (campaigns.services.checkout.campaign_refund); a partial refund returns none.

    Commissions (分销), last — the distributors' rows come after the member's in the lock order:
    campaigns.services.commissions.commission_reverse_for_refund with each refunded line's
    refunded total so far (this refund included), keyed by the refund number; it takes back
    exactly the refunded share of each line's commission at both levels, from the commission
    before it settled, as a clawback after.
    """
    require_transaction("_reverse_rewards")
    campaign_refund(order_id=order.pk, order_no=order.order_no, full=full)
    goods = OrderLine.objects.filter(order_id=order.pk).aggregate(paid=Sum("payable_fen"), refunded=Sum("refunded_fen"))
    paid_fen, refunded_total_fen = int(goods["paid"] or 0), int(goods["refunded"] or 0)
    if paid_fen > 0 and refunded_total_fen > 0:
        reference, number = order.order_no, refund.out_refund_no
        points_reverse_for_refund(member_id=order.member_id, reference=reference, paid_fen=paid_fen,
                                  refunded_total_fen=refunded_total_fen, reversal_reference=number)
        growth_reverse_for_refund(member_id=order.member_id, reference=reference, paid_fen=paid_fen,
                                  refunded_total_fen=refunded_total_fen, reversal_reference=number)
        if order.points_used:
            points_return_for_refund(member_id=order.member_id, reference=reference, paid_fen=paid_fen,
                                     refunded_total_fen=refunded_total_fen, refund_reference=number)
            points_return_for_refund(member_id=order.member_id, reference=revived_points_reference(reference),
                                     paid_fen=paid_fen, refunded_total_fen=refunded_total_fen,
                                     refund_reference=revived_points_reference(number))
        refunded_lines = OrderLine.objects.filter(order_id=order.pk, refunded_fen__gt=0).values_list("pk",
                                                                                                    "refunded_fen")
        commission_reverse_for_refund(order_ref=reference, refund_ref=number,
                                      lines=[RefundedLine(line_id=pk, refunded_fen=fen) for pk, fen in refunded_lines])
        # The share the order is credited to counts its net sales (no lock: one UPDATE by order number).
        share_order_refunded(order_no=reference, refunded_total_fen=refunded_total_fen)


# --- the beat job ------------------------------------------------------------------------------------


def refunds_process_due(*, now: dt.datetime | None = None, batch_size: int = 50) -> dict[str, int]:
    """Refund cancelled orders that were paid (needs_refund), resubmit refunds whose submission
    did not happen or ended unknown, and ask WeChat about refunds whose notify is late.

    Every step is idempotent and runs network calls outside transactions, so a second worker
    or a re-run after a crash does no harm.
    """
    now = now or timezone.now()
    counts = {"created": 0, "submitted": 0, "queried": 0}
    has_refund = Refund.objects.filter(order=OuterRef("pk"), after_sale__isnull=True)
    late = (Order.objects.filter(needs_refund=True).exclude(Exists(has_refund))
            .order_by("id").values_list("id", flat=True)[:batch_size])
    for order_id in list(late):
        if refund_create_for_late_payment(order_id=order_id) is not None:
            counts["created"] += 1
    stale = now - dt.timedelta(seconds=settings.REFUND_RESUBMIT_AFTER_SECONDS)
    pending = Refund.objects.filter(status=Status.PENDING, created_at__lte=stale).order_by("id")
    for refund_id in list(pending.values_list("id", flat=True)[:batch_size]):
        try:
            refund_submit(refund_id=refund_id)
            counts["submitted"] += 1
        except DomainError:
            logger.exception("refund %s could not be submitted; next run tries again", refund_id)
    overdue = now - dt.timedelta(minutes=settings.REFUND_QUERY_AFTER_MINUTES)
    processing = Refund.objects.filter(status=Status.PROCESSING, created_at__lte=overdue).order_by("id")
    for refund_id in list(processing.values_list("id", flat=True)[:batch_size]):
        try:
            if _query(refund_id):
                counts["queried"] += 1
        except DomainError:
            logger.exception("refund %s could not be queried; next run tries again", refund_id)
    return counts


def _query(refund_id: int) -> bool:
    refund = Refund.objects.get(pk=refund_id)
    notice = payment_gateway().query_refund(out_refund_no=refund.out_refund_no)
    if notice is None or notice.status == GatewayRefundState.PROCESSING:
        return False
    refund_record_result(notice=notice, source="refundquery")
    return True


def refund_get(*, refund_id: int) -> Refund:
    refund = Refund.objects.filter(pk=refund_id).first()
    if refund is None:
        raise RefundNotFound()
    return refund
