"""The nightly counters reconcile: denormalised counters recomputed from the rows they count.

Counters kept for fast reads move with each payment and refund; some after the commit (hot rows,
docs/architecture.md "Lock order"), so a crash between the commit and their UPDATE, or a bug,
leaves them wrong. Every night `counters_reconcile()` recomputes them, repairs what drifted
(core.counters: a conditional UPDATE on the value read, so a change made meanwhile is never
overwritten) and reports it:

- a product's sales_count = its sales_base + the units of paid orders' lines − the units refunded;
- a coupon template's used_count / redeemed_value_fen = its USED coupons / their discounts
  (campaigns.services.checkout.coupon_template_counts_reconcile);
- a member's paid_order_count / paid_total_fen = their paid orders not refunded in full / what
  those orders paid minus what was refunded;
- a product's rating summary (review_count, review_rating_sum, review_with_photos,
  review_positive) = its published reviews, their stars, those with photos, those with 4–5★.

The distributors' commission balances are checked in the same run
(campaigns.services.settlement.commission_balances_reconcile): each snapshot bucket against the sum
of its ledger column. Those drifts are reported, never repaired — money is not a counter to
overwrite; a drift there is a bug to look at.

"Paid orders" are the orders whose payment was counted (paid_at set: a payment that reached an
already-cancelled order and went back is not). The after-commit counters of a row touched in the
last COUNTERS_RECONCILE_QUIET_MINUTES are left for the next run, since that change may still be
on its way; the members' totals move in the same transaction as the orders, so each chunk reads
both in one statement (one snapshot) and needs no such wait.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.services.checkout import coupon_template_counts_reconcile
from campaigns.services.settlement import BalanceDrift, commission_balances_reconcile
from catalog.models import Product
from catalog.services import REVIEW_SUMMARY_FIELDS, product_review_summary_repair, product_sales_count_repair
from core.counters import CounterDrift
from members.models import Member
from members.services.purchases import member_purchase_totals_repair
from shop.models import AfterSaleEvent, Order, OrderEvent, OrderLine, RefundState
from shop.models.aftersales import AfterSaleAction
from shop.models.orders import OrderAction
from shop.models.reviews import ReviewEvent
from shop.selectors import review_summary_expected

logger = logging.getLogger(__name__)


@dataclass
class CountersReport:
    """What the reconcile found: every drift (repaired or left because it moved meanwhile), how
    many rows it left for the next run because they were touched too recently, and the
    distributors whose commission balances disagree with their ledger (reported only)."""

    drifts: list[CounterDrift] = field(default_factory=list)
    skipped: int = 0
    commission_drifts: list[BalanceDrift] = field(default_factory=list)


def counters_reconcile(*, now: dt.datetime | None = None, batch_size: int | None = None) -> CountersReport:
    """Recompute products' sales counts, coupon templates' used counts and members' paid totals;
    repair and report the drifts (each logged as a warning, with an error-level summary). Check the
    distributors' commission balances against their ledger and report those drifts.

    Safe to run twice and beside live traffic: rows are read in primary-key chunks, each chunk
    one statement, no row is locked, and a repair is conditional on the value that was read.
    """
    now = now or timezone.now()
    batch = batch_size or settings.COUNTERS_RECONCILE_BATCH
    quiet_since = now - dt.timedelta(minutes=settings.COUNTERS_RECONCILE_QUIET_MINUTES)
    report = CountersReport()
    _sales_counts(report, quiet_since=quiet_since, batch=batch)
    drifts, skipped = coupon_template_counts_reconcile(quiet_since=quiet_since, batch_size=batch)
    report.drifts += drifts
    report.skipped += skipped
    _member_totals(report, batch=batch)
    _review_summaries(report, quiet_since=quiet_since, batch=batch)
    report.commission_drifts = commission_balances_reconcile(batch_size=batch)
    if report.drifts:
        logger.error("counters reconcile: %d counter(s) drifted", len(report.drifts))
    return report


def _sales_counts(report: CountersReport, *, quiet_since: dt.datetime, batch: int) -> None:
    counted = (OrderLine.objects.filter(product_id_snapshot=OuterRef("pk"), order__paid_at__isnull=False)
               .order_by().values("product_id_snapshot")
               .annotate(units=Sum(F("quantity") - F("refunded_quantity"))).values("units"))
    busy = _recently_moved_products(quiet_since)
    after = 0
    while True:
        rows = list(Product.objects.filter(pk__gt=after).order_by("pk")
                    .annotate(sold=Coalesce(Subquery(counted), Value(0)))
                    .values_list("pk", "sales_count", "sales_base", "sold")[:batch])
        if not rows:
            return
        after = rows[-1][0]
        for pk, sales_count, sales_base, sold in rows:
            if pk in busy:
                report.skipped += 1
                continue
            report.drifts += product_sales_count_repair(product_id=pk, recorded=sales_count,
                                                        expected=max(sales_base + sold, 0))


def _recently_moved_products(since: dt.datetime) -> set[int]:
    """Products of orders paid or refunded since `since` (their after-commit change may be in flight)."""
    paid_or_refunded = OrderEvent.objects.filter(
        created_at__gte=since, action__in=[OrderAction.PAID, OrderAction.REVIVED, OrderAction.REFUNDED])
    refunded_at_zero = AfterSaleEvent.objects.filter(created_at__gte=since, action=AfterSaleAction.REFUNDED)
    orders = (Q(order__in=paid_or_refunded.values("order_id"))
              | Q(order__in=refunded_at_zero.values("after_sale__order_id")))
    return set(OrderLine.objects.filter(orders).values_list("product_id_snapshot", flat=True).distinct())


def _review_summaries(report: CountersReport, *, quiet_since: dt.datetime, batch: int) -> None:
    """Each product's rating summary against its published reviews; a product with a review
    changed since `quiet_since` is left for the next run (its after-commit refresh may be in flight)."""
    busy = set(ReviewEvent.objects.filter(created_at__gte=quiet_since).values_list("review__product_id", flat=True))
    after = 0
    while True:
        rows = list(Product.objects.filter(pk__gt=after).order_by("pk")
                    .annotate(expected=review_summary_expected())
                    .values_list("pk", *REVIEW_SUMMARY_FIELDS, "expected")[:batch])
        if not rows:
            return
        after = rows[-1][0]
        for pk, count, stars, with_photos, positive, expected in rows:
            if pk in busy:
                report.skipped += 1
                continue
            want = expected or {"count": 0, "stars": 0, "with_photos": 0, "positive": 0}
            report.drifts += product_review_summary_repair(
                product_id=pk, recorded=(count, stars, with_photos, positive),
                expected=(want["count"], want["stars"], want["with_photos"], want["positive"]))


def _member_totals(report: CountersReport, *, batch: int) -> None:
    paid = Order.objects.filter(member=OuterRef("pk"), paid_at__isnull=False).order_by().values("member")
    orders = paid.exclude(refund_state=RefundState.FULL).annotate(n=Count("pk")).values("n")
    total = paid.annotate(fen=Sum(F("paid_fen") - F("refunded_fen"))).values("fen")
    after = 0
    while True:
        rows = list(Member.objects.filter(pk__gt=after).order_by("pk")
                    .annotate(expected_orders=Coalesce(Subquery(orders), Value(0)),
                              expected_fen=Coalesce(Subquery(total), Value(0)))
                    .values_list("pk", "paid_order_count", "paid_total_fen", "expected_orders", "expected_fen")[:batch])
        if not rows:
            return
        after = rows[-1][0]
        for pk, order_count, total_fen, expected_orders, expected_fen in rows:
            report.drifts += member_purchase_totals_repair(member_id=pk, recorded=(order_count, total_fen),
                                                           expected=(expected_orders, expected_fen))
