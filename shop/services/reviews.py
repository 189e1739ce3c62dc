"""Reviews (评价): photos, the shopper's review and follow-up, moderation, operators, the 5★ job.

The order of every shopper write is the same, because WeChat must be asked before anything is
saved and no network call may run inside a transaction:

1. read-only checks (own line, received, not reviewed yet, photos are the shopper's own) so a
   doomed request never reaches WeChat;
2. msgSecCheck v2 on the text, outside any transaction (`_moderate`);
3. one short transaction: lock the order line (or the review), check again, write the review,
   attach the photos with a conditional UPDATE, write the audit row (ReviewEvent).

Statuses (the review's and its follow-up's) change only through review_transition(), which moves
them with REVIEW_MACHINE / FOLLOWUP_MACHINE (shop.models.reviews) and gives or takes back the
reviewer's reward.

Moderation policy (DESIGN.md §8):

- `pass` publishes; `review` saves the review as 待审核 for an operator; `risky` refuses the
  request with `content_risky` and saves nothing.
- No verdict (WeChat error other than a rejected token, which the client refreshes once;
  network failure; malformed answer): the review is saved as 待审核 with the error recorded in
  `Review.moderation`. Unchecked text is never published, and a shopper is never refused
  because WeChat was unavailable — an operator decides within the pending queue (待审核).
- Empty text (a rating with photos only) needs no check and publishes.

Photos are uploaded one per request (`review_photo_upload`, as wx.uploadFile sends them),
validated and re-encoded by core.images, stored under `reviews/<year>/<month>/<random>.<ext>`
and then referenced by id from the review or follow-up. Uploads never attached are deleted by
`review_photo_purge_unattached` after REVIEW_PHOTO_UNATTACHED_HOURS. Each upload is sent to
WeChat's image check after it commits (wechat.media_checks): other shoppers see a photo only once
it passed, so a published review may show fewer photos than it has, and `has_photos` (有图) counts
passed photos only (`review_photo_on_decided` keeps it so when a verdict arrives).

Reads used by the API and the admin (`review_list_for_product`, `review_summary_for_product`,
`review_list_for_member`, `review_lines_awaiting`) are at the end of this module.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, FileField, OuterRef, Q, When
from django.urls import reverse
from django.utils import timezone

from catalog.services import product_review_summary_set
from core.audit import Actor
from core.db import require_transaction
from core.errors import Conflict, ValidationFailed
from core.images import image_clean
from core.tracking import track
from members.models import GrowthReason, Member, PointsEntry, PointsKind
from members.services import growth_award, growth_reverse, points_award, points_reverse_award
from members.services.growth import growth_for_review
from shop.errors import (
    AlreadyReviewed,
    ContentRisky,
    FollowupExists,
    OrderLineNotFound,
    ReviewInvalidTransition,
    ReviewNotAllowed,
    ReviewNotFound,
    ReviewPhotoInvalid,
    UploadLimitReached,
)
from shop.models import AfterSaleLine, AfterSaleStatus, OrderLine, OrderStatus, Review, ReviewPhoto, ReviewStatus
from shop.models.reviews import (
    FOLLOWUP_MACHINE,
    REVIEW_MACHINE,
    REVIEW_PHOTO_MEDIA_KIND,
    ReviewAction,
    ReviewEvent,
)
from shop.selectors import PHOTO_SHOWN_TO_ALL, review_summary_counts
from wechat.errors import WechatApiError
from wechat.media_checks import media_check_create, media_checks_delete
from wechat.media_kinds import MediaKind
from wechat.security import Scene, Suggest, text_check

logger = logging.getLogger(__name__)

MAX_CONTENT_CHARS = 500
MAX_REPLY_CHARS = 500
MAX_PHOTOS = 9
# An upload not attached to a review within this many hours is deleted (file and row).
REVIEW_PHOTO_UNATTACHED_HOURS = 24
# At most this many unattached uploads per member at a time: storage is not free.
MAX_UNATTACHED_UPLOADS = 30
# After-sales that still claim a line: a 5★ review must not be invented while one is open.
_OPEN_AFTER_SALE = (AfterSaleStatus.REQUESTED, AfterSaleStatus.AWAITING_SECOND_APPROVAL,
                    AfterSaleStatus.AWAITING_RETURN, AfterSaleStatus.RETURN_SHIPPED, AfterSaleStatus.REFUNDING)


# --- photos --------------------------------------------------------------------------------------


def review_photo_upload(*, member: Member, upload: Any) -> ReviewPhoto:
    """Validate, re-encode and store one photo for the member's next review or follow-up.

    Raises core.images.ImageRejected (image_invalid, image_unsupported_format, image_too_large
    413, image_too_many_pixels) before anything is stored, and UploadLimitReached (429) when
    the member already holds MAX_UNATTACHED_UPLOADS unattached uploads. The file is written to
    the storage first (network I/O for S3, so outside any transaction), then the row is
    inserted; if the insert fails the file is deleted again.
    """
    clean = image_clean(upload)
    if ReviewPhoto.objects.filter(member=member, review__isnull=True).count() >= MAX_UNATTACHED_UPLOADS:
        raise UploadLimitReached(detail={"max": MAX_UNATTACHED_UPLOADS})
    photo = ReviewPhoto(member=member)
    photo.image.save(clean.file.name or "photo", clean.file, save=False)
    try:
        with transaction.atomic(durable=True):
            photo.save()
            photo.media_check = media_check_create(kind=REVIEW_PHOTO_MEDIA_KIND, object_id=photo.pk,
                                                   member_id=member.pk, openid=member.openid,
                                                   media_name=photo.image.name)
            photo.save(update_fields=["media_check"])
    except Exception:
        photo.image.storage.delete(photo.image.name)
        raise
    return photo


def review_photo_on_decided(*, object_id: int, status: str) -> None:
    """WeChat (or an operator) decided a review photo: the review's 有图 follows what shoppers can
    now see. In the verdict's transaction, after the check row: locks the photo (an attach in
    flight commits first, so its review is known), then the review."""
    photo = ReviewPhoto.objects.select_for_update().filter(pk=object_id).first()
    if photo is None or photo.review_id is None:
        return
    _refresh_has_photos(Review.objects.select_for_update().get(pk=photo.review_id))


def _review_photo_console_url(object_id: int) -> str:
    review_id = ReviewPhoto.objects.filter(pk=object_id).values_list("review_id", flat=True).first()
    return reverse("admin:shop_review_change", args=[review_id]) if review_id else ""


REVIEW_PHOTO_MEDIA = MediaKind(slug=REVIEW_PHOTO_MEDIA_KIND, label="评价图片", on_decided=review_photo_on_decided,
                               console_url=_review_photo_console_url)


def review_photo_purge_unattached(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Delete uploads never attached to a review, older than REVIEW_PHOTO_UNATTACHED_HOURS.

    Each row is deleted with a conditional DELETE (`review IS NULL`) before its file, so an
    upload attached at the same moment is never lost; the storage call runs outside any
    transaction. A file whose deletion fails is logged (the row is gone; the object is an
    orphan to sweep). Safe to run twice. Returns the number of uploads deleted.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(hours=REVIEW_PHOTO_UNATTACHED_HOURS)
    deleted = 0
    while True:
        batch = list(ReviewPhoto.objects.filter(review__isnull=True, created_at__lt=cutoff)
                     .order_by("created_at", "id").values_list("id", "image")[:batch_size])
        if not batch:
            return deleted
        for photo_id, name in batch:
            with transaction.atomic(durable=True):
                # The check first, as a verdict locks them (check, then photo); both go, or neither
                # when the photo was attached meanwhile.
                check_id = ReviewPhoto.objects.filter(pk=photo_id).values_list("media_check_id", flat=True).first()
                media_checks_delete(ids=[check_id] if check_id else [])
                count, _ = ReviewPhoto.objects.filter(pk=photo_id, review__isnull=True).delete()
                if not count:
                    transaction.set_rollback(True)
            if not count:
                continue
            deleted += 1
            try:
                _photo_storage().delete(name)
            except Exception:  # storage trouble (logged) must not stop the sweep
                logger.warning("review photo %s: file %s not deleted", photo_id, name, exc_info=True)


def _photo_storage() -> Storage:
    field = ReviewPhoto._meta.get_field("image")
    assert isinstance(field, FileField)
    return field.storage


def _checked_photo_ids(member: Member, photo_ids: Sequence[int]) -> list[int]:
    """The ids in order, each once, at most MAX_PHOTOS, all the member's unattached uploads."""
    ids = list(photo_ids)
    if len(ids) > MAX_PHOTOS:
        raise ValidationFailed(f"最多上传 {MAX_PHOTOS} 张图片", code="too_many_photos",
                               detail={"max": MAX_PHOTOS})
    if len(set(ids)) != len(ids):
        raise ReviewPhotoInvalid(detail={"photo_ids": ids})
    if ids:
        found = set(ReviewPhoto.objects.filter(pk__in=ids, member=member, review__isnull=True)
                    .values_list("id", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise ReviewPhotoInvalid(detail={"photo_ids": missing})
    return ids


def _attach_photos(*, review: Review, member: Member, photo_ids: list[int], followup: bool) -> None:
    """Attach in one conditional UPDATE; a photo attached elsewhere meanwhile fails the whole."""
    if not photo_ids:
        return
    updated = (ReviewPhoto.objects.filter(pk__in=photo_ids, member=member, review__isnull=True)
               .update(review=review, is_followup=followup,
                       sort=Case(*[When(pk=pk, then=i) for i, pk in enumerate(photo_ids)], default=0)))
    if updated != len(photo_ids):
        raise ReviewPhotoInvalid(detail={"photo_ids": photo_ids})


def _refresh_has_photos(review: Review) -> None:
    """`has_photos` (the 有图 filter) counts photos shoppers can see: the review's own, and the
    follow-up's once it is published, each once WeChat's check passed it."""
    visible = Q(is_followup=False)
    if review.followup_status == ReviewStatus.PUBLISHED:
        visible |= Q(is_followup=True)
    has = review.photos.filter(visible).filter(PHOTO_SHOWN_TO_ALL).exists()
    if has != review.has_photos:
        review.has_photos = has
        review.save(update_fields=["has_photos"])
        review_summary_after_commit(product_ids=[review.product_id])


def review_summary_refresh(*, product_id: int) -> None:
    """Recompute the product's rating summary (catalog's Product.review_* fields, what the product
    page shows) from its published reviews: one aggregate and one UPDATE. Idempotent; the last
    refresh after concurrent changes reads them all, and the nightly counters reconcile repairs
    anything a crash left behind."""
    product_review_summary_set(product_id=product_id, values=review_summary_counts(product_id=product_id))


def review_summary_after_commit(*, product_ids: Sequence[int]) -> None:
    """review_summary_refresh() for these products once the caller's transaction commits (at once
    outside one): a review change reaches the product page when it is visible to everyone."""
    for product_id in sorted(set(product_ids)):
        transaction.on_commit(partial(review_summary_refresh, product_id=product_id), robust=True)


# --- moderation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moderation:
    status: str  # ReviewStatus.PUBLISHED or PENDING
    record: dict[str, Any]


def _moderate(*, text: str, member: Member) -> Moderation:
    """msgSecCheck v2 for text the member wrote. Network I/O: never call inside a transaction.

    Raises ContentRisky for `risky`; see the module docstring for the no-verdict policy.
    """
    checked_at = timezone.now().isoformat()
    if not text:
        return Moderation(ReviewStatus.PUBLISHED, {"suggest": "pass", "skipped": "empty", "checked_at": checked_at})
    try:
        verdict = text_check(content=text, openid=member.openid, scene=Scene.COMMENT)
    except WechatApiError as exc:
        logger.warning("msgSecCheck unavailable for member %s (%s %s): held for an operator",
                       member.pk, exc.errcode, exc.errmsg)
        return Moderation(ReviewStatus.PENDING, {"suggest": "error", "errcode": exc.errcode,
                                                 "errmsg": exc.errmsg[:200], "checked_at": checked_at})
    if verdict.suggest == Suggest.RISKY:
        logger.info("review text refused as risky for member %s (label %s)", member.pk, verdict.label)
        raise ContentRisky(detail={"label": verdict.label, "label_text": verdict.label_text})
    status = ReviewStatus.PUBLISHED if verdict.suggest == Suggest.PASS else ReviewStatus.PENDING
    return Moderation(status, {**verdict.as_json(), "checked_at": checked_at})


def _clean_text(content: str, *, required: bool, what: str) -> str:
    text = (content or "").strip()
    if required and not text:
        raise ValidationFailed(f"请填写{what}", code="content_required")
    if len(text) > MAX_CONTENT_CHARS:
        raise ValidationFailed(f"{what}不能超过 {MAX_CONTENT_CHARS} 个字", code="content_too_long",
                               detail={"max": MAX_CONTENT_CHARS, "length": len(text)})
    return text


# --- the shopper's review and follow-up ---------------------------------------------------------


def _line_for_member(*, member: Member, line_id: int, lock: bool = False) -> OrderLine:
    lines = OrderLine.objects.filter(pk=line_id, order__member=member).select_related("order")
    if lock:
        lines = lines.select_for_update(of=("self",))
    line = lines.first()
    if line is None:
        raise OrderLineNotFound(detail={"line_id": line_id})
    return line


def _check_reviewable(line: OrderLine) -> None:
    if line.order.status != OrderStatus.RECEIVED:
        raise ReviewNotAllowed(detail={"order_status": line.order.status})
    if line.refunded_quantity >= line.quantity:
        raise ReviewNotAllowed("该商品已退款，无法评价", code="line_refunded")
    if Review.objects.filter(order_line=line).exists():
        raise AlreadyReviewed()


def review_create(*, member: Member, line_id: int, rating: int, content: str = "",
                  is_anonymous: bool = False, photo_ids: Sequence[int] = ()) -> Review:
    """The shopper reviews one line of a received order: 1–5 stars, text, ≤ 9 photos.

    One review per line (DB-unique; the line row is locked while the review is written, which
    also serialises with the auto-review job). The line must be the member's (else 404
    order_line_not_found), its order RECEIVED (review_not_allowed) and not fully refunded
    (line_refunded). Text passes msgSecCheck first, outside the transaction: `risky` raises
    content_risky and saves nothing; `review` or no verdict saves it as PENDING. Photos are the
    member's unattached uploads (review_photo_not_found otherwise). Not idempotent by design:
    a repeat is refused with already_reviewed (409), which the mini-program treats as done.
    """
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationFailed("评分须为 1–5 星", code="invalid_rating")
    text = _clean_text(content, required=False, what="评价内容")
    _check_reviewable(_line_for_member(member=member, line_id=line_id))
    ids = _checked_photo_ids(member, photo_ids)

    moderation = _moderate(text=text, member=member)

    try:
        with transaction.atomic(durable=True):
            line = _line_for_member(member=member, line_id=line_id, lock=True)
            _check_reviewable(line)
            review = Review.objects.create(
                order_line=line, product_id=line.product_id_snapshot, member=member, rating=rating,
                content=text, is_anonymous=bool(is_anonymous), status=moderation.status,
                moderation={"content": moderation.record},
            )
            _attach_photos(review=review, member=member, photo_ids=ids, followup=False)
            if ids:
                _refresh_has_photos(review)
            REVIEW_MACHINE.record(review, action=ReviewAction.CREATED, from_status="", actor=Actor.MEMBER,
                                  note=_moderation_note(moderation))
            if review.status == ReviewStatus.PUBLISHED:
                _reward_review(review)
                review_summary_after_commit(product_ids=[review.product_id])
            track("review_created", member_id=member.pk,
                  properties={"review_id": review.pk, "product_id": review.product_id, "rating": rating,
                              "photos": len(ids), "status": review.status})
    except IntegrityError as exc:
        # Only the one-review-per-line constraint can fire here: the line lock makes it a
        # last line of defence, not a path.
        raise AlreadyReviewed() from exc
    return review


def review_followup_add(*, member: Member, review_id: int, content: str,
                        photo_ids: Sequence[int] = ()) -> Review:
    """The shopper adds the one follow-up (追评) to their review: text (required) and ≤ 9 photos.

    Same moderation as review_create; the follow-up has its own status (followup_status), so a
    pending follow-up never hides the published review. Locks the review row; a second
    follow-up is refused with followup_exists (409). Someone else's review is 404.
    """
    text = _clean_text(content, required=True, what="追评内容")
    review = _review_for_member(member=member, review_id=review_id)
    if review.followup_at is not None:
        raise FollowupExists()
    ids = _checked_photo_ids(member, photo_ids)

    moderation = _moderate(text=text, member=member)

    with transaction.atomic(durable=True):
        review = _review_for_member(member=member, review_id=review_id, lock=True)
        if review.followup_at is not None:
            raise FollowupExists()
        review.followup_content = text
        review.followup_status = moderation.status
        review.followup_at = timezone.now()
        review.moderation = {**review.moderation, "followup": moderation.record}
        review.save(update_fields=["followup_content", "followup_status", "followup_at", "moderation"])
        _attach_photos(review=review, member=member, photo_ids=ids, followup=True)
        _refresh_has_photos(review)
        FOLLOWUP_MACHINE.record(review, action=ReviewAction.FOLLOWUP, from_status="", actor=Actor.MEMBER,
                                note=_moderation_note(moderation))
        track("review_followup", member_id=member.pk,
              properties={"review_id": review.pk, "photos": len(ids), "status": review.followup_status})
    return review


def _review_for_member(*, member: Member, review_id: int, lock: bool = False) -> Review:
    reviews = Review.objects.filter(pk=review_id, member=member)
    if lock:
        reviews = reviews.select_for_update()
    review = reviews.first()
    if review is None:
        raise ReviewNotFound(detail={"review_id": review_id})
    return review


def _moderation_note(moderation: Moderation) -> str:
    record = moderation.record
    if record.get("suggest") == "error":
        return f"内容安全检测不可用（{record.get('errcode')}），转人工审核"
    if record.get("suggest") == Suggest.REVIEW:
        return f"内容安全检测建议人工审核（{record.get('label_text', '')}）"
    return ""


# --- operators ----------------------------------------------------------------------------------

def review_transition(*, review_id: int, to: str, followup: bool = False, actor: str = Actor.OPERATOR,
                      operator: AbstractBaseUser | None = None, note: str = "") -> tuple[Review, bool]:
    """Move a review (or its follow-up) to `to`. Returns (review, changed); a repeat is a no-op.

    Runs in the caller's transaction; REVIEW_MACHINE (FOLLOWUP_MACHINE) locks the row, checks the
    table and writes the ReviewEvent. Hiding a review also takes it out of 精选. Publishing a review
    gives the member its reward the first time, hiding it takes the reward back (_reward_review).
    A review without a follow-up has no follow-up to move (no_followup).
    """
    require_transaction("review_transition")
    if followup:
        # followup_status is set once, with the follow-up, and never cleared: no lock needed to ask.
        current = Review.objects.filter(pk=review_id).values_list("followup_status", flat=True).first()
        if current is None:
            raise ReviewNotFound(detail={"review_id": review_id})
        if not current:
            raise Conflict("该评价没有追评", code="no_followup")
        review, changed = FOLLOWUP_MACHINE.transition(
            pk=review_id, to=to, action=(ReviewAction.FOLLOWUP_PUBLISHED if to == ReviewStatus.PUBLISHED
                                         else ReviewAction.FOLLOWUP_HIDDEN),
            actor=actor, operator=operator, note=note)
        if changed:
            _refresh_has_photos(review)
        return review, changed
    review, changed = REVIEW_MACHINE.transition(
        pk=review_id, to=to, action=ReviewAction.PUBLISHED if to == ReviewStatus.PUBLISHED else ReviewAction.HIDDEN,
        actor=actor, operator=operator, note=note, on_change=_unfeature_when_hidden)
    if changed and to == ReviewStatus.PUBLISHED:
        _reward_review(review)
    elif changed and to == ReviewStatus.HIDDEN:
        _take_back_review_reward(review)
    if changed:
        review_summary_after_commit(product_ids=[review.product_id])
    return review, changed


def _unfeature_when_hidden(review: Review) -> list[str]:
    if review.status == ReviewStatus.HIDDEN and review.is_featured:
        review.is_featured = False
        return ["is_featured"]
    return []


# --- the reviewer's reward ----------------------------------------------------------------------


def review_reward_reference(review_id: int) -> str:
    """The ledger reference of a review's points and growth ("review:<id>")."""
    return f"review:{review_id}"


def _reward_review(review: Review) -> None:
    """The member's reward for a review the first time it is published (at creation when the
    text passed the check, else when an operator publishes it): growth_for_review() growth and
    settings.POINTS_PER_REVIEW points (评价), in the caller's transaction.

    Once per review: both are keyed by review_reward_reference, so a repeat — or publishing a
    review again after it was hidden — writes nothing. The automatic 5★ reviews the job gives
    (is_auto) earn nothing: the member wrote nothing.
    """
    require_transaction("_reward_review")
    if review.is_auto:
        return
    reference = review_reward_reference(review.pk)
    growth_award(member_id=review.member_id, amount=growth_for_review(), reason=GrowthReason.REVIEW,
                 reference=reference, note=f"评价 #{review.pk}")
    points_award(member_id=review.member_id, points=settings.POINTS_PER_REVIEW, kind=PointsKind.REVIEW,
                 reference=reference, note=f"评价 #{review.pk}")


def _take_back_review_reward(review: Review) -> None:
    """An operator hid the review (隐藏, the one way a review is taken down): take back the points
    and growth it earned, once (reversal reference "review:<id>:hidden"), never below zero (points
    already spent are recorded as a shortfall). The reward is not given again if the review is
    published again. In the caller's transaction; nothing to do when it earned nothing."""
    require_transaction("_take_back_review_reward")
    reference = review_reward_reference(review.pk)
    reversal = f"{reference}:hidden"
    awarded = PointsEntry.objects.filter(member_id=review.member_id, kind=PointsKind.REVIEW,
                                         reference=reference).values_list("delta", flat=True).first()
    if awarded:
        points_reverse_award(member_id=review.member_id, reference=reference, points=awarded,
                             reversal_reference=reversal, award_kind=PointsKind.REVIEW, note="评价被隐藏")
    growth_reverse(member_id=review.member_id, reference=reference, amount=None, reversal_reference=reversal,
                   note="评价被隐藏")


def review_publish(*, review_id: int, operator: AbstractBaseUser | None, followup: bool = False) -> Review:
    """发布: a pending or hidden review (or follow-up) becomes visible. Idempotent."""
    with transaction.atomic(durable=True):
        review, _ = review_transition(review_id=review_id, to=ReviewStatus.PUBLISHED, followup=followup,
                                      operator=operator)
    return review


def review_hide(*, review_id: int, operator: AbstractBaseUser | None, followup: bool = False,
                reason: str = "") -> Review:
    """隐藏: take a review (or only its follow-up) down; a hidden review leaves 精选. Idempotent."""
    with transaction.atomic(durable=True):
        review, _ = review_transition(review_id=review_id, to=ReviewStatus.HIDDEN, followup=followup,
                                      operator=operator, note=reason)
    return review


def review_set_featured(*, review_id: int, featured: bool, operator: AbstractBaseUser | None) -> Review:
    """精选 / 取消精选. Only a published review can be featured (invalid_review_status otherwise).
    Featured reviews come first in the product's list. Idempotent."""
    with transaction.atomic(durable=True):
        review = Review.objects.select_for_update().filter(pk=review_id).first()
        if review is None:
            raise ReviewNotFound(detail={"review_id": review_id})
        if review.is_featured == featured:
            return review
        if featured and review.status != ReviewStatus.PUBLISHED:
            raise ReviewInvalidTransition("只能精选已发布的评价", detail={"status": review.status})
        review.is_featured = featured
        review.save(update_fields=["is_featured"])
        REVIEW_MACHINE.record(review, action=ReviewAction.FEATURED if featured else ReviewAction.UNFEATURED,
                              actor=Actor.OPERATOR, operator=operator, from_status="", to_status="")
    return review


def review_reply(*, review_id: int, text: str, operator: AbstractBaseUser | None) -> Review:
    """商家回复: set (or replace) the reply shoppers see under the review, stamping replied_at.

    The text is the merchant's own words: no msgSecCheck. Empty text is refused (reply_empty).
    """
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("回复内容不能为空", code="reply_empty")
    if len(text) > MAX_REPLY_CHARS:
        raise ValidationFailed(f"回复不能超过 {MAX_REPLY_CHARS} 个字", code="reply_too_long")
    with transaction.atomic(durable=True):
        review = Review.objects.select_for_update().filter(pk=review_id).first()
        if review is None:
            raise ReviewNotFound(detail={"review_id": review_id})
        if review.reply == text:
            return review
        action = ReviewAction.REPLY_EDITED if review.reply else ReviewAction.REPLIED
        review.reply = text
        review.replied_at = timezone.now()
        review.save(update_fields=["reply", "replied_at"])
        REVIEW_MACHINE.record(review, action=action, actor=Actor.OPERATOR, operator=operator, note=text,
                              from_status="", to_status="")
    return review


# --- the clock ----------------------------------------------------------------------------------


def review_auto_positive(*, now: dt.datetime | None = None, batch_size: int = 200,
                         max_batches: int = 100) -> int:
    """Give an automatic 5★ review (is_auto, anonymous, no text) to every line not reviewed
    REVIEW_AUTO_POSITIVE_DAYS after its order was received. Returns how many were created.

    Skips lines fully refunded or with an after-sale still open (a later run picks those up if
    they end without a full refund). Each batch is its own transaction that claims lines with
    `FOR UPDATE SKIP LOCKED`, so two workers never take the same line and a shopper reviewing
    at that moment (who locks the line too) wins or waits; under the lock the batch re-reads
    which lines have a review. Idempotent: a line has at most one review (unique).
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.REVIEW_AUTO_POSITIVE_DAYS)
    open_after_sale = AfterSaleLine.objects.filter(order_line=OuterRef("pk"),
                                                   after_sale__status__in=_OPEN_AFTER_SALE)
    due = (OrderLine.objects
           .filter(order__status=OrderStatus.RECEIVED, order__received_at__lte=cutoff, review__isnull=True,
                   refunded_quantity__lt=F("quantity"))
           .exclude(Exists(open_after_sale)))
    created = 0
    for _ in range(max_batches):
        with transaction.atomic(durable=True):
            lines = list(due.select_for_update(skip_locked=True, of=("self",)).select_related("order")
                         .order_by("id")[:batch_size])
            if not lines:
                break
            # A fresh statement sees reviews committed after this batch's first read.
            reviewed = set(Review.objects.filter(order_line__in=lines).values_list("order_line_id", flat=True))
            todo = [line for line in lines if line.pk not in reviewed]
            reviews = Review.objects.bulk_create([
                Review(order_line=line, product_id=line.product_id_snapshot, member_id=line.order.member_id,
                       rating=5, content="", is_anonymous=True, is_auto=True, status=ReviewStatus.PUBLISHED)
                for line in todo
            ])
            ReviewEvent.objects.bulk_create([
                ReviewEvent(review=review, action=ReviewAction.AUTO_CREATED, to_status=ReviewStatus.PUBLISHED,
                            actor=Actor.SYSTEM,
                            note=f"收货 {settings.REVIEW_AUTO_POSITIVE_DAYS} 天未评价，系统默认好评")
                for review in reviews
            ])
            review_summary_after_commit(product_ids=[review.product_id for review in reviews])
            created += len(reviews)
    return created
