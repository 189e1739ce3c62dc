"""Member photos through WeChat's image check, over HTTP: the upload's job submits the photo to the
sandbox (media_check_async), the sandbox fetches it through its signed link and pushes the verdict
to the live mall's message URL. Nothing of ours is mocked."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shop.models import AfterSalePhoto, Review, ReviewPhoto
from tests.builders import lines_of, received_order, requested_after_sale
from tests.celery_worker import celery_eager
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper
from tests.shop.support_reviews import jpeg_bytes, upload_ok
from wechat.models import MediaCheck, MediaCheckEvent, MediaCheckStatus

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE_PATH = "/api/v1/wechat/messages"


@pytest.fixture
def pushed(mall, sandbox, settings, tmp_path):
    """The sandbox pushes verdicts to the live mall at once (the URL saved after WeChat's echostr
    check); jobs run eagerly; photos live in a temporary private storage."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    sandbox.configure_message_push(mall.url + MESSAGE_PATH)
    sandbox.media_check_options(push_delay_seconds=0, retry_delay_seconds=0.05)
    with celery_eager():
        yield sandbox


@pytest.fixture
def reviewer(pushed):
    """A shopper WeChat knows (they opened the mini-program just now), and their received order."""
    default_freight()
    shopper = make_shopper(openid=pushed.login_code()["openid"])
    order = received_order(member=shopper.member, lines=[(SkuFactory.create(stock=10), 1)])
    return shopper, order


def check_of(photo_id: int) -> MediaCheck:
    check = ReviewPhoto.objects.select_related("media_check").get(pk=photo_id).media_check
    assert check is not None
    return check


def settled(sandbox, photo_id: int) -> MediaCheck:
    """The photo's check once the sandbox's push is done (it was acknowledged)."""
    pushed = sandbox.media_check(check_of(photo_id).trace_id, wait=20)
    assert pushed["done"] and pushed["deliveries"][-1]["acknowledged"], pushed
    return check_of(photo_id)


def public_photos(client, review: Review) -> list[str]:
    [shown] = client.get(f"/api/v1/products/{review.product_id}/reviews/").json()["results"]
    return list(shown["photos"])


def review_with(shopper, order, photo_ids: list[int]) -> Review:
    response = shopper.client.post(f"/api/v1/order-lines/{lines_of(order)[0].pk}/review",
                                   {"rating": 5, "content": "很好用", "photo_ids": photo_ids}, format="json")
    assert response.status_code == 201, response.content
    return Review.objects.get(pk=response.json()["id"])


def test_a_photo_wechat_passes_is_shown_once_the_verdict_arrives(reviewer, pushed, api_client, mall):
    shopper, order = reviewer
    pushed.media_check_options(auto_push=False)  # WeChat takes its time
    photo_id = upload_ok(shopper.client)
    review = review_with(shopper, order, [photo_id])

    # published with its photo still being checked: the photo is simply not there yet
    assert (review.status, review.has_photos) == ("published", False)
    assert public_photos(api_client, review) == []
    [mine] = shopper.client.get("/api/v1/reviews/mine/").json()["results"]
    assert len(mine["photos"]) == 1  # its owner sees it

    [delivery] = pushed.push_media_check(check_of(photo_id).trace_id)

    assert (delivery["status"], delivery["answer"], delivery["acknowledged"]) == (200, "success", True)
    check = check_of(photo_id)
    assert (check.status, check.label) == (MediaCheckStatus.PASS, 100)
    assert Review.objects.get(pk=review.pk).has_photos is True
    assert [url.rsplit("/", 1)[1].split("?")[0] for url in public_photos(api_client, review)] == [
        ReviewPhoto.objects.get(pk=photo_id).image.name.rsplit("/", 1)[1]]
    [submitted] = pushed.media_checks()
    assert {k: submitted["body"][k] for k in ("media_type", "version", "scene", "openid")} == {
        "media_type": 2, "version": 2, "scene": 2, "openid": shopper.member.openid}
    assert submitted["body"]["media_url"].startswith(f"{mall.url}/private-media/reviews/")


def test_the_pushed_verdict_arrives_by_itself_and_wechat_could_fetch_the_photo(reviewer, pushed, api_client):
    shopper, order = reviewer
    photo_id = upload_ok(shopper.client)

    check = settled(pushed, photo_id)

    assert check.status == MediaCheckStatus.PASS
    fetched = pushed.media_check(check.trace_id)["fetch"]
    assert (fetched["status"], fetched["content_type"]) == (200, "image/jpeg") and fetched["bytes"] > 0
    review = review_with(shopper, order, [photo_id])
    assert review.has_photos is True and len(public_photos(api_client, review)) == 1


def test_a_risky_photo_is_never_shown_and_the_console_flags_it(reviewer, pushed, api_client, admin_client):
    shopper, order = reviewer
    pushed.media_check_options(auto_push=False, next_verdicts=["pass", "risky"])  # in upload order
    clean, risky = upload_ok(shopper.client), upload_ok(shopper.client, jpeg_bytes(color=(1, 2, 3)))
    review = review_with(shopper, order, [clean, risky])

    for photo_id, verdict in ((clean, "pass"), (risky, "risky")):
        delivery = pushed.push_media_check(check_of(photo_id).trace_id)[0]
        assert delivery["acknowledged"]
        assert check_of(photo_id).status == verdict

    assert len(public_photos(api_client, review)) == 1
    assert len(public_photos(api_client, review)) == len(
        api_client.get(f"/api/v1/products/{review.product_id}/reviews/?with_photos=1").json()["results"][0]["photos"])
    [mine] = shopper.client.get("/api/v1/reviews/mine/").json()["results"]
    assert len(mine["photos"]) == 1  # not even its owner sees a risky photo
    page = admin_client.get(reverse("admin:shop_review_change", args=[review.pk])).content.decode()
    assert "不展示" in page and "违规 · 色情" in page and ReviewPhoto.objects.get(pk=risky).image.name not in page
    listing = admin_client.get(reverse("admin:wechat_mediacheck_changelist"), {"status": "risky"}).content.decode()
    assert "违规图片，不展示" in listing and "评价图片" in listing


def test_a_risky_after_sale_photo_is_left_out_of_its_owners_request(reviewer, pushed):
    shopper, order = reviewer
    pushed.media_check_options(next_verdicts=["risky"])
    response = shopper.client.post("/api/v1/uploads/after-sale-photos",
                                   {"file": SimpleUploadedFile("evidence.jpg", jpeg_bytes(), "image/jpeg")},
                                   format="multipart")
    photo = AfterSalePhoto.objects.select_related("media_check").get(pk=response.json()["id"])
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, photo_ids=[photo.pk])
    assert photo.media_check is not None
    pushed.media_check(photo.media_check.trace_id, wait=20)

    photo.media_check.refresh_from_db()
    assert photo.media_check.status == MediaCheckStatus.RISKY
    detail = shopper.client.get(f"/api/v1/after-sales/{after_sale.after_sale_no}/").json()
    assert detail["photos"] == []


def test_the_verdict_pushed_again_and_at_once_moves_the_check_once(reviewer, pushed):
    shopper, _ = reviewer
    photo_id = upload_ok(shopper.client)
    trace_id = settled(pushed, photo_id).trace_id

    again = pushed.push_media_check(trace_id, times=3, concurrent=True)

    assert [d["acknowledged"] for d in again] == [True, True, True]
    assert MediaCheckEvent.objects.filter(media_check=check_of(photo_id), action="verdict").count() == 1


@pytest.mark.parametrize("kind", ["bad_signature", "unsigned"])
def test_a_forged_verdict_is_refused_and_changes_nothing(reviewer, pushed, api_client, kind):
    shopper, order = reviewer
    pushed.media_check_options(auto_push=False, next_verdicts=["risky"])
    photo_id = upload_ok(shopper.client)
    review = review_with(shopper, order, [photo_id])

    forged = pushed.forge_media_check(check_of(photo_id).trace_id, kind=kind, suggest="pass")

    assert (forged["status"], forged["acknowledged"]) == (403, False)
    assert '"push_signature_invalid"' in forged["answer"]
    assert check_of(photo_id).status == MediaCheckStatus.PENDING
    assert public_photos(api_client, review) == []
    pushed.push_media_check(check_of(photo_id).trace_id)  # WeChat's own word still counts
    assert check_of(photo_id).status == MediaCheckStatus.RISKY


def test_a_wechat_error_on_submit_is_retried_by_the_job(reviewer, pushed, settings):
    settings.WECHAT_MEDIA_CHECK_RETRY_BASE_SECONDS = 0
    shopper, _ = reviewer
    pushed.media_check_options(fail_next=[-1])  # system busy, once

    photo_id = upload_ok(shopper.client)

    check = settled(pushed, photo_id)
    assert (check.status, check.attempts, check.last_error) == (MediaCheckStatus.PASS, 2, "")
    assert [c["errcode"] for c in pushed.media_checks()] == [-1, 0]
    assert list(MediaCheckEvent.objects.filter(media_check=check).values_list("action", flat=True)) == [
        "created", "submit_failed", "submitted", "verdict"]


def test_a_photo_wechat_wants_reviewed_waits_for_the_operators_decision(reviewer, pushed, api_client,
                                                                          admin_client):
    shopper, order = reviewer
    pushed.media_check_options(next_verdicts=["review"])
    photo_id = upload_ok(shopper.client)
    check = settled(pushed, photo_id)
    review = review_with(shopper, order, [photo_id])
    assert check.status == MediaCheckStatus.REVIEW and public_photos(api_client, review) == []
    page = admin_client.get(reverse("admin:wechat_mediacheck_change", args=[check.pk])).content.decode()
    assert "待人工审核" in page and check.media_name in page and "评价图片" in page

    admin_client.post(reverse("admin:wechat_mediacheck_changelist"),
                      {"action": "approve_selected", "_selected_action": [check.pk]})

    assert check_of(photo_id).status == MediaCheckStatus.PASS
    assert len(public_photos(api_client, review)) == 1 and Review.objects.get(pk=review.pk).has_photos
    decided = MediaCheckEvent.objects.get(media_check=check, action="decided")
    assert (decided.actor, decided.from_status, decided.to_status) == ("operator", "review", "pass")


def test_safe_mode_xml_pushes_are_decrypted(reviewer, pushed, settings, mall):
    settings.WECHAT_MESSAGE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    pushed.configure_message_push(mall.url + MESSAGE_PATH, encoding_aes_key=settings.WECHAT_MESSAGE_AES_KEY,
                                  mode="safe", data_format="xml")
    shopper, _ = reviewer
    pushed.media_check_options(next_verdicts=["risky"])

    photo_id = upload_ok(shopper.client)

    check = settled(pushed, photo_id)
    assert (check.status, check.label, check.strategy) == (MediaCheckStatus.RISKY, 20002, "content_model")
    assert "<Encrypt>" in pushed.media_check(check.trace_id)["deliveries"][-1]["body"]
