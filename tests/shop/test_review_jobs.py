"""The clock's review jobs: automatic 5★ after N days (batched, idempotent, safe with two workers)
and the sweep of photo uploads never attached to a review."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from shop.models import Review, ReviewPhoto, ReviewStatus
from shop.models.reviews import ReviewEvent
from shop.services.aftersales import after_sale_reject
from shop.services.reviews import (
    MAX_UNATTACHED_UPLOADS,
    review_auto_positive,
    review_create,
    review_photo_purge_unattached,
)
from shop.tasks import auto_positive_reviews, purge_review_photo_uploads
from tests.builders import operator, order_up_to, received_order, requested_after_sale
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory
from tests.shop.support_reviews import jpeg_bytes, upload, upload_ok

DAY = dt.timedelta(days=1)


def received_lines(n_orders: int = 1, lines_per_order: int = 2):
    skus = [SkuFactory.create(stock=100) for _ in range(lines_per_order)]
    orders = [received_order(lines=[(sku, 1) for sku in skus]) for _ in range(n_orders)]
    return [line for order in orders for line in order.lines.order_by("id")]


def test_lines_unreviewed_after_n_days_get_an_automatic_5_star(db, freight, settings):
    settings.REVIEW_AUTO_POSITIVE_DAYS = 7
    lines = received_lines(lines_per_order=2)
    received_at = lines[0].order.received_at

    too_early = review_auto_positive(now=received_at + 7 * DAY - dt.timedelta(minutes=1))
    created = review_auto_positive(now=received_at + 7 * DAY)

    assert (too_early, created) == (0, 2)
    for line in lines:
        review = Review.objects.get(order_line=line)
        assert (review.rating, review.is_auto, review.is_anonymous, review.status, review.content) == (
            5, True, True, ReviewStatus.PUBLISHED, "")
        assert (review.member_id, review.product_id) == (line.order.member_id, line.product_id_snapshot)
        event = ReviewEvent.objects.get(review=review)
        assert (event.action, event.actor, event.note) == ("auto_created", "system", "收货 7 天未评价，系统默认好评")


def test_the_setting_decides_the_days(db, freight, settings):
    settings.REVIEW_AUTO_POSITIVE_DAYS = 15
    [line] = received_lines(lines_per_order=1)

    assert review_auto_positive(now=line.order.received_at + 14 * DAY) == 0
    assert review_auto_positive(now=line.order.received_at + 15 * DAY) == 1


def test_running_twice_changes_nothing_more(db, freight):
    lines = received_lines(n_orders=2)
    later = timezone.now() + 8 * DAY

    assert review_auto_positive(now=later) == 4
    assert review_auto_positive(now=later) == 0
    assert Review.objects.count() == 4 and ReviewEvent.objects.count() == 4
    assert {r.order_line_id for r in Review.objects.all()} == {line.pk for line in lines}


def test_a_shoppers_own_review_is_kept(db, freight, sandbox):
    first, second = received_lines()
    mine = review_create(member=first.order.member, line_id=first.pk, rating=2, content="")

    assert review_auto_positive(now=timezone.now() + 8 * DAY) == 1

    assert Review.objects.get(order_line=first) == mine and mine.rating == 2
    assert Review.objects.get(order_line=second).is_auto is True


def test_refunded_lines_and_open_after_sales_get_no_invented_review(db, freight):
    refunded, claimed, rejected_claim, plain = received_lines(n_orders=1, lines_per_order=4)
    type(refunded).objects.filter(pk=refunded.pk).update(refunded_quantity=refunded.quantity,
                                                         refunded_fen=refunded.payable_fen)
    order = plain.order
    requested_after_sale(order=order, lines={claimed: 1}, reason="other")
    after_sale_reject(after_sale=requested_after_sale(order=order, lines={rejected_claim: 1}, reason="other"),
                      operator=operator("ops"), reason="已超出售后范围")

    assert review_auto_positive(now=timezone.now() + 8 * DAY) == 2

    assert set(Review.objects.values_list("order_line_id", flat=True)) == {rejected_claim.pk, plain.pk}


def test_orders_not_received_are_left_alone(db, freight):
    from shop.models import OrderStatus

    order_up_to(OrderStatus.SHIPPED, lines=[(SkuFactory.create(stock=5), 1)])

    assert review_auto_positive(now=timezone.now() + 30 * DAY) == 0


def test_batches_cover_everything(db, freight):
    received_lines(n_orders=5, lines_per_order=1)

    assert review_auto_positive(now=timezone.now() + 8 * DAY, batch_size=2) == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_create_each_review_once(freight):
    lines = received_lines(n_orders=6, lines_per_order=2)
    later = timezone.now() + 8 * DAY

    results = run_concurrently(lambda i: review_auto_positive(now=later, batch_size=3), 3)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(lines)
    assert Review.objects.count() == len(lines)


def test_the_celery_task_runs_the_service(db, freight, settings):
    settings.REVIEW_AUTO_POSITIVE_DAYS = 0
    received_lines(lines_per_order=3)

    assert auto_positive_reviews() == 3


# --- unattached uploads --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Where the review photos live: the private storage (core.media)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def test_old_unattached_uploads_are_purged_with_their_files(shopper, media, sandbox):
    old, fresh = upload_ok(shopper.client), upload_ok(shopper.client)
    ReviewPhoto.objects.filter(pk=old).update(created_at=timezone.now() - 25 * dt.timedelta(hours=1))
    old_file = media / ReviewPhoto.objects.get(pk=old).image.name

    assert old_file.exists()
    assert review_photo_purge_unattached() == 1
    assert not old_file.exists()
    assert list(ReviewPhoto.objects.values_list("id", flat=True)) == [fresh]
    assert purge_review_photo_uploads() == 0


def test_attached_photos_are_never_purged(db, freight, sandbox, media):
    from tests.fixtures import make_shopper

    shopper = make_shopper(openid=sandbox.login_code()["openid"])
    order = received_order(member=shopper.member, lines=[(SkuFactory.create(stock=5), 1)])
    photo = upload_ok(shopper.client)
    review_create(member=shopper.member, line_id=order.lines.get().pk, rating=5, photo_ids=[photo])

    assert review_photo_purge_unattached(now=timezone.now() + 30 * DAY) == 0
    assert (media / ReviewPhoto.objects.get(pk=photo).image.name).exists()


def test_unattached_uploads_per_member_are_capped(shopper, media):
    for _ in range(MAX_UNATTACHED_UPLOADS):
        upload_ok(shopper.client, jpeg_bytes((8, 8)))

    response = upload(shopper.client, jpeg_bytes((8, 8)))

    assert response.status_code == 429 and response.json()["code"] == "upload_limit_reached"
    assert ReviewPhoto.objects.count() == MAX_UNATTACHED_UPLOADS
