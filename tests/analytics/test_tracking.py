"""Domain events reach the events table after commit (through the buffer the flush empties), and
never for work that rolled back; one that cannot be recorded is counted, never raised."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from analytics.models import Event, EventBuffer, EventLoss
from analytics.services.storage import events_flush
from catalog.errors import InsufficientStock
from core.tracking import track
from shop.services.orders import CheckoutInput, LineInput, order_cancel, order_place
from tests.factories import SkuFactory, default_freight


@pytest.fixture
def sku(db):
    default_freight()
    return SkuFactory.create(stock=2)


def test_placing_and_cancelling_record_events(shopper, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=order, reason="不想要了", actor="member")
    events_flush()

    events = list(Event.objects.order_by("occurred_at").values_list("name", "member_id"))
    assert events == [("order_placed", shopper.member.pk), ("order_cancelled", shopper.member.pk)]
    placed = Event.objects.get(name="order_placed")
    assert placed.properties["order_no"] == order.order_no
    assert placed.properties["payable_fen"] == order.payable_fen


def test_a_refused_order_records_nothing(shopper, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InsufficientStock):
        order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 3),)))
    events_flush()
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_login_events_after_a_real_commit(sandbox, api_client):
    first = sandbox.login_code()
    api_client.post("/api/v1/auth/wechat/login", {"code": first["code"]}, format="json")
    api_client.post("/api/v1/auth/wechat/login", {"code": sandbox.login_code(openid=first["openid"])["code"]},
                    format="json")
    events_flush()
    assert list(Event.objects.order_by("occurred_at").values_list("name", flat=True)) == [
        "member_registered", "member_login"]


class Rollback(Exception):
    pass


def test_an_event_tracked_in_a_committed_transaction_is_recorded(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        track("coupon_claimed", member_id=7, anonymous_id="anon-1", properties={"template_id": 3})
        assert not EventBuffer.objects.exists()  # not before the commit

    assert not Event.objects.exists()  # nor before the flush
    events_flush()
    event = Event.objects.get()
    assert (event.name, event.member_id, event.anonymous_id, event.properties) == (
        "coupon_claimed", 7, "anon-1", {"template_id": 3})


def test_an_event_tracked_in_a_rolled_back_transaction_is_not_recorded(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Rollback):
        with transaction.atomic():
            track("coupon_claimed", member_id=7)
            raise Rollback

    assert callbacks == []
    events_flush()
    assert not Event.objects.exists()


def test_a_failure_to_record_is_logged_not_raised(db, django_capture_on_commit_callbacks, caplog):
    with caplog.at_level(logging.ERROR, logger="core.tracking"), django_capture_on_commit_callbacks(execute=True):
        track("coupon_claimed", member_id=7, properties={"unserialisable": object()})

    events_flush()
    assert not Event.objects.exists()
    assert [r.getMessage() for r in caplog.records] == ["could not record event coupon_claimed"]
    assert list(EventLoss.objects.values_list("name", "lost")) == [("coupon_claimed", 1)]
