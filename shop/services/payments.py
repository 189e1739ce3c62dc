"""Paying for orders: shop's side of the payments core (payments.services).

An order's trade is kind "order" (ORDER_PAYABLE_KIND) with the order number as out_trade_no.
`order_prepay()` checks the order may be paid and asks the payments core for the trade; every
way WeChat's word that it was paid reaches us (notify, a late notify, orderquery from the
auto-cancel job or from a cancel the shopper or an operator asks for) goes through
`payments.services.payment_record_paid()`, which calls `order_on_payment()` — registered for the
kind by ShopConfig.ready() — exactly once per trade, inside the payment's transaction.

Locks follow the global order (docs/architecture.md, "Lock order"): the payment (the core), the
order, its coupons, its flash-sale rows (a revival), the member and their points lots, and
product stock last (a revival). The products' sales counts and the coupon templates' used counts
move after the commit: they are hot rows every payment of a bestseller would queue on.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from campaigns.errors import (
    BargainNotBuyable,
    BargainSoldOut,
    FlashBudgetExhausted,
    FlashLimitExceeded,
    FlashSoldOut,
    GroupBuyClosed,
)
from campaigns.services.bargain import bargain_reclaim
from campaigns.services.checkout import campaign_confirm_paid
from campaigns.services.commissions import (
    ACTIVITY_BARGAIN,
    ACTIVITY_FLASH,
    ACTIVITY_GROUP,
    PaidLine,
    commission_earn_for_order,
)
from campaigns.services.flash import flash_reclaim
from campaigns.services.gifts import gift_after_payment
from campaigns.services.groupbuy import GROUP_OVERFLOW_REASON, SeatOutcome, groupbuy_on_paid
from campaigns.services.sharing import share_order_attribute
from catalog.errors import InsufficientStock
from catalog.models import Category, Product
from catalog.services import product_sales_count_after_commit, stock_quantities, stock_reserve
from core.audit import Actor
from core.db import require_transaction
from core.errors import DomainError
from core.tracking import track
from members.errors import PointsInsufficient
from members.models import GrowthReason, Member, PointsEntry, PointsKind
from members.pricing import member_pricing_context
from members.pricing_points import points_for_purchase
from members.services import (
    growth_award,
    growth_for_payment,
    member_record_category_purchase,
    member_record_purchase,
    points_award,
    points_spend,
)
from payments.registry import PayableKind
from payments.services import payment_prepay, payment_settle_by_query
from shop.errors import InvalidTransition, OrderExpired
from shop.models import ORDER_PAYABLE_KIND, Order, OrderEvent, OrderLine, OrderLineAdjustment, OrderStatus
from shop.models.orders import ORDER_MACHINE, revived_points_reference
from shop.notifications import notify_order_paid
from shop.pricing import BARGAIN_REFERENCE_PREFIX
from shop.services.orders import order_cancel, order_get_for_member
from shop.services.refunds import LATE_PAYMENT_REASON, refund_create_for_late_payment
from wechat.gateway import PaymentNotice, PrepayResult

logger = logging.getLogger(__name__)

# The activity stage's adjustment reference of a line bought through a flash-sale item, or through a
# group-buy item (shop.pricing).
FLASH_REFERENCE_PREFIX = "flash:"
GROUP_REFERENCE_PREFIX = "group:"


def order_prepay(*, member: Member, order_no: str, client_ip: str) -> PrepayResult:
    """Create (or re-create) the WeChat trade for an unpaid order; return wx.requestPayment params.

    Safe to call repeatedly: out_trade_no is the order number, and WeChat returns the same
    prepay for the same trade. Refuses orders that are not awaiting payment or have expired.
    """
    order = order_get_for_member(member=member, order_no=order_no)
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise InvalidTransition(f"订单当前状态为「{order.get_status_display()}」，无需支付",
                                detail={"status": order.status})
    if order.expires_at <= timezone.now():
        raise OrderExpired()
    return payment_prepay(kind=ORDER_PAYABLE_KIND, out_trade_no=order.order_no, amount_fen=order.payable_fen,
                          description=_trade_description(order), openid=member.openid, client_ip=client_ip,
                          expires_at=order.expires_at)


def _trade_description(order: Order) -> str:
    first = OrderLine.objects.filter(order=order).values_list("product_name", flat=True).first() or "商品"
    count = OrderLine.objects.filter(order=order).count()
    text = f"{first}等{count}件商品" if count > 1 else first
    # WeChat's body field is at most 128 bytes of UTF-8: cut on a character boundary.
    return text.encode()[:128].decode(errors="ignore")


def order_on_payment(*, notice: PaymentNotice, source: str) -> str:
    """Move an order on when WeChat says its trade was paid: the "order" payable kind's `on_paid`.

    Called by payments.services.payment_record_paid() once per trade, inside its durable
    transaction, after it locked the trade; locks the order. An unpaid order becomes paid
    ("paid"). A cancelled order is revived if its flash-sale units and stock can be taken again
    ("revived"), otherwise flagged for refund ("refund_required"); the money is never lost. An
    order that already moved on is never moved back ("order_not_payable", recorded).
    """
    require_transaction("order_on_payment")
    order = Order.objects.select_for_update().get(order_no=notice.out_trade_no)
    data = {"transaction_id": notice.transaction_id, "amount_fen": notice.amount_fen, "source": source}
    if order.status == OrderStatus.PENDING_PAYMENT:
        _mark_paid(order, notice, data, action="paid", note="")
        return "paid"
    if order.status == OrderStatus.CANCELLED:
        try:
            # All or nothing: a savepoint, so when the flash-sale units or the stock are gone
            # the whole revival (coupons, points, rewards) is undone and the refund path runs.
            with transaction.atomic():
                _mark_paid(order, notice, data, action="revived", note="取消后到账，库存充足，订单已恢复", revive=True)
            return "revived"
        except (InsufficientStock, FlashSoldOut, FlashLimitExceeded, FlashBudgetExhausted, GroupBuyClosed,
                BargainSoldOut, BargainNotBuyable):
            # (A cancelled group-buy order gave its seat up: a late payment of it is refunded.)
            Order.objects.filter(pk=order.pk).update(needs_refund=True, paid_fen=notice.amount_fen)
            # Refund it at once (the refund job is the safety net if this is lost).
            transaction.on_commit(lambda: _refund_late_payment(order.pk))
            OrderEvent.objects.create(order=order, action="late_payment", from_status=order.status,
                                      to_status=order.status, actor=Actor.WECHAT,
                                      note="取消后到账，库存不足，需退款", data=data)
            return "refund_required"
    # Paid through another trade already, or further along: record only.
    OrderEvent.objects.create(order=order, action="payment_duplicate", from_status=order.status,
                              to_status=order.status, actor=Actor.WECHAT, note="重复支付，需核对", data=data)
    return "order_not_payable"


def _order_console_url(order_no: str) -> str:
    return f"{reverse('admin:shop_order_changelist')}?{urlencode({'q': order_no})}"


# Registered by ShopConfig.ready(): what the payments core does when an order's trade is paid.
ORDER_PAYABLE = PayableKind(slug=ORDER_PAYABLE_KIND, label="订单", on_paid=order_on_payment,
                            console_url=_order_console_url)


def _reward_payment(order: Order, notice: PaymentNotice) -> None:
    """What the member earns from paying this order, inside the payment's transaction:

    - points (购物): points_for_purchase of the amount paid × the active paid card's points
      multiplier at the time of payment (tiers have none), as one lot;
    - growth (purchase): growth_for_payment of the amount paid; the tier follows at once;
    - category facts for segments: every category of the order's products with its parents.

    Exactly once per order: the points and the growth are keyed by the order number (a repeat
    of either writes nothing) and the category facts are idempotent. A revived order earns like
    any other, since it was paid. Locks the member row (after the order's rows).
    """
    paid_fen = notice.amount_fen
    context = member_pricing_context(member_id=order.member_id, at=notice.paid_at)
    multiplier_percent = int(context.points_multiplier * 100)
    points_award(member_id=order.member_id, kind=PointsKind.PURCHASE, reference=order.order_no,
                 points=points_for_purchase(paid_fen=paid_fen, multiplier_percent=multiplier_percent),
                 note=f"订单 {order.order_no}")
    growth_award(member_id=order.member_id, amount=growth_for_payment(paid_fen=paid_fen),
                 reason=GrowthReason.PURCHASE, reference=order.order_no, note=f"订单 {order.order_no}")
    member_record_category_purchase(member_id=order.member_id, category_ids=_order_categories(order),
                                    at=notice.paid_at)


def _earn_commission(order: Order) -> None:
    """分销: hand campaigns the order's paid lines as plain values — what the shopper paid for each
    line after every discount (the pricing pipeline's allocations, freight excluded), its product,
    category and SKU, and the activity it was bought through (a flash item, a group-buy item, a
    bargain launch) — and let it record what the buyer's uplines earn. One query for the lines;
    campaigns decides who earns and how much."""
    activity_refs = (OrderLineAdjustment.objects.filter(line=OuterRef("pk"), stage="activity")
                     .order_by("pk").values("reference")[:1])
    category = Product.objects.filter(pk=OuterRef("product_id_snapshot")).values("category_id")[:1]
    rows = (OrderLine.objects.filter(order=order).order_by("pk")
            .annotate(activity_ref=Subquery(activity_refs), category_id=Subquery(category))
            .values_list("pk", "product_id_snapshot", "category_id", "sku_id", "product_name", "payable_fen",
                         "activity_ref"))
    lines = []
    for pk, product_id, category_id, sku_id, name, payable_fen, activity_ref in rows:
        kind, _, activity_id = (activity_ref or "").partition(":")
        # A line bought at an activity price: a flash item's (may earn, per its session), a group
        # item's (per the setting) or a bargain launch's (earns nothing: the friends already cut
        # its price to the floor).
        activity = {FLASH_REFERENCE_PREFIX: ACTIVITY_FLASH, GROUP_REFERENCE_PREFIX: ACTIVITY_GROUP,
                    BARGAIN_REFERENCE_PREFIX: ACTIVITY_BARGAIN}.get(f"{kind}:", "")
        lines.append(PaidLine(line_id=pk, product_id=product_id, category_id=category_id, sku_id=sku_id,
                              product_name=name, paid_fen=payable_fen, activity=activity,
                              activity_id=int(activity_id) if activity and activity_id.isdigit() else None))
    commission_earn_for_order(order_ref=order.order_no, buyer_id=order.member_id, lines=lines)


def _order_categories(order: Order) -> set[int]:
    """The categories of the order's products and all their ancestors (one query per level)."""
    product_ids = OrderLine.objects.filter(order=order).values_list("product_id_snapshot", flat=True)
    found = set(Product.objects.filter(pk__in=list(product_ids)).values_list("category_id", flat=True))
    level = set(found)
    while level:
        parents = set(Category.objects.filter(pk__in=level, parent__isnull=False).values_list("parent_id", flat=True))
        level = parents - found
        found |= parents
    return found


def _retake_points(order: Order) -> None:
    """A revived order spends again the points its cancel gave back (points_refund_spent with
    CANCEL_RETURN on the first spend), under its own reference (revived_points_reference), so
    refunds later return them from that spend. If the member has spent them meanwhile, that is
    recorded and the payment stands, as for coupons that cannot be taken again."""
    returned = sum(PointsEntry.objects.filter(
        member_id=order.member_id, kind=PointsKind.CANCEL_RETURN, origin__kind=PointsKind.SPEND,
        origin__reference=order.order_no).values_list("delta", flat=True))
    if returned <= 0:
        return
    try:
        points_spend(member_id=order.member_id, points=returned, reference=revived_points_reference(order.order_no),
                     note=f"订单 {order.order_no} 取消后到账，重新抵扣")
    except PointsInsufficient:
        OrderEvent.objects.create(order=order, action="points_not_retaken", from_status=OrderStatus.PAID,
                                  to_status=OrderStatus.PAID, actor=Actor.SYSTEM,
                                  note=f"订单恢复时积分不足，未能再次抵扣 {returned} 积分，按实付金额处理",
                                  data={"points": returned})


def _refund_late_payment(order_id: int, reason: str = LATE_PAYMENT_REASON) -> None:
    try:
        refund_create_for_late_payment(order_id=order_id, reason=reason)
    except Exception:  # the payment is recorded; the refund job retries this within a minute
        logger.exception("could not start the refund of late payment for order %s", order_id)


def _mark_paid(order: Order, notice: PaymentNotice, data: dict[str, object], *, action: str,
               note: str, revive: bool = False) -> None:
    """Move the order to paid and record what the payment settles, in the payment's transaction
    and in the global lock order (the order row is locked by the caller):

    1. the order becomes paid;
    2. the coupons it locked become used (a revived order takes them again if they are still
       there, else that is recorded and the payment stands);
    3. a revived order takes its flash-sale units and allowance again (flash_reclaim: raises if
       they are gone) and its bargain launches (bargain_reclaim: raises if the stock is gone); a
       group-buy order takes its seat (_take_group_seat: a revived one raises, its seat was given
       up, so it is refunded);
    4. the member's purchase facts count it and the member earns the order's points and growth
       (_reward_payment); a revived order spends again the points its cancel gave back;
    5. the distributors above the buyer earn their commission on each line's paid amount
       (_earn_commission: campaigns.services.commissions, the distributors' rows locked); the
       order is credited to the last share the buyer opened (share_order_attribute: inserts only;
       an invited buyer's inviter is rewarded after commit);
    6. a revived order takes its stock again, last (stock_reserve: raises if it is gone).

    After commit: the products' sales counts, 支付有礼, the notification, analytics."""
    require_transaction("_mark_paid")
    ORDER_MACHINE.transition(pk=order.pk, to=OrderStatus.PAID, action=action, actor=Actor.WECHAT,
                             note=note, data=data)
    Order.objects.filter(pk=order.pk).update(paid_fen=notice.amount_fen, paid_at=notice.paid_at)
    coupons = campaign_confirm_paid(order_id=order.pk, order_no=order.order_no)
    if coupons.not_retaken:
        OrderEvent.objects.create(order=order, action="coupon_not_retaken", from_status=OrderStatus.PAID,
                                  to_status=OrderStatus.PAID, actor=Actor.SYSTEM,
                                  note="订单恢复时优惠券已被使用或已过期，未能再次核销，按实付金额处理",
                                  data={"coupon_ids": coupons.not_retaken})
    if revive:
        flash_reclaim(order_id=order.pk)
        bargain_reclaim(order_no=order.order_no)
    _take_group_seat(order, notice)
    member_record_purchase(member_id=order.member_id, paid_fen=notice.amount_fen, paid_at=notice.paid_at)
    _reward_payment(order, notice)
    lines = list(OrderLine.objects.filter(order=order).values_list("sku_id", "product_id_snapshot", "quantity"))
    if revive:
        _retake_points(order)
    _earn_commission(order)
    share_order_attribute(order_no=order.order_no, member_id=order.member_id, paid_at=notice.paid_at,
                          paid_fen=sum(payable for _, payable in OrderLine.objects.filter(order=order)
                                       .values_list("pk", "payable_fen")))
    if revive:
        stock_reserve(quantities=stock_quantities((sku_id, quantity) for sku_id, _, quantity in lines),
                      reference=f"{order.order_no}-revive")
    product_sales_count_after_commit(units=[(product_id, quantity) for _, product_id, quantity in lines])
    member_id, order_no, paid_fen = order.member_id, order.order_no, notice.amount_fen
    transaction.on_commit(lambda: _gift_after_payment(member_id=member_id, order_no=order_no, paid_fen=paid_fen))
    track("order_paid", member_id=order.member_id,
          properties={"order_no": order.order_no, "paid_fen": notice.amount_fen})
    notify_order_paid(order_id=order.pk)


def _take_group_seat(order: Order, notice: PaymentNotice) -> None:
    """拼团: the payment takes its seat (campaigns.services.groupbuy.groupbuy_on_paid, the group's row
    locked after the coupons, before the member). A payer the group had no seat for, when the
    activity refunds rather than opens a new group, is refunded in full at once through the
    late-payment refund (flagged needs_refund: the refund job is the safety net)."""
    outcome = groupbuy_on_paid(order_id=order.pk, order_no=order.order_no, paid_fen=notice.amount_fen,
                               paid_at=notice.paid_at)
    if outcome != SeatOutcome.REFUND:
        return
    Order.objects.filter(pk=order.pk).update(needs_refund=True)
    OrderEvent.objects.create(order=order, action="group_buy_overflow", from_status=OrderStatus.PAID,
                              to_status=OrderStatus.PAID, actor=Actor.SYSTEM, note=GROUP_OVERFLOW_REASON,
                              data={"transaction_id": notice.transaction_id})
    order_id = order.pk
    transaction.on_commit(lambda: _refund_late_payment(order_id, reason=GROUP_OVERFLOW_REASON))


def _gift_after_payment(*, member_id: int, order_no: str, paid_fen: int) -> None:
    """支付有礼 after the payment committed; a gift that fails never touches the payment."""
    try:
        gift_after_payment(member_id=member_id, order_no=order_no, paid_fen=paid_fen)
    except Exception:  # logged; the payment is recorded whatever the gift does
        logger.exception("pay gift for order %s failed", order_no)


def order_cancel_unpaid(*, order: Order, reason: str, actor: str,
                        operator: AbstractBaseUser | None = None) -> Order:
    """Cancel an unpaid order at the shopper's or an operator's request, closing its WeChat trade first.

    The payer may have the pay sheet open. A payment made meanwhile whose notify never arrives
    would go unnoticed if the trade stayed open: nothing asks WeChat about a cancelled order's
    trade, so the money would be neither counted nor refunded. So, as the auto-cancel does, the
    trade is settled by query first (payments.services.payment_settle_by_query): paid at WeChat →
    the payment is recorded, the order is paid, and the cancel is refused (InvalidTransition);
    otherwise the trade is closed, so it can no longer be paid, and the order is cancelled
    (order_cancel). An order never sent to WeChat is cancelled without asking. WeChat unreachable
    → WechatApiError, nothing changed. Network calls run outside transactions; idempotent.
    """
    if order.status == OrderStatus.PENDING_PAYMENT:
        payment_settle_by_query(out_trade_no=order.order_no)
    return order_cancel(order=order, reason=reason, actor=actor, operator=operator)


def order_cancel_expired(*, now: dt.datetime | None = None, batch_size: int = 100) -> dict[str, int]:
    """The auto-cancel job: cancel unpaid orders past their deadline, asking WeChat first.

    For each expired order, payments.services.payment_settle_by_query(): if WeChat says its
    trade was paid, the payment is recorded (the notify was late) instead of cancelling;
    otherwise the trade is closed, so it can no longer be paid, and then the order is cancelled.
    Network calls run outside transactions; every step is idempotent, so two workers or a re-run
    after a crash do no harm.
    """
    now = now or timezone.now()
    counts = {"cancelled": 0, "paid": 0, "failed": 0}
    ids = list(Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, expires_at__lte=now)
               .order_by("expires_at", "id").values_list("id", flat=True)[:batch_size])
    for order_id in ids:
        order = Order.objects.get(pk=order_id)
        try:
            if payment_settle_by_query(out_trade_no=order.order_no):
                counts["paid"] += 1
                continue
            order = order_cancel(order=order, reason="超时未支付，系统自动取消", actor=Actor.SYSTEM)
            counts["cancelled" if order.status == OrderStatus.CANCELLED else "paid"] += 1
        except DomainError:
            logger.exception("auto-cancel of order %s failed; will retry next run", order.order_no)
            counts["failed"] += 1
    return counts
