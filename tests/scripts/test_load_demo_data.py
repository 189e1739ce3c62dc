"""The demo loader: a full, consistent mall, loaded once however often it runs, and agreeing with
the WeChat sandbox of `make run` (a demo order ships and its shipping-info upload succeeds once the
run script has told the sandbox of the paid trades).

Loading the demo takes seconds, so this module loads it once, as `make run` does (the WeChat
sandbox not listening yet, the jobs it queues recorded), inside a transaction rolled back after
the module; each test reads it in its own savepoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.db.models import F, Sum
from django.test import TestCase, override_settings

from analytics.admin.dashboard import TODO
from analytics.selectors.dashboard import todo_counts
from campaigns.models import (
    CouponKind,
    CouponTemplate,
    FlashItem,
    FlashSession,
    FullReduction,
    GiftRule,
    GroupBuy,
    GroupBuyActivity,
    GroupBuyStatus,
    PointsExchange,
    PointsMallItem,
    RedeemCode,
)
from catalog.models import Category, Product, ProductImage, Sku
from core import jobs
from members.models import Member, Segment
from payments.models import Payment, PaymentStatus
from shop.demo.loader import OPENID_PREFIX, SKU_PREFIX, demo_stock_consistent
from shop.demo.sandbox import paid_order_trades, sandbox_register_paid_orders
from shop.models import (
    AfterSale,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    Review,
    Shipment,
    ShippingInfoUpload,
    ShippingUploadState,
)
from shop.services.orders import order_ship
from shop.services.shipping_upload import shipping_upload_attempt

pytestmark = pytest.mark.django_db


class _Recorder:
    """Stands in for a registered task: records the job's name instead of sending it to a broker."""

    queued: list[str] = []

    def __init__(self, name: str) -> None:
        self.name = name

    def apply_async(self, args: tuple) -> None:
        self.queued.append(self.name)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[str]]:
    """The demo loaded once for the module; yields the names of the jobs its commits queued."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media)), \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "registered_task", _Recorder)
        _Recorder.queued = []
        # Marked as TestCase marks its class-wide atomic block, so the services' durable blocks
        # may nest in it (as they do in every TestCase's test).
        outer = transaction.atomic()
        outer._from_testcase = True  # type: ignore[attr-defined]
        with outer:
            # As while `make run` loads: the WeChat sandbox is not listening yet.
            with TestCase.captureOnCommitCallbacks(execute=True), \
                    override_settings(WECHAT_API_BASE="http://127.0.0.1:9/"):
                call_command("load_demo_data", verbosity=0)
            yield list(_Recorder.queued)
            transaction.set_rollback(True)


def test_loads_a_catalogue_members_and_orders_in_every_state(demo):
    assert Category.objects.filter(parent__isnull=True).count() >= 4
    assert Category.objects.filter(parent__isnull=False).count() >= 8
    assert Product.objects.count() >= 60
    assert Product.objects.filter(is_on_shelf=False).count() >= 2
    assert Product.objects.filter(tags__contains=["new"]).exists()
    assert Product.objects.filter(tags__contains=["hot"]).exists()
    assert not Product.objects.filter(main_image="").exists()
    assert ProductImage.objects.count() == 2 * Product.objects.count()
    product = Product.objects.first()
    assert product is not None
    assert product.main_image.size < 80_000
    assert not Sku.objects.exclude(code__startswith=SKU_PREFIX).exists()
    assert not Sku.objects.filter(price_fen__lt=990).exists()
    assert not Sku.objects.filter(price_fen__gt=59900).exists()
    assert not Sku.objects.filter(cost_fen__gte=F("price_fen") * 71 / 100).exists()
    assert not Product.objects.filter(min_price_fen=0).exists()
    assert Member.objects.filter(openid__startswith=OPENID_PREFIX).count() >= 8
    statuses = set(Order.objects.values_list("status", flat=True))
    # every lifecycle state (已关闭 too when a demo refund covered a whole order)
    assert statuses >= {s.value for s in OrderStatus} - {OrderStatus.CLOSED}
    for order in Order.objects.all():
        lines = OrderLine.objects.filter(order=order).aggregate(g=Sum("goods_total_fen"),
                                                                 d=Sum("discount_fen"))
        assert lines["g"] == order.goods_total_fen
        assert lines["d"] == order.discount_fen
        assert order.payable_fen == order.goods_total_fen - order.discount_fen + order.freight_fen
        assert order.events.exists()
    paid_like = Order.objects.filter(status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED])
    assert all(o.paid_fen == o.payable_fen for o in paid_like)
    assert Shipment.objects.count() == Order.objects.filter(
        status__in=[OrderStatus.SHIPPED, OrderStatus.RECEIVED]).count()
    assert demo_stock_consistent()


def test_running_again_duplicates_nothing(demo, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    counts = (Category.objects.count(), Product.objects.count(), Sku.objects.count(),
              Member.objects.count(), Order.objects.count(), OrderLine.objects.count(),
              CouponTemplate.objects.count(), FlashItem.objects.count(), RedeemCode.objects.count())

    call_command("load_demo_data", verbosity=0)

    assert (Category.objects.count(), Product.objects.count(), Sku.objects.count(),
            Member.objects.count(), Order.objects.count(), OrderLine.objects.count(),
            CouponTemplate.objects.count(), FlashItem.objects.count(), RedeemCode.objects.count()) == counts


def test_loads_campaigns_an_operator_can_start_from(demo):
    assert set(CouponTemplate.objects.values_list("kind", flat=True)) == set(CouponKind.values)
    assert set(GiftRule.objects.values_list("trigger", flat=True)) == {"new_member", "paid_order", "birthday"}
    assert FullReduction.objects.filter(steps__isnull=False).distinct().count() == 2
    # Today's and tomorrow's default sessions, each selling three SKUs never below cost.
    assert FlashSession.objects.count() == 6
    assert FlashItem.objects.count() == 18
    assert not FlashItem.objects.filter(flash_price_fen__lt=F("sku__cost_fen")).exists()
    assert not FlashItem.objects.filter(flash_price_fen__gte=F("sku__price_fen")).exists()
    assert RedeemCode.objects.count() == 50
    assert Segment.objects.filter(name="黄金及以上·90天未下单·本月生日").exists()
    assert CouponTemplate.objects.get(name="全场满199减20").issued_count == 4


def test_fills_every_inbox_entry_through_the_services(demo, settings):
    assert set(AfterSale.objects.values_list("status", flat=True)) == {
        "requested", "awaiting_second_approval", "awaiting_return", "refunding", "refunded", "rejected"}
    waiting = AfterSale.objects.get(status="awaiting_second_approval")
    assert waiting.amount_fen > settings.REFUND_SECOND_APPROVAL_ABOVE_FEN
    assert waiting.approved_by is not None and waiting.approved_by.username == "kefu"
    assert set(Refund.objects.values_list("status", flat=True)) == {"succeeded", "failed"}
    assert set(Review.objects.values_list("status", flat=True)) == {"pending", "published"}
    assert PointsMallItem.objects.count() == 3
    assert set(PointsExchange.objects.values_list("status", flat=True)) >= {"shipped", "awaiting_shipment"}
    counts = todo_counts(keys=[entry.key for entry in TODO])
    assert all(counts[key] > 0 for key in ("to_ship", "after_sales_to_review", "refunds_second_approval",
                                          "refunds_failed", "reviews_to_moderate")), counts
    assert set(Group.objects.filter(user__username__in=["kefu", "caiwu", "cangku", "yunying"])
               .values_list("name", flat=True)) == {"客服", "财务", "仓库", "运营"}
    assert demo_stock_consistent()


def test_loads_a_group_buy_activity_with_forming_groups(demo):
    activity = GroupBuyActivity.objects.get()
    assert activity.items.count() == 2
    assert not activity.items.filter(group_price_fen__lt=F("sku__cost_fen")).exists()
    groups = sorted((g.status, g.seats_taken) for g in GroupBuy.objects.all())
    assert groups == [(GroupBuyStatus.FORMING, 1), (GroupBuyStatus.FORMING, 2), (GroupBuyStatus.SUCCEEDED, 3)]


def test_loading_the_history_queues_no_upload_jobs(demo):
    assert "shop.tasks.upload_shipping_info" not in demo
    uploads = ShippingInfoUpload.objects.all()
    assert uploads.count() == Order.objects.filter(status__in=[OrderStatus.SHIPPED, OrderStatus.RECEIVED]).count()
    assert set(uploads.values_list("state", flat=True)) == {ShippingUploadState.UPLOADED}


def test_the_paid_trades_name_their_payers(demo):
    trades = paid_order_trades()

    payers = dict(Order.objects.values_list("order_no", "member__openid"))
    assert len(trades) == Order.objects.filter(
        status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED]).count()
    assert all(trade["openid"] == payers[trade["out_trade_no"]] for trade in trades)
    assert all(len(trade["time_end"]) == 14 and trade["total_fee"] > 0 for trade in trades)


def test_a_shipped_demo_order_uploads_its_shipping_info_to_the_sandbox(demo, sandbox, monkeypatch,
                                                                      django_capture_on_commit_callbacks):
    paid = Payment.objects.filter(kind="order", status=PaymentStatus.PAID).count()

    assert sandbox_register_paid_orders(sandbox.base_url) == {"registered": paid, "known": 0}
    assert sandbox_register_paid_orders(sandbox.base_url) == {"registered": 0, "known": paid}

    order = Order.objects.filter(status=OrderStatus.PAID).order_by("id").first()
    assert order is not None
    monkeypatch.setattr(jobs, "registered_task", _Recorder)
    _Recorder.queued = []
    with django_capture_on_commit_callbacks(execute=True):
        order_ship(order=order, carrier="顺丰速运", tracking_no="SF1234567890123")
    assert _Recorder.queued == ["shop.tasks.upload_shipping_info"]

    outcome = shipping_upload_attempt(order_id=order.pk)

    assert (outcome.state, outcome.error) == (ShippingUploadState.UPLOADED, "")
    transaction_id = Payment.objects.get(out_trade_no=order.order_no).transaction_id
    shipped = sandbox.shipping_order(transaction_id)
    assert (shipped["order_state"], shipped["out_trade_no"]) == (2, order.order_no)
