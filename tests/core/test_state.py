"""The one transition primitive (core.state.StateMachine), through a real machine: the refund's.

The refund lifecycle uses everything the primitive offers: a table, its own error code, extra
fields saved with the status, and `progress` (WeChat's answers arrive out of order).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import transaction
from django.utils import timezone

from core.audit import Actor
from core.db import TransactionRequired
from core.state import StateMachine
from payments.models import Payment, PaymentStatus
from shop.errors import RefundInvalidTransition, RefundNotFound
from shop.models import ORDER_PAYABLE_KIND, Order, Refund, RefundStatus
from shop.models.aftersales import REFUND_MACHINE, REFUND_TRANSITIONS, RefundAction, RefundEvent
from tests.factories import MemberFactory

_numbers = itertools.count(1)


def refund_in(status: str) -> Refund:
    """A ¥50 refund of a paid ¥50 order, in `status`, with no audit row yet."""
    number = f"S{next(_numbers):08d}"
    order = Order.objects.create(
        order_no=number, member=MemberFactory.create(), status="paid", receiver_name="李四",
        receiver_phone="13900001111", province="广东省", city="深圳市", address_detail="科技园 1 号",
        goods_total_fen=5000, payable_fen=5000, paid_fen=5000, expires_at=timezone.now() + dt.timedelta(minutes=30))
    payment = Payment.objects.create(kind=ORDER_PAYABLE_KIND, out_trade_no=number, amount_fen=5000,
                                     status=PaymentStatus.PAID)
    return Refund.objects.create(order=order, payment=payment, out_refund_no=f"RF{number}", amount_fen=5000,
                                 status=status)


def events(refund: Refund) -> list[tuple[str, str, str]]:
    return list(RefundEvent.objects.filter(refund=refund).values_list("action", "from_status", "to_status"))


@pytest.mark.django_db
def test_a_move_in_the_table_saves_the_status_its_fields_and_one_audit_row(admin_user):
    refund = refund_in(RefundStatus.PENDING)

    moved, changed = REFUND_MACHINE.transition(
        pk=refund.pk, to=RefundStatus.PROCESSING, action=RefundAction.SUBMITTED, actor=Actor.OPERATOR,
        operator=admin_user, note="微信支付已受理", data={"refund_id": "WX1"}, fields={"refund_id": "WX1"})

    assert changed is True
    assert moved.status == RefundStatus.PROCESSING
    assert Refund.objects.values_list("status", "refund_id").get(pk=refund.pk) == (RefundStatus.PROCESSING, "WX1")
    event = RefundEvent.objects.get(refund=refund)
    assert (event.action, event.from_status, event.to_status, event.actor, event.operator, event.note,
            event.data) == ("submitted", "pending", "processing", "operator", admin_user, "微信支付已受理",
                            {"refund_id": "WX1"})
    assert event.get_action_display() == "微信已受理"


@pytest.mark.django_db
def test_a_repeat_is_a_no_op_with_no_second_audit_row():
    refund = refund_in(RefundStatus.PENDING)
    REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.PROCESSING, action=RefundAction.SUBMITTED)

    again, changed = REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.PROCESSING,
                                               action=RefundAction.SUBMITTED, fields={"refund_id": "WX2"})

    assert changed is False
    assert again.status == RefundStatus.PROCESSING
    assert Refund.objects.get(pk=refund.pk).refund_id is None
    assert events(refund) == [("submitted", "pending", "processing")]


@pytest.mark.django_db
def test_a_refused_transition_changes_nothing_and_raises_the_machines_error():
    refund = refund_in(RefundStatus.FAILED)

    with pytest.raises(RefundInvalidTransition) as refused:
        REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.PROCESSING, action=RefundAction.SUBMITTED,
                                  fields={"last_error": "changed"})

    assert (refused.value.status, refused.value.code, refused.value.message, refused.value.detail) == (
        409, "invalid_refund_status", "退款单当前状态为「退款失败」，不能变为「退款中」", {"status": "failed"})
    assert Refund.objects.values_list("status", "last_error").get(pk=refund.pk) == (RefundStatus.FAILED, "")
    assert events(refund) == []


@pytest.mark.django_db
def test_allowed_from_narrows_the_table_for_a_use_case():
    refund = refund_in(RefundStatus.PENDING)

    with pytest.raises(RefundInvalidTransition):
        REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.SUCCEEDED, action=RefundAction.SUCCEEDED,
                                  allowed_from={RefundStatus.PROCESSING})

    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    assert events(refund) == []


@pytest.mark.django_db
@pytest.mark.parametrize("late", [RefundStatus.PROCESSING, RefundStatus.FAILED, RefundStatus.PENDING])
def test_progress_ignores_a_late_answer_about_an_earlier_stage(late):
    refund = refund_in(RefundStatus.SUCCEEDED)

    unchanged, changed = REFUND_MACHINE.transition(pk=refund.pk, to=late, action=RefundAction.FAILED,
                                                   fields={"last_error": "late"})

    assert changed is False
    assert unchanged.status == RefundStatus.SUCCEEDED
    assert Refund.objects.values_list("status", "last_error").get(pk=refund.pk) == (RefundStatus.SUCCEEDED, "")
    assert events(refund) == []


@pytest.mark.django_db
def test_an_unknown_row_raises_the_machines_not_found():
    with pytest.raises(RefundNotFound) as missing:
        REFUND_MACHINE.transition(pk=987654321, to=RefundStatus.PROCESSING, action=RefundAction.SUBMITTED)

    assert (missing.value.status, missing.value.code) == (404, "refund_not_found")


@pytest.mark.django_db
def test_can_answers_what_transition_would_do():
    failed, succeeded = refund_in(RefundStatus.FAILED), refund_in(RefundStatus.SUCCEEDED)
    pending = refund_in(RefundStatus.PENDING)

    assert REFUND_MACHINE.can(failed, RefundStatus.PENDING) is True
    assert REFUND_MACHINE.can(succeeded, RefundStatus.PENDING) is False
    assert REFUND_MACHINE.can(pending, RefundStatus.PENDING) is False  # already there: nothing to do
    assert REFUND_MACHINE.can(pending, RefundStatus.SUCCEEDED) is True
    assert REFUND_MACHINE.can(pending, RefundStatus.SUCCEEDED, allowed_from={RefundStatus.PROCESSING}) is False
    assert REFUND_MACHINE.sources(RefundStatus.PENDING) == {RefundStatus.FAILED}
    assert REFUND_MACHINE.targets(RefundStatus.SUCCEEDED) == set()


@pytest.mark.django_db
def test_record_audits_a_decision_without_changing_the_status():
    refund = refund_in(RefundStatus.PENDING)

    REFUND_MACHINE.record(refund, action=RefundAction.CREATED, from_status="", note="x" * 400)
    REFUND_MACHINE.record(refund, action=RefundAction.SUBMIT_ERROR, data={"attempt": 1})

    assert events(refund) == [("created", "", "pending"), ("submit_error", "pending", "pending")]
    assert [len(note) for note in RefundEvent.objects.filter(refund=refund).values_list("note", flat=True)] == [300, 0]
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING


def test_a_table_naming_a_status_the_model_does_not_have_is_refused_when_declared():
    with pytest.raises(ValueError, match="unknown statuses"):
        StateMachine(model=Refund, table={**REFUND_TRANSITIONS, RefundStatus.PENDING: {"archived"}},
                     event_model=RefundEvent, event_subject="refund", noun="退款单")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_nothing_moves():
    refund = refund_in(RefundStatus.PENDING)

    with pytest.raises(TransactionRequired):
        REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.PROCESSING, action=RefundAction.SUBMITTED)

    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    assert events(refund) == []
    with transaction.atomic():
        _, changed = REFUND_MACHINE.transition(pk=refund.pk, to=RefundStatus.PROCESSING,
                                               action=RefundAction.SUBMITTED)
    assert changed is True
