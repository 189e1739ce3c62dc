"""Reviews (评价) of order lines, with photos, a follow-up (追评) and the operator's reply."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ReviewStatus(models.TextChoices):
    PUBLISHED = "published", "已发布"
    PENDING = "pending", "待审核"
    HIDDEN = "hidden", "已隐藏"


class Review(models.Model):
    order_line = models.OneToOneField("shop.OrderLine", verbose_name="订单商品", on_delete=models.PROTECT,
                                      related_name="review")
    product = models.ForeignKey("shop.Product", verbose_name="商品", on_delete=models.PROTECT,
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

    class Meta:
        verbose_name = "评价"
        verbose_name_plural = "评价"
        ordering = ["-id"]
        indexes = [models.Index(fields=["product", "status", "-id"])]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.rating}★"


class ReviewPhoto(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField("图片", upload_to="reviews/%Y/%m/")
    is_followup = models.BooleanField("追评图片", default=False)
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "评价图片"
        verbose_name_plural = "评价图片"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.image.name
