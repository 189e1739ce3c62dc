"""The nightly counters reconcile: sales counts, coupon templates' used counts and members' paid
totals recomputed from the orders and coupons they count, on small data whose right values are
worked out by hand; drifted counters are repaired and reported, right ones are left alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import CouponTemplate
from catalog.models import Product, Sku
from core.counters import CounterDrift
from members.models import Member
from shop.models import Order, RefundState
from shop.services.aftersales import after_sale_approve
from shop.services.reconcile import counters_reconcile
from shop.services.refunds import refund_record_result
from shop.tasks import reconcile_counters
from tests.builders import buyer, lines_of, operator, paid_order, placed_order, refund_notice, requested_after_sale
from tests.campaigns.support_checkout import give, template
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


def later() -> dt.datetime:
    """A moment when every payment and refund made by the test is past the quiet window."""
    return timezone.now() + dt.timedelta(minutes=settings.COUNTERS_RECONCILE_QUIET_MINUTES + 1)


def counts(sku: Sku) -> int:
    return Product.objects.get(pk=sku.product_id).sales_count


def used(t: CouponTemplate) -> tuple[int, int]:
    return CouponTemplate.objects.values_list("used_count", "redeemed_value_fen").get(pk=t.pk)


def totals(member: Member) -> tuple[int, int]:
    return Member.objects.values_list("paid_order_count", "paid_total_fen").get(pk=member.pk)


@pytest.fixture
def shop_data(freight, django_capture_on_commit_callbacks):
    """Cream (¥60.00, 100 sold before this system) and lotion (¥40.00); a 满100减15 coupon template.

    - m1 paid order 1: 2 × cream + 1 × lotion with the coupon: 16000 − 1500 = 14500, free freight;
    - m1 paid order 2: 1 × cream + ¥10 freight = 7000, then refunded in full before shipping;
    - m2 placed order 3 (1 × lotion) and never paid it;
    - m2 paid order 4: 1 × lotion + ¥10 freight = 5000.
    Every after-commit change has run.
    """
    cream, lotion = SkuFactory.create(price_fen=6000, stock=20), SkuFactory.create(price_fen=4000, stock=20)
    Product.objects.filter(pk=cream.product_id).update(sales_base=100, sales_count=100)
    coupons = template(name="满100减15", threshold_fen=10000, amount_fen=1500)
    m1, m2 = buyer(), buyer()
    give(m1, coupons)
    with django_capture_on_commit_callbacks(execute=True):
        order1 = paid_order(member=m1, lines=[(cream, 2), (lotion, 1)])
        order2 = paid_order(member=m1, lines=[(cream, 1)])
        placed_order(member=m2, lines=[(lotion, 1)])
        order4 = paid_order(member=m2, lines=[(lotion, 1)])
    after_sale = requested_after_sale(order=order2, lines={lines_of(order2)[0]: 1})
    after_sale_approve(after_sale=after_sale, operator=operator("ops"))
    with django_capture_on_commit_callbacks(execute=True):
        refund_record_result(notice=refund_notice(order2.refunds.get()), source="notify")
    assert (order1.paid_fen, order2.paid_fen, order4.paid_fen) == (14500, 7000, 5000)
    assert Order.objects.get(pk=order2.pk).refund_state == RefundState.FULL
    return cream, lotion, coupons, m1, m2


def test_the_counters_kept_as_payments_and_refunds_happen_are_already_right(shop_data):
    cream, lotion, coupons, m1, m2 = shop_data

    report = counters_reconcile(now=later())

    # cream 100 + 2 + (1 − 1), lotion 1 + 1; one coupon used for ¥15; m1's order 2 went back whole
    assert (counts(cream), counts(lotion)) == (102, 2)
    assert used(coupons) == (1, 1500)
    assert (totals(m1), totals(m2)) == ((1, 14500), (1, 5000))
    assert (report.drifts, report.skipped) == ([], 0)


def test_counters_knocked_out_of_line_are_repaired_and_reported_and_right_ones_left_alone(shop_data):
    # given counters a lost after-commit update (or a bug) left wrong, and others that are right
    cream, lotion, coupons, m1, m2 = shop_data
    Product.objects.filter(pk=cream.product_id).update(sales_count=90)
    CouponTemplate.objects.filter(pk=coupons.pk).update(used_count=3, redeemed_value_fen=0)
    Member.objects.filter(pk=m1.pk).update(paid_order_count=5, paid_total_fen=0)

    # when the nightly job runs, one row per chunk
    report = counters_reconcile(now=later(), batch_size=1)

    # then each drift is repaired to the hand-computed value and reported; the others untouched
    assert report.drifts == [
        CounterDrift("catalog.Product.sales_count", cream.product_id, 90, 102, True),
        CounterDrift("campaigns.CouponTemplate.used_count", coupons.pk, 3, 1, True),
        CounterDrift("campaigns.CouponTemplate.redeemed_value_fen", coupons.pk, 0, 1500, True),
        CounterDrift("members.Member.paid_order_count", m1.pk, 5, 1, True),
        CounterDrift("members.Member.paid_total_fen", m1.pk, 0, 14500, True),
    ]
    assert (counts(cream), counts(lotion)) == (102, 2)
    assert used(coupons) == (1, 1500)
    assert (totals(m1), totals(m2)) == ((1, 14500), (1, 5000))
    # and a second run finds nothing
    assert counters_reconcile(now=later()).drifts == []


def test_a_counter_whose_after_commit_change_may_be_on_its_way_is_left_for_the_next_run(shop_data):
    # given the counters of rows paid for or refunded a moment ago, knocked out of line
    cream, lotion, coupons, m1, _ = shop_data
    Product.objects.filter(pk__in=[cream.product_id, lotion.product_id]).update(sales_count=0)
    CouponTemplate.objects.filter(pk=coupons.pk).update(used_count=0)
    Member.objects.filter(pk=m1.pk).update(paid_total_fen=0)

    # when the job runs now
    report = counters_reconcile()

    # then the sales and used counts (moved after commit) are left alone and counted as skipped;
    # the members' totals (moved in the same transaction as the orders) are repaired at once
    assert report.skipped == 3
    assert [d.counter for d in report.drifts] == ["members.Member.paid_total_fen"]
    assert (counts(cream), counts(lotion), used(coupons)[0]) == (0, 0, 0)
    assert totals(m1) == (1, 14500)

    # and once the quiet window has passed they are repaired
    assert len(counters_reconcile(now=later()).drifts) == 3
    assert (counts(cream), counts(lotion), used(coupons)) == (102, 2, (1, 1500))


def test_the_nightly_beat_job_runs_the_reconcile_and_returns_what_it_found(shop_data):
    _, _, _, _, m2 = shop_data
    jobs = {job["name"]: job for job in settings.PERIODIC_TASKS}
    assert jobs["counters.reconcile"]["task"] == reconcile_counters.name == "shop.tasks.reconcile_counters"
    Member.objects.filter(pk=m2.pk).update(paid_total_fen=1)

    result = reconcile_counters()

    # the two products and the template were paid for a moment ago: left for the next run
    assert result == {"drifts": [{"counter": "members.Member.paid_total_fen", "row_id": m2.pk, "recorded": 1,
                                  "expected": 5000, "repaired": True}], "skipped": 3,
                      "commission_drifts": []}
