"""Reviews (评价) of order lines, with photos, a follow-up (追评) and the operator's reply."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models import Product
from core.audit import AuditEvent
from core.media import private_storage
from core.state import StateMachine
from shop.errors import ReviewInvalidTransition, ReviewNotFound
from wechat.models import MediaCheck


class ReviewStatus(models.TextChoices):
    PUBLISHED = "published", "已发布"  # shoppers see it
    PENDING = "pending", "待审核"  # WeChat said "review" (or could not check): waits for an operator
    HIDDEN = "hidden", "已隐藏"  # an operator took it down


# The review (and follow-up) lifecycle: REVIEW_MACHINE and FOLLOWUP_MACHINE below. Only
# shop.services.reviews.review_transition() changes a status, through them.
REVIEW_TRANSITIONS: dict[str, set[str]] = {
    ReviewStatus.PENDING: {ReviewStatus.PUBLISHED, ReviewStatus.HIDDEN},
    ReviewStatus.PUBLISHED: {ReviewStatus.HIDDEN},
    ReviewStatus.HIDDEN: {ReviewStatus.PUBLISHED},
}


class Review(models.Model):
    order_line = models.OneToOneField("shop.OrderLine", verbose_name="订单商品", on_delete=models.PROTECT,
                                      related_name="review")
    product = models.ForeignKey(Product, verbose_name="商品", on_delete=models.PROTECT,
                                related_name="reviews")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="reviews")
    rating = models.PositiveSmallIntegerField("评分")
    content = models.TextField("内容", blank=True, default="")
    is_anonymous = models.BooleanField("匿名", default=False)
    status = models.CharField("状态", max_length=16, choices=ReviewStatus.choices,
                              default=ReviewStatus.PUBLISHED, db_index=True)
    is_featured = models.BooleanField("精选", default=False)
    is_auto = models.BooleanField("系统默认好评", default=False)
    has_photos = models.BooleanField("有图", default=False)
    reply = models.TextField("商家回复", blank=True, default="")
    replied_at = models.DateTimeField("回复时间", null=True, blank=True)
    followup_content = models.TextField("追评", blank=True, default="")
    followup_status = models.CharField("追评状态", max_length=16, choices=ReviewStatus.choices, blank=True,
                                       default="")
    followup_at = models.DateTimeField("追评时间", null=True, blank=True)
    created_at = models.DateTimeField("评价时间", auto_now_add=True, db_index=True)
    # What WeChat's msgSecCheck said about the text and the follow-up ({"content": {...},
    # "followup": {...}}: suggest, label, trace_id, or the error that sent it to an operator).
    moderation = models.JSONField("内容安全检测", default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = "评价"
        verbose_name_plural = "评价"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["product", "status", "-id"]),
            # The public list: a product's published reviews, featured first, newest first.
            models.Index(fields=["product", "-is_featured", "-id"], condition=Q(status="published"),
                         name="review_public_list_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"评价 #{self.pk}（{self.rating} 星）"


# The MediaCheck kind of review photos (wechat.media_checks; registered in ShopConfig.ready()).
REVIEW_PHOTO_MEDIA_KIND = "review_photo"


class ReviewPhoto(models.Model):
    """A photo the shopper uploaded (wx.uploadFile sends one file per request), then attached to
    a review or its follow-up. Unattached uploads are purged by a job after a day."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="photos", null=True, blank=True)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, null=True,
                               blank=True, related_name="+")
    image = models.ImageField("图片", upload_to="reviews/%Y/%m/", storage=private_storage)
    # WeChat's check of the image: anyone but its owner sees it only once this says pass.
    media_check = models.OneToOneField(MediaCheck, verbose_name="图片安全检测", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    is_followup = models.BooleanField("追评图片", default=False)
    sort = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField("上传时间", auto_now_add=True, null=True)

    class Meta:
        verbose_name = "评价图片"
        verbose_name_plural = "评价图片"
        ordering = ["sort", "id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(review__isnull=True),
                         name="review_photo_unattached_idx"),
        ]

    def __str__(self) -> str:
        return self.image.name


class ReviewAction(models.TextChoices):
    """What a review's audit row records, in operators' words."""

    CREATED = "created", "买家评价"
    AUTO_CREATED = "auto_created", "系统默认好评"
    FOLLOWUP = "followup", "买家追评"
    PUBLISHED = "published", "发布"
    HIDDEN = "hidden", "隐藏"
    FOLLOWUP_PUBLISHED = "followup_published", "发布追评"
    FOLLOWUP_HIDDEN = "followup_hidden", "隐藏追评"
    FEATURED = "featured", "精选"
    UNFEATURED = "unfeatured", "取消精选"
    REPLIED = "replied", "商家回复"
    REPLY_EDITED = "reply_edited", "修改回复"


class ReviewEvent(AuditEvent):
    """Audit trail of a review: creation, every status change, featuring and replies."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=ReviewAction.choices)
    from_status = models.CharField("原状态", max_length=16, choices=ReviewStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=16, choices=ReviewStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "评价日志"
        verbose_name_plural = "评价日志"

    def __str__(self) -> str:
        return f"{self.review_id}:{self.action}"


# The review and its follow-up move through the same table, each on its own status field.
_REVIEW_VERBS: dict[str, str] = {s: f"改为「{s.label}」" for s in ReviewStatus}
REVIEW_MACHINE = StateMachine(
    model=Review, table=REVIEW_TRANSITIONS, event_model=ReviewEvent, event_subject="review", noun="评价",
    error=ReviewInvalidTransition, not_found=ReviewNotFound, verbs=_REVIEW_VERBS,
)
FOLLOWUP_MACHINE = StateMachine(
    model=Review, table=REVIEW_TRANSITIONS, event_model=ReviewEvent, event_subject="review", noun="追评",
    error=ReviewInvalidTransition, not_found=ReviewNotFound, verbs=_REVIEW_VERBS, status_field="followup_status",
)
