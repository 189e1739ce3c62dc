"""The demo data and the WeChat sandbox of `make run` agree: a demo order ships, and its
WeChat shipping-info upload succeeds, once the run script has told the sandbox of the paid trades."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core import jobs
from payments.models import Payment, PaymentStatus
from shop.demo.sandbox import paid_order_trades, sandbox_register_paid_orders
from shop.models import Order, OrderStatus, ShippingInfoUpload, ShippingUploadState
from shop.services.orders import order_ship
from shop.services.shipping_upload import shipping_upload_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The names of the jobs queued (recorded, not sent to a broker)."""
    names: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def apply_async(self, args: tuple) -> None:
            names.append(self.name)

    monkeypatch.setattr(jobs, "registered_task", Recorder)
    return names


def test_a_shipped_demo_order_uploads_its_shipping_info_to_the_sandbox(media, sandbox, queued,
                                                                      django_capture_on_commit_callbacks):
    call_command("load_demo_data", verbosity=0)
    paid = Payment.objects.filter(kind="order", status=PaymentStatus.PAID).count()

    assert sandbox_register_paid_orders(sandbox.base_url) == {"registered": paid, "known": 0}
    assert sandbox_register_paid_orders(sandbox.base_url) == {"registered": 0, "known": paid}

    order = Order.objects.filter(status=OrderStatus.PAID).order_by("id").first()
    assert order is not None
    with django_capture_on_commit_callbacks(execute=True):
        order_ship(order=order, carrier="顺丰速运", tracking_no="SF1234567890123")
    assert queued == ["shop.tasks.upload_shipping_info"]

    outcome = shipping_upload_attempt(order_id=order.pk)

    assert (outcome.state, outcome.error) == (ShippingUploadState.UPLOADED, "")
    transaction_id = Payment.objects.get(out_trade_no=order.order_no).transaction_id
    shipped = sandbox.shipping_order(transaction_id)
    assert (shipped["order_state"], shipped["out_trade_no"]) == (2, order.order_no)


def test_the_paid_trades_name_their_payers(media):
    call_command("load_demo_data", verbosity=0)

    trades = paid_order_trades()

    payers = dict(Order.objects.values_list("order_no", "member__openid"))
    assert len(trades) == Order.objects.filter(
        status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED]).count()
    assert all(trade["openid"] == payers[trade["out_trade_no"]] for trade in trades)
    assert all(len(trade["time_end"]) == 14 and trade["total_fee"] > 0 for trade in trades)


def test_loading_the_history_queues_no_upload_jobs(media, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_data", verbosity=0)

    assert "shop.tasks.upload_shipping_info" not in queued
    uploads = ShippingInfoUpload.objects.all()
    assert uploads.count() == Order.objects.filter(status__in=[OrderStatus.SHIPPED, OrderStatus.RECEIVED]).count()
    assert set(uploads.values_list("state", flat=True)) == {ShippingUploadState.UPLOADED}
