"""A refund takes back what the order's payment counted: the products' sales counts (after the
refund commits) and the member's paid total and paid order count (RFM, segments), exactly once per
refund, and nothing for a payment that was never counted."""

from __future__ import annotations

import pytest

from catalog.models import Product, Sku, Stock
from members.models import Member, MemberPurchaseRefund
from members.services.purchases import member_record_refund
from shop.models import AfterSale, Order, OrderLine, OrderStatus, Refund, RefundState
from shop.services.aftersales import after_sale_approve
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_place
from shop.services.refunds import refund_create_for_late_payment, refund_record_result
from tests.builders import (
    buyer,
    lines_of,
    operator,
    paid_order,
    pay,
    placed_order,
    refund_notice,
    requested_after_sale,
)
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def skus(freight) -> tuple[Sku, Sku]:
    """Cream at ¥60.00 and lotion at ¥40.00, 10 units each (from ¥99 freight is free)."""
    return SkuFactory.create(price_fen=6000, stock=10), SkuFactory.create(price_fen=4000, stock=10)


def sales(sku: Sku) -> int:
    return Product.objects.get(pk=sku.product_id).sales_count


def totals(member: Member) -> tuple[int, int]:
    """(paid_order_count, paid_total_fen)."""
    return Member.objects.values_list("paid_order_count", "paid_total_fen").get(pk=member.pk)


def approved_refund(order: Order, lines: dict[OrderLine, int]) -> Refund:
    """An after-sale for `lines` approved by an operator: its refund waits for WeChat."""
    after_sale = requested_after_sale(order=order, lines=lines)
    after_sale_approve(after_sale=after_sale, operator=operator(f"ops{AfterSale.objects.count()}"))
    return Refund.objects.get(after_sale=after_sale)


def test_a_partial_then_a_full_refund_take_back_sales_and_paid_totals_exactly(
        skus, django_capture_on_commit_callbacks):
    # given a member's paid order of 2 × cream + 1 × lotion: ¥160.00, free freight
    cream, lotion = skus
    member = buyer()
    with django_capture_on_commit_callbacks(execute=True):
        order = paid_order(member=member, lines=[(cream, 2), (lotion, 1)])
    assert order.paid_fen == 16000
    assert (sales(cream), sales(lotion), totals(member)) == (2, 1, (1, 16000))
    cream_line, lotion_line = lines_of(order)

    # when one cream is refunded (¥60.00)
    first = approved_refund(order, {cream_line: 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert refund_record_result(notice=refund_notice(first), source="notify") == "succeeded"

    # then one unit of cream is no longer sold and the member has paid ¥100.00 on one order
    assert Order.objects.get(pk=order.pk).refund_state == RefundState.PARTIAL
    assert (sales(cream), sales(lotion), totals(member)) == (1, 1, (1, 10000))

    # when the rest comes back (1 × cream + 1 × lotion, ¥100.00)
    second = approved_refund(order, {cream_line: 1, lotion_line: 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert refund_record_result(notice=refund_notice(second), source="notify") == "succeeded"

    # then nothing of the order counts any more: not its units, not its money, not the order
    assert Order.objects.get(pk=order.pk).refund_state == RefundState.FULL
    assert (sales(cream), sales(lotion), totals(member)) == (0, 0, (0, 0))
    assert list(MemberPurchaseRefund.objects.filter(member=member).order_by("id").values_list(
        "reference", "refunded_fen", "order_refunded_in_full")) == [
        (first.out_refund_no, 6000, False), (second.out_refund_no, 10000, True)]


def test_processing_a_refund_again_changes_nothing(skus, django_capture_on_commit_callbacks):
    # given a paid order of 2 × cream and one cream refunded
    cream, _ = skus
    member = buyer()
    with django_capture_on_commit_callbacks(execute=True):
        order = paid_order(member=member, lines=[(cream, 2)])
    refund = approved_refund(order, {lines_of(order)[0]: 1})
    with django_capture_on_commit_callbacks(execute=True):
        refund_record_result(notice=refund_notice(refund), source="notify")
    assert (sales(cream), totals(member)) == (1, (1, 6000))

    # when the same notify comes again, then WeChat's answer to a query with another refund id,
    # and the member's side is asked again under the same refund number
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert refund_record_result(notice=refund_notice(refund), source="notify") == "duplicate"
        again = refund_notice(refund, refund_id="50300999999999999")
        assert refund_record_result(notice=again, source="refundquery") == "already_succeeded"
        assert member_record_refund(member_id=member.pk, refunded_fen=6000, order_refunded_in_full=True,
                                    reference=refund.out_refund_no) is False

    # then nothing moved
    assert callbacks == []
    assert (sales(cream), totals(member)) == (1, (1, 6000))
    assert MemberPurchaseRefund.objects.filter(member=member).count() == 1


def test_refunding_a_late_payment_that_was_never_counted_takes_nothing_back(
        skus, django_capture_on_commit_callbacks):
    # given a cancelled order whose payment arrived after its stock was sold to someone else
    cream, _ = skus
    member = buyer()
    order = order_cancel(order=placed_order(member=member, lines=[(cream, 2)]), reason="买家取消", actor="member")
    order_place(member=buyer(), data=CheckoutInput(items=(LineInput(cream.pk, 9),)))
    order = pay(order)  # flagged for refund, not revived: nothing is counted
    assert (order.status, order.needs_refund, order.paid_at) == (OrderStatus.CANCELLED, True, None)
    assert Stock.objects.get(sku=cream).available == 1
    assert (sales(cream), totals(member)) == (0, (0, 0))

    # when its refund succeeds
    refund = refund_create_for_late_payment(order_id=order.pk)
    assert refund is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert refund_record_result(notice=refund_notice(refund), source="notify") == "succeeded"

    # then the counters it never moved stay where they were
    assert Order.objects.get(pk=order.pk).refund_state == RefundState.FULL
    assert (sales(cream), totals(member)) == (0, (0, 0))
    assert not MemberPurchaseRefund.objects.exists()
