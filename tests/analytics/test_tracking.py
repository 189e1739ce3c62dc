"""Domain events reach the events table after commit, and never for work that rolled back."""

from __future__ import annotations

import pytest

from analytics.models import Event
from shop.errors import InsufficientStock
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

    events = list(Event.objects.order_by("occurred_at").values_list("name", "member_id"))
    assert events == [("order_placed", shopper.member.pk), ("order_cancelled", shopper.member.pk)]
    placed = Event.objects.get(name="order_placed")
    assert placed.properties["order_no"] == order.order_no
    assert placed.properties["payable_fen"] == order.payable_fen


def test_a_refused_order_records_nothing(shopper, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InsufficientStock):
        order_place(member=shopper.member, data=CheckoutInput(items=(LineInput(sku.pk, 3),)))
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_login_events_after_a_real_commit(sandbox, api_client):
    first = sandbox.login_code()
    api_client.post("/api/v1/auth/wechat/login", {"code": first["code"]}, format="json")
    api_client.post("/api/v1/auth/wechat/login", {"code": sandbox.login_code(openid=first["openid"])["code"]},
                    format="json")
    assert list(Event.objects.order_by("occurred_at").values_list("name", flat=True)) == [
        "member_registered", "member_login"]
