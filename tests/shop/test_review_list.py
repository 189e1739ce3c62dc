"""The public side of reviews: a product's list (有图, 好评/差评, 精选 first, masked names), the rating
summary on the product page, and fixed query budgets."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product
from catalog.services import REVIEW_SUMMARY_FIELDS
from shop.models import ReviewStatus
from shop.services.reconcile import counters_reconcile
from shop.services.reviews import review_set_featured, review_transition
from tests.builders import buyer, received_order
from tests.factories import SkuFactory
from tests.shop.support_reviews import make_review


@pytest.fixture
def product_lines(db, freight):
    """A product bought (and received) by six members: six lines to review."""
    sku = SkuFactory.create(stock=100)
    lines = []
    for i in range(6):
        member = buyer(nickname=f"小明{i}号", avatar_url=f"https://img.example.com/a{i}.png")
        lines.append(received_order(member=member, lines=[(sku, 1)]).lines.get())
    return sku.product, lines


def reviews_url(product, query=""):
    return f"/api/v1/products/{product.pk}/reviews/{query}"


def test_only_published_reviews_featured_first_then_newest(api_client, product_lines):
    product, lines = product_lines
    old = make_review(lines[0], content="最早的")
    featured = make_review(lines[1], content="精选的")
    newest = make_review(lines[2], content="最新的")
    make_review(lines[3], status=ReviewStatus.PENDING, content="待审核的")
    make_review(lines[4], status=ReviewStatus.HIDDEN, content="隐藏的")
    review_set_featured(review_id=featured.pk, featured=True, operator=None)

    body = api_client.get(reviews_url(product)).json()

    assert body["count"] == 3
    assert [r["id"] for r in body["results"]] == [featured.pk, newest.pk, old.pk]
    assert body["results"][0]["is_featured"] is True


def test_anonymous_reviewer_is_masked(api_client, product_lines):
    product, lines = product_lines
    make_review(lines[0], anonymous=True)
    make_review(lines[1])

    shown, masked = api_client.get(reviews_url(product)).json()["results"]  # newest first

    assert (shown["nickname"], shown["avatar_url"]) == ("小明1号", "https://img.example.com/a1.png")
    assert (masked["nickname"], masked["avatar_url"]) == ("小**", "")
    assert "小明0号" not in str(masked) and "a0.png" not in str(masked)


def test_with_photos_filter(api_client, product_lines):
    product, lines = product_lines
    with_photos = make_review(lines[0], photos=2)
    make_review(lines[1])

    body = api_client.get(reviews_url(product, "?with_photos=1")).json()

    assert [r["id"] for r in body["results"]] == [with_photos.pk]
    photos = body["results"][0]["photos"]
    assert [urlsplit(u).path.rsplit("/", 1)[1] for u in photos] == [f"p{with_photos.pk}-0.jpg",
                                                                    f"p{with_photos.pk}-1.jpg"]
    assert photos[0].startswith("http://testserver/private-media/reviews/2026/11/")


def test_rating_filters(api_client, product_lines):
    product, lines = product_lines
    good, medium, bad = (make_review(line, rating=r) for line, r in zip(lines, (4, 3, 1), strict=False))

    def ids(rating):
        return [r["id"] for r in api_client.get(reviews_url(product, f"?rating={rating}")).json()["results"]]

    assert (ids("good"), ids("medium"), ids("bad")) == ([good.pk], [medium.pk], [bad.pk])
    refused = api_client.get(reviews_url(product, "?rating=great"))
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_rating_filter"


def test_reply_and_auto_review_are_shown(api_client, product_lines):
    product, lines = product_lines
    replied_at = timezone.now() - dt.timedelta(hours=1)
    make_review(lines[0], reply="感谢支持！", replied_at=replied_at)
    make_review(lines[1], content="", is_auto=True, anonymous=True)

    auto, replied = api_client.get(reviews_url(product)).json()["results"]

    assert replied["reply"] == "感谢支持！" and replied["replied_at"]
    assert (auto["is_auto"], auto["content"], auto["rating"], auto["reply"], auto["replied_at"]) == (
        True, "", 5, "", None)


def test_list_query_budget_does_not_grow_with_page_size(api_client, product_lines, freight):
    product, lines = product_lines
    sku = product.skus.get()
    for i in range(24):
        member = buyer(nickname=f"买家{i}")
        make_review(received_order(member=member, lines=[(sku, 1)]).lines.get(), photos=i % 3, anonymous=i % 2 == 0,
                    followup_content="追评", followup_status=ReviewStatus.PUBLISHED, followup_at=timezone.now())

    def count(query):
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(reviews_url(product, query))
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    small, large, photos_only = count("?page_size=2"), count("?page_size=30"), count("?with_photos=1&page_size=30")

    assert (small[1], large[1]) == (2, 24)
    assert small[0] == large[0] == photos_only[0]
    assert large[0] <= 3  # count + page (member, line joined) + photos


# --- the rating summary on the product page -----------------------------------------------------


def test_product_detail_has_the_rating_summary(api_client, product_lines):
    product, lines = product_lines
    for line, rating, photos in zip(lines[:3], (5, 4, 4), (1, 0, 2), strict=True):
        make_review(line, rating=rating, photos=photos)
    make_review(lines[3], rating=1, status=ReviewStatus.PENDING)  # not counted
    make_review(lines[4], rating=1, status=ReviewStatus.HIDDEN)  # not counted

    rating = api_client.get(f"/api/v1/products/{product.pk}/").json()["rating"]

    assert rating == {"count": 3, "average": "4.3", "with_photos": 2, "positive_rate": 100}


def test_rating_summary_rounds_half_up_and_counts_bad_ones(api_client, product_lines):
    product, lines = product_lines
    for line, rating in zip(lines[:4], (5, 5, 4, 1), strict=True):  # 15 / 4 = 3.75
        make_review(line, rating=rating)

    rating = api_client.get(f"/api/v1/products/{product.pk}/").json()["rating"]

    assert rating == {"count": 4, "average": "3.8", "with_photos": 0, "positive_rate": 75}


def test_the_summary_follows_a_review_hidden_and_the_reconcile_repairs_a_drift(api_client, product_lines,
                                                                              django_capture_on_commit_callbacks):
    # given two published reviews, one of them then hidden by an operator
    product, lines = product_lines
    make_review(lines[0], rating=5, photos=1)
    hidden = make_review(lines[1], rating=2)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        review_transition(review_id=hidden.pk, to=ReviewStatus.HIDDEN)

    # then the page counts only the published one (the refresh ran after the commit)
    summary = {"count": 1, "average": "5.0", "with_photos": 1, "positive_rate": 100}
    assert api_client.get(f"/api/v1/products/{product.pk}/").json()["rating"] == summary

    # and a summary knocked out of line is put back by the nightly reconcile, past its quiet window
    Product.objects.filter(pk=product.pk).update(review_count=7, review_positive=0)
    later = timezone.now() + dt.timedelta(minutes=settings.COUNTERS_RECONCILE_QUIET_MINUTES + 1)
    report = counters_reconcile(now=later)
    review_drifts = [(d.counter, d.recorded, d.expected) for d in report.drifts if ".review_" in d.counter]
    assert review_drifts == [("catalog.Product.review_count", 7, 1), ("catalog.Product.review_positive", 0, 1)]
    assert Product.objects.values_list(*REVIEW_SUMMARY_FIELDS).get(pk=product.pk) == (1, 5, 1, 1)


def test_product_without_reviews_has_an_empty_summary(api_client, product_lines):
    product, _ = product_lines

    rating = api_client.get(f"/api/v1/products/{product.pk}/").json()["rating"]

    assert rating == {"count": 0, "average": None, "with_photos": 0, "positive_rate": None}
