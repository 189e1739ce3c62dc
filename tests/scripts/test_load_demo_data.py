"""The demo loader: a full, consistent mall, loaded once however often it runs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import F, Sum

from analytics.admin.dashboard import TODO
from analytics.selectors.dashboard import todo_counts
from campaigns.models import (
    CouponKind,
    CouponTemplate,
    FlashItem,
    FlashSession,
    FullReduction,
    GiftRule,
    PointsExchange,
    PointsMallItem,
    RedeemCode,
)
from catalog.models import Category, Product, ProductImage, Sku
from members.models import Member, Segment
from shop.demo.loader import OPENID_PREFIX, SKU_PREFIX, demo_stock_consistent
from shop.models import AfterSale, Order, OrderLine, OrderStatus, Refund, Review, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_loads_a_catalogue_members_and_orders_in_every_state(media):
    call_command("load_demo_data", verbosity=0)

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
    assert (media / product.main_image.name).stat().st_size < 80_000
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


def test_running_twice_duplicates_nothing(media):
    call_command("load_demo_data", verbosity=0)
    counts = (Category.objects.count(), Product.objects.count(), Sku.objects.count(),
              Member.objects.count(), Order.objects.count(), OrderLine.objects.count(),
              CouponTemplate.objects.count(), FlashItem.objects.count(), RedeemCode.objects.count())

    call_command("load_demo_data", verbosity=0)

    assert (Category.objects.count(), Product.objects.count(), Sku.objects.count(),
            Member.objects.count(), Order.objects.count(), OrderLine.objects.count(),
            CouponTemplate.objects.count(), FlashItem.objects.count(), RedeemCode.objects.count()) == counts


def test_loads_campaigns_an_operator_can_start_from(media):
    call_command("load_demo_data", verbosity=0)

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


def test_fills_every_inbox_entry_through_the_services(media, settings):
    # As while `make run` loads: the WeChat sandbox is not listening yet.
    settings.WECHAT_API_BASE = "http://127.0.0.1:9/"
    call_command("load_demo_data", verbosity=0)

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
