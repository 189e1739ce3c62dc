"""Reviews over the API: text through the WeChat sandbox's msgSecCheck, photos, one per line,
follow-up once, only after receipt, only own lines. Nothing of ours is mocked."""

from __future__ import annotations

import pytest

from shop.models import Order, OrderStatus, Review, ReviewPhoto, ReviewStatus
from shop.models.reviews import ReviewEvent
from shop.services.reviews import AlreadyReviewed, review_create
from tests.builders import media_check_verdict, order_up_to, received_order
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory
from tests.fixtures import make_shopper
from tests.shop.support_reviews import bomb_png, jpeg_bytes, upload, upload_ok

# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Where the review photos live: the private storage (core.media)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def reviewer(db, sandbox):
    """A shopper WeChat knows (they opened the mini-program just now), as msgSecCheck v2 needs."""
    return make_shopper(openid=sandbox.login_code()["openid"], nickname="匿名小熊")


@pytest.fixture
def received(reviewer, freight):
    """A received order of two different products for the reviewer."""
    first, second = SkuFactory.create(stock=10), SkuFactory.create(stock=10)
    return received_order(member=reviewer.member, lines=[(first, 1), (second, 1)])


def line_of(order: Order, index: int = 0):
    return order.lines.order_by("id")[index]


def post_review(client, line_id, **body):
    body.setdefault("rating", 5)
    return client.post(f"/api/v1/order-lines/{line_id}/review", body, format="json")


# --- publishing, pending, refusing ----------------------------------------------------------------


def test_clean_text_is_published_with_photos(reviewer, received, sandbox):
    photo_ids = [upload_ok(reviewer.client), upload_ok(reviewer.client)]
    line = line_of(received)

    response = post_review(reviewer.client, line.pk, rating=4, content="宝宝很喜欢，做工不错",
                           photo_ids=photo_ids, is_anonymous=True)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["rating"], body["is_anonymous"]) == ("published", 4, True)
    assert len(body["photos"]) == 2 and body["can_follow_up"] is True
    review = Review.objects.get(order_line=line)
    assert review.product_id == line.product_id_snapshot
    assert review.has_photos is False  # 有图 counts photos once WeChat's image check passed them
    assert list(review.photos.values_list("id", flat=True)) == photo_ids
    assert review.moderation["content"]["suggest"] == "pass"
    [check] = sandbox.security_checks()
    assert check["body"] == {"content": "宝宝很喜欢，做工不错", "version": 2, "scene": 2,
                             "openid": reviewer.member.openid}
    assert list(ReviewEvent.objects.filter(review=review).values_list("action", "to_status", "actor")) == [
        ("created", "published", "member")]


def test_risky_text_is_refused_and_nothing_is_saved(reviewer, received, sandbox):
    photo_id = upload_ok(reviewer.client)

    response = post_review(reviewer.client, line_of(received).pk, rating=1, content="卖违禁品的店",
                           photo_ids=[photo_id])

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "content_risky"
    assert body["message"] == "评价内容包含违规信息，请修改后重新提交"
    assert body["detail"] == {"label": 20006, "label_text": "违法犯罪"}
    assert Review.objects.count() == 0
    assert ReviewPhoto.objects.get(pk=photo_id).review_id is None  # still the shopper's to reuse


def test_text_wechat_wants_reviewed_waits_for_an_operator(reviewer, received, api_client):
    line = line_of(received)

    response = post_review(reviewer.client, line.pk, rating=3, content="一般般，待审的说法")

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["status_label"]) == ("pending", "待审核")
    review = Review.objects.get(order_line=line)
    assert review.status == ReviewStatus.PENDING
    assert review.moderation["content"]["suggest"] == "review"
    public = api_client.get(f"/api/v1/products/{line.product_id_snapshot}/reviews/").json()
    assert public["count"] == 0


@pytest.mark.parametrize("trouble", ["system_error", "stale_user"])
def test_no_verdict_from_wechat_holds_the_review_for_an_operator(reviewer, received, sandbox, trouble):
    if trouble == "system_error":
        sandbox.security_fail_next(1, errcode=-1)
    else:
        sandbox.security_stale_user(reviewer.member.openid)
    line = line_of(received)

    response = post_review(reviewer.client, line.pk, content="很好用")

    assert response.status_code == 201
    review = Review.objects.get(order_line=line)
    assert review.status == ReviewStatus.PENDING
    assert review.moderation["content"]["suggest"] == "error"
    assert review.moderation["content"]["errcode"] == (-1 if trouble == "system_error" else 61010)
    assert ReviewEvent.objects.get(review=review).note.startswith("内容安全检测不可用")


def test_rating_only_needs_no_check_and_publishes(reviewer, received, sandbox):
    response = post_review(reviewer.client, line_of(received).pk, rating=5)

    assert response.status_code == 201 and response.json()["status"] == "published"
    assert sandbox.security_checks() == []


def test_expired_token_is_refreshed_and_the_review_published(reviewer, received, sandbox):
    post_review(reviewer.client, line_of(received, 0).pk, content="第一条")
    sandbox.expire_tokens()

    response = post_review(reviewer.client, line_of(received, 1).pk, content="第二条")

    assert response.json()["status"] == "published"
    assert [c["errcode"] for c in sandbox.security_checks()] == [0, 42001, 0]


# --- who may review what, and how often -----------------------------------------------------------


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED])
def test_only_after_receipt(reviewer, freight, sandbox, status):
    order = order_up_to(status, member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)])

    response = post_review(reviewer.client, line_of(order).pk, content="还没收到")

    assert response.status_code == 409
    assert response.json()["code"] == "review_not_allowed"
    assert response.json()["detail"] == {"order_status": status}
    assert Review.objects.count() == 0
    assert sandbox.security_checks() == []  # refused before asking WeChat


def test_someone_elses_line_is_404(reviewer, received, other_shopper):
    response = post_review(other_shopper.client, line_of(received).pk, content="别人的")

    assert response.status_code == 404
    assert response.json()["code"] == "order_line_not_found"
    assert Review.objects.count() == 0


def test_one_review_per_line(reviewer, received):
    line = line_of(received)
    assert post_review(reviewer.client, line.pk, content="第一次").status_code == 201

    again = post_review(reviewer.client, line.pk, rating=1, content="改主意了")

    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    assert Review.objects.get(order_line=line).rating == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_of_one_line_make_one(reviewer, received):
    line = line_of(received)

    results = run_concurrently(lambda i: review_create(member=reviewer.member, line_id=line.pk, rating=5,
                                                       content=f"并发{i}"), 4)

    assert sum(isinstance(r, Review) for r in results) == 1
    assert all(isinstance(r, AlreadyReviewed) for r in results if not isinstance(r, Review))
    assert Review.objects.filter(order_line=line).count() == 1


def test_fully_refunded_line_cannot_be_reviewed(reviewer, received):
    line = line_of(received)
    type(line).objects.filter(pk=line.pk).update(refunded_quantity=line.quantity, refunded_fen=line.payable_fen)

    response = post_review(reviewer.client, line.pk)

    assert response.status_code == 409 and response.json()["code"] == "line_refunded"


@pytest.mark.parametrize("body, field", [
    ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"),
    ({"rating": 5, "content": "好" * 501}, "content"),
    ({"rating": 5, "photo_ids": list(range(1, 11))}, "photo_ids"),
])
def test_bad_input_is_400_and_changes_nothing(reviewer, received, body, field):
    response = reviewer.client.post(f"/api/v1/order-lines/{line_of(received).pk}/review", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert field in response.json()["detail"]
    assert Review.objects.count() == 0


def test_anonymous_request_is_401(api_client, received):
    response = post_review(api_client, line_of(received).pk)
    assert response.status_code == 401


# --- photos -------------------------------------------------------------------------------------


def test_upload_is_reencoded_under_a_dated_random_name(reviewer, media):
    response = upload(reviewer.client, jpeg_bytes(), name="C:\\Users\\alice\\IMG_2041.JPG")

    assert response.status_code == 201
    url = response.json()["url"]
    photo = ReviewPhoto.objects.get(pk=response.json()["id"])
    assert photo.member_id == reviewer.member.pk and photo.review_id is None
    assert photo.image.name.startswith("reviews/20") and photo.image.name.endswith(".jpg")
    assert "IMG_2041" not in url and "alice" not in url and str(media) not in url
    assert url.startswith("http://testserver/private-media/reviews/")
    assert (media / photo.image.name).exists()


@pytest.mark.parametrize("data, name, code, status", [
    (b"GIF89a-not-really", "a.jpg", "image_invalid", 400),
    (b"%PDF-1.7\n", "doc.pdf", "image_invalid", 400),
    (None, "bomb.png", "image_too_many_pixels", 400),
])
def test_bad_uploads_are_4xx_and_store_nothing(reviewer, media, data, name, code, status):
    response = upload(reviewer.client, bomb_png() if data is None else data, name=name)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert ReviewPhoto.objects.count() == 0
    assert not any(media.rglob("*.*")) if media.exists() else True


def test_too_large_upload_is_413_and_stores_nothing(reviewer, media, settings):
    settings.IMAGE_UPLOAD_MAX_MB = 1
    big = jpeg_bytes() + b"\0" * (1024 * 1024)

    response = upload(reviewer.client, big)

    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large"
    assert ReviewPhoto.objects.count() == 0


def test_oversized_body_is_refused_from_its_content_length(reviewer, media, settings):
    settings.IMAGE_UPLOAD_MAX_MB = 1

    response = upload(reviewer.client, b"\xff\xd8" + b"\0" * (2 * 1024 * 1024))

    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large"
    assert ReviewPhoto.objects.count() == 0
    assert not media.exists() or not any(media.rglob("*.*"))


def test_upload_without_a_file_is_400(reviewer):
    response = reviewer.client.post("/api/v1/uploads/review-photos", {}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "file_required"


def test_someone_elses_photo_cannot_be_attached(reviewer, received, other_shopper):
    foreign = upload_ok(other_shopper.client)

    response = post_review(reviewer.client, line_of(received).pk, photo_ids=[foreign])

    assert response.status_code == 400 and response.json()["code"] == "review_photo_not_found"
    assert Review.objects.count() == 0
    assert ReviewPhoto.objects.get(pk=foreign).review_id is None


def test_a_photo_is_attached_once(reviewer, received):
    photo = upload_ok(reviewer.client)
    assert post_review(reviewer.client, line_of(received, 0).pk, photo_ids=[photo]).status_code == 201

    response = post_review(reviewer.client, line_of(received, 1).pk, photo_ids=[photo])

    assert response.status_code == 400 and response.json()["code"] == "review_photo_not_found"
    assert Review.objects.count() == 1


# --- follow-up (追评) ---------------------------------------------------------------------------------


def test_followup_once_with_photos(reviewer, received, api_client, sandbox):
    review_id = post_review(reviewer.client, line_of(received).pk, content="刚收到").json()["id"]
    photo = upload_ok(reviewer.client)

    first = reviewer.client.post(f"/api/v1/reviews/{review_id}/followup", {"content": "用了一周，很好",
                                                                         "photo_ids": [photo]}, format="json")
    second = reviewer.client.post(f"/api/v1/reviews/{review_id}/followup", {"content": "再追一次"}, format="json")

    assert first.status_code == 201
    assert first.json()["followup"]["status"] == "published"
    assert first.json()["can_follow_up"] is False
    assert second.status_code == 409 and second.json()["code"] == "followup_exists"
    review = Review.objects.get(pk=review_id)
    assert review.followup_content == "用了一周，很好"
    # the photo shows once WeChat's image check passed it
    assert review.has_photos is False
    public = api_client.get(f"/api/v1/products/{review.product_id}/reviews/").json()["results"][0]
    assert public["followup"]["content"] == "用了一周，很好" and public["followup"]["photos"] == []
    media_check_verdict(ReviewPhoto.objects.get(pk=photo).media_check_id, "pass", sandbox=sandbox)
    assert Review.objects.get(pk=review_id).has_photos is True
    public = api_client.get(f"/api/v1/products/{review.product_id}/reviews/").json()["results"][0]
    assert len(public["followup"]["photos"]) == 1 and public["photos"] == []


def test_risky_followup_is_refused(reviewer, received):
    review_id = post_review(reviewer.client, line_of(received).pk).json()["id"]

    response = reviewer.client.post(f"/api/v1/reviews/{review_id}/followup", {"content": "违禁"}, format="json")

    assert response.status_code == 400 and response.json()["code"] == "content_risky"
    assert Review.objects.get(pk=review_id).followup_at is None


def test_pending_followup_is_not_shown_and_its_photos_do_not_count(reviewer, received, api_client):
    review_id = post_review(reviewer.client, line_of(received).pk, content="收到了").json()["id"]
    photo = upload_ok(reviewer.client)

    response = reviewer.client.post(f"/api/v1/reviews/{review_id}/followup",
                                    {"content": "待审的追评", "photo_ids": [photo]}, format="json")

    assert response.json()["followup"]["status"] == "pending"
    review = Review.objects.get(pk=review_id)
    assert (review.status, review.followup_status, review.has_photos) == ("published", "pending", False)
    public = api_client.get(f"/api/v1/products/{review.product_id}/reviews/").json()["results"][0]
    assert public["followup"] is None


def test_followup_on_someone_elses_review_is_404(reviewer, received, other_shopper):
    review_id = post_review(reviewer.client, line_of(received).pk).json()["id"]

    response = other_shopper.client.post(f"/api/v1/reviews/{review_id}/followup", {"content": "我也要"},
                                         format="json")

    assert response.status_code == 404 and response.json()["code"] == "review_not_found"


def test_followup_needs_text(reviewer, received):
    review_id = post_review(reviewer.client, line_of(received).pk).json()["id"]
    response = reviewer.client.post(f"/api/v1/reviews/{review_id}/followup", {"content": "  "}, format="json")
    assert response.status_code == 400


# --- the shopper's lists ------------------------------------------------------------------------


def test_mine_and_awaiting(reviewer, received, other_shopper):
    first, second = line_of(received, 0), line_of(received, 1)
    awaiting = reviewer.client.get("/api/v1/reviews/awaiting/").json()
    assert [r["line_id"] for r in awaiting["results"]] == [first.pk, second.pk]

    post_review(reviewer.client, first.pk, content="待审一下")

    assert [r["line_id"] for r in reviewer.client.get("/api/v1/reviews/awaiting/").json()["results"]] == [second.pk]
    mine = reviewer.client.get("/api/v1/reviews/mine/").json()["results"]
    assert [(r["order_line_id"], r["status"]) for r in mine] == [(first.pk, "pending")]
    assert other_shopper.client.get("/api/v1/reviews/mine/").json()["count"] == 0
