"""Small constructed event histories whose figures the tests work out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from members.models import Member
from payments.models import Payment
from shop.models import Order, Refund, RefundStatus
from tests.analytics.support import at, linked, stored
from tests.builders import buyer, pay, placed_order
from tests.factories import SkuFactory, default_freight

# The day both histories happen on, and its neighbours, as at() takes them.
DAY = dt.date(2026, 11, 10)
D, NEXT, BEFORE = "2026-11-10", "2026-11-11", "2026-11-09"


def funnel_history() -> dict[str, Member]:
    """Seven people (see each line): worked out, 5 enter, 4 add to cart, 2 pay."""
    m1, m5, m6 = buyer(), buyer(), buyer()
    # 1. browses anonymously on dev-1, adds to cart, logs in (dev-1 → m1) and pays: all three steps
    stored("product_view", at(D, "10:00"), device="dev-1", product_id=1, category="母婴")
    stored("add_to_cart", at(D, "10:05"), device="dev-1", product_id=1, sku_id=1)
    linked("dev-1", m1.pk)
    stored("order_paid", at(D, "12:00"), member=m1.pk)
    # 2. views twice (repeated step 1), adds to cart at 11:30: two steps, counted once, from 10:00
    stored("product_view", at(D, "10:00"), device="dev-2", product_id=1, category="母婴")
    stored("product_view", at(D, "11:00"), device="dev-2", product_id=2, category="母婴")
    stored("add_to_cart", at(D, "11:30"), device="dev-2", product_id=2, sku_id=2)
    # 3. adds to cart before viewing: the order is wrong, one step
    stored("add_to_cart", at(D, "09:00"), device="dev-3", product_id=1, sku_id=1)
    stored("product_view", at(D, "10:00"), device="dev-3", product_id=1, category="母婴")
    # 4. views another category: never enters
    stored("product_view", at(D, "10:00"), device="dev-4", product_id=3, category="服饰")
    # 5. member seen before; pays exactly 24 h after the view: the window's end counts
    stored("page_view", at("2026-11-07"), member=m5.pk, device="dev-5", path="pages/index/index")
    stored("product_view", at(D, "08:00"), member=m5.pk, device="dev-5", product_id=1, category="母婴")
    stored("add_to_cart", at(D, "08:10"), member=m5.pk, device="dev-5", product_id=1, sku_id=1)
    stored("order_paid", at(NEXT, "08:00"), member=m5.pk)
    # 6. the same, one second too late: two steps
    stored("product_view", at(D, "08:00"), member=m6.pk, device="dev-6", product_id=1, category="母婴")
    stored("add_to_cart", at(D, "08:10"), member=m6.pk, device="dev-6", product_id=1, sku_id=1)
    stored("order_paid", at(NEXT, "08:00:01"), member=m6.pk)
    # 7. entered the day before the range: not counted
    stored("product_view", at(BEFORE, "23:00"), device="dev-7", product_id=1, category="母婴")
    stored("add_to_cart", at(D, "01:00"), device="dev-7", product_id=1, sku_id=1)
    return {"m1": m1, "m5": m5, "m6": m6}


def paid_order_at(member, sku, *, placed: dt.datetime, paid: dt.datetime | None) -> Order:
    order = placed_order(member=member, lines=[(sku, 1)])
    if paid is not None:
        order = pay(order)
    Order.objects.filter(pk=order.pk).update(created_at=placed, paid_at=paid)
    return Order.objects.get(pk=order.pk)


def refunded(order: Order, amount_fen: int, *, when: dt.datetime) -> Refund:
    return Refund.objects.create(order=order, payment=Payment.objects.get(out_trade_no=order.order_no),
                                 out_refund_no=f"R{order.order_no}", amount_fen=amount_fen,
                                 status=RefundStatus.SUCCEEDED, succeeded_at=when)


def kpi_history() -> dict[str, Any]:
    """Three people visit on DAY:

    - device A, new, by a mini-program code scanned (scene 1047): two visits (10:00-10:02 with two
      pages and 30 s on one; 11:00 one page, then a share), so one bounce;
    - member M on device B, seen (anonymously, on B) three days before, so returning; arrives by a
      friend's share (scene 1007), one page, places and pays a ¥100 order;
    - device C, new, through our channel code SHOP-A (query.scene), one page at 23:59, and again
      after midnight (the next day's).
    Member N does not visit; a ¥30 refund of an older order of theirs reaches them on DAY.
    """
    default_freight(first_fee_fen=0, extra_fee_fen=0)
    sku = SkuFactory.create(price_fen=10_000, stock=10)
    m, n = buyer(), buyer()
    stored("app_launch", at(D, "10:00"), device="dev-A", scene=1047)
    stored("page_view", at(D, "10:00"), device="dev-A", path="pages/index/index")
    stored("page_view", at(D, "10:01"), device="dev-A", path="pages/product/detail")
    stored("page_leave", at(D, "10:02"), device="dev-A", path="pages/product/detail", duration=30)
    stored("page_view", at(D, "11:00"), device="dev-A", path="pages/index/index")
    stored("share", at(D, "11:01"), device="dev-A", content_type="product")
    stored("page_view", at("2026-11-07"), device="dev-B", path="pages/index/index")
    linked("dev-B", m.pk)
    stored("app_show", at(D, "09:00"), device="dev-B", member=m.pk, scene=1007)
    stored("page_view", at(D, "09:00"), device="dev-B", member=m.pk, path="pages/index/index")
    stored("order_placed", at(D, "09:05"), member=m.pk)  # a server event: no visit of its own
    stored("app_launch", at(D, "23:59"), device="dev-C", scene=1047, query={"scene": "SHOP-A"})
    stored("page_view", at(D, "23:59"), device="dev-C", path="pages/index/index")
    stored("page_view", at("2026-11-11", "00:10"), device="dev-C", path="pages/index/index")
    paid_order_at(m, sku, placed=at(D, "09:05"), paid=at(D, "09:06"))
    older = paid_order_at(n, sku, placed=at("2026-11-01"), paid=at("2026-11-01"))
    refunded(older, 3000, when=at(D, "15:00"))
    return {"m": m, "n": n, "sku": sku}
