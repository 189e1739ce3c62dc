"""Reviews (评价): photo upload, review and follow-up, the shopper's own, a product's public list.

    POST /api/v1/uploads/review-photos            multipart `file` → 201 {id, url}
    POST /api/v1/order-lines/{line_id}/review      {rating, content, is_anonymous, photo_ids} → 201
    POST /api/v1/reviews/{review_id}/followup      {content, photo_ids} → 201
    GET  /api/v1/reviews/mine/                      the shopper's reviews (every status)
    GET  /api/v1/reviews/awaiting/                  待评价: received lines without a review
    GET  /api/v1/products/{product_id}/reviews/    public: published, 精选 first; ?with_photos=1&rating=good

Photos go up one per request (wx.uploadFile), then the review references their ids.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.cache import cached_public_get
from core.api.media import ImageUrlField
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from core.api.uploads import UPLOAD_ERRORS, uploaded_image
from core.errors import ValidationFailed
from members.api.views import current_member
from shop import selectors
from shop.errors import (
    AlreadyReviewed,
    ContentRisky,
    FollowupExists,
    OrderLineNotFound,
    ReviewNotAllowed,
    ReviewNotFound,
    ReviewPhotoInvalid,
    UploadLimitReached,
)
from shop.models import OrderLine, Review, ReviewStatus
from shop.selectors import RatingFilter
from shop.services import reviews as review_services
from shop.services.reviews import MAX_CONTENT_CHARS, MAX_PHOTOS

MAX_ID = 2**63 - 1
# The query's boolean as schemas write it, and as the mini-program's first version did (1 / 0).
WITH_PHOTOS = {"true": True, "false": False, "1": True, "0": False}


def _absolute(request: Request | None, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


def masked_nickname(nickname: str) -> str:
    """An anonymous reviewer: the nickname's first character and two stars ("匿**")."""
    nickname = (nickname or "").strip()
    return f"{nickname[0]}**" if nickname else "匿**"


# --- uploads -------------------------------------------------------------------------------------


class PhotoOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()


class ReviewPhotoUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [per_member("photo_upload")]

    @errors(*UPLOAD_ERRORS, UploadLimitReached)
    @extend_schema(
        operation_id="review_photos_upload",
        request={"multipart/form-data": inline_serializer("ReviewPhotoUpload", {"file": serializers.ImageField()})},
        responses={201: PhotoOutput},
        description="上传一张评价图片（JPEG/PNG/WebP，≤ 5 MB，≤ 4000 万像素），返回图片 id，提交评价时引用。"
                    "错误码：image_invalid、image_unsupported_format、image_too_large (413)、"
                    "image_too_many_pixels、upload_limit_reached (429)。",
    )
    def post(self, request: Request) -> Response:
        upload = uploaded_image(request)
        photo = review_services.review_photo_upload(member=current_member(request), upload=upload)
        return Response({"id": photo.pk, "url": _absolute(request, photo.image.url)}, status=status.HTTP_201_CREATED)


# --- the shopper's review and follow-up ----------------------------------------------------------


class FollowupOutput(serializers.Serializer):
    content = serializers.CharField()
    photos = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    days_after = serializers.IntegerField(help_text="收到评价后第几天追评")


class ReviewOutput(serializers.Serializer):
    """A review as the public sees it (published parts only)."""

    id = serializers.IntegerField()
    rating = serializers.IntegerField()
    content = serializers.CharField()
    is_auto = serializers.BooleanField(help_text="系统默认好评（收货后未评价）")
    is_anonymous = serializers.BooleanField()
    is_featured = serializers.BooleanField()
    nickname = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()
    spec_text = serializers.CharField(source="order_line.spec_text")
    photos = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    reply = serializers.CharField()
    replied_at = serializers.DateTimeField(allow_null=True)
    followup = serializers.SerializerMethodField()

    def get_nickname(self, review: Review) -> str:
        nickname = review.member.nickname or "微信用户"
        return masked_nickname(nickname) if review.is_anonymous else nickname

    def get_avatar_url(self, review: Review) -> str:
        return "" if review.is_anonymous else review.member.avatar_url

    def _photo_urls(self, review: Review, *, followup: bool) -> list[str]:
        request = self.context.get("request")
        return [_absolute(request, p.image.url) for p in review.photos.all() if p.is_followup == followup]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_photos(self, review: Review) -> list[str]:
        return self._photo_urls(review, followup=False)

    @extend_schema_field(FollowupOutput(allow_null=True))
    def get_followup(self, review: Review) -> dict[str, Any] | None:
        if review.followup_status != ReviewStatus.PUBLISHED or review.followup_at is None:
            return None
        return {"content": review.followup_content, "photos": self._photo_urls(review, followup=True),
                "created_at": serializers.DateTimeField().to_representation(review.followup_at),
                "days_after": (review.followup_at - review.created_at).days}


class OwnReviewOutput(ReviewOutput):
    """The shopper's own review: every status, the follow-up whatever its state."""

    status = serializers.ChoiceField(choices=ReviewStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    order_line_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    product_name = serializers.CharField(source="order_line.product_name")
    can_follow_up = serializers.SerializerMethodField()

    def get_can_follow_up(self, review: Review) -> bool:
        return review.followup_at is None

    @extend_schema_field(inline_serializer("OwnFollowup", {
        "content": serializers.CharField(), "photos": serializers.ListField(child=serializers.CharField()),
        "created_at": serializers.DateTimeField(), "status": serializers.CharField(),
        "status_label": serializers.CharField()}, allow_null=True))
    def get_followup(self, review: Review) -> dict[str, Any] | None:
        if review.followup_at is None:
            return None
        return {"content": review.followup_content, "photos": self._photo_urls(review, followup=True),
                "created_at": serializers.DateTimeField().to_representation(review.followup_at),
                "status": review.followup_status,
                "status_label": ReviewStatus(review.followup_status).label if review.followup_status else ""}


class ReviewInput(InputSerializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    content = serializers.CharField(max_length=MAX_CONTENT_CHARS, required=False, allow_blank=True, default="",
                                    trim_whitespace=True)
    is_anonymous = serializers.BooleanField(required=False, default=False)
    photo_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                      max_length=MAX_PHOTOS, required=False, default=list)


class FollowupInput(InputSerializer):
    content = serializers.CharField(max_length=MAX_CONTENT_CHARS, trim_whitespace=True)
    photo_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                      max_length=MAX_PHOTOS, required=False, default=list)


_MODERATION_ERRORS = ("错误码：content_risky（内容违规，未保存）、order_line_not_found (404)、"
                      "review_not_allowed / line_refunded / already_reviewed (409)、review_photo_not_found。"
                      "status 为 pending 时表示评价待审核，审核通过后公开。")


def _own(review: Review, request: Request) -> dict[str, Any]:
    review = selectors.review_list_for_member(member=current_member(request)).get(pk=review.pk)
    return OwnReviewOutput(review, context={"request": request}).data


class ReviewCreateView(APIView):
    throttle_classes = [per_member("review")]

    @errors(OrderLineNotFound, ReviewNotAllowed, ApiError(409, "line_refunded", "该商品已退款，无法评价"),
            AlreadyReviewed, ContentRisky, ReviewPhotoInvalid)
    @extend_schema(operation_id="order_line_review_create", request=ReviewInput, responses={201: OwnReviewOutput},
                   description="评价一件已收货的商品（每件一次）。" + _MODERATION_ERRORS)
    def post(self, request: Request, line_id: int) -> Response:
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_services.review_create(member=current_member(request), line_id=line_id, **data.validated_data)
        return Response(_own(review, request), status=status.HTTP_201_CREATED)


class ReviewFollowupView(APIView):
    throttle_classes = [per_member("review")]

    @errors(ReviewNotFound, FollowupExists, ContentRisky, ReviewPhotoInvalid,
            ApiError(400, "content_required", "请填写追评内容"))
    @extend_schema(operation_id="review_followup_create", request=FollowupInput, responses={201: OwnReviewOutput},
                   description="追评（每条评价一次）。"
                               "错误码：followup_exists (409)、review_not_found (404)、content_risky。")
    def post(self, request: Request, review_id: int) -> Response:
        data = FollowupInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_services.review_followup_add(member=current_member(request), review_id=review_id,
                                                     **data.validated_data)
        return Response(_own(review, request), status=status.HTTP_201_CREATED)


class MyReviewListView(generics.ListAPIView):
    serializer_class = OwnReviewOutput
    queryset = Review.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        return selectors.review_list_for_member(member=current_member(self.request))

    @extend_schema(operation_id="reviews_mine",
                   description="我的评价，最新的在前。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AwaitingLineOutput(serializers.Serializer):
    line_id = serializers.IntegerField(source="id")
    order_no = serializers.CharField(source="order.order_no")
    product_id = serializers.IntegerField(source="product_id_snapshot")
    product_name = serializers.CharField()
    spec_text = serializers.CharField()
    image_url = ImageUrlField()
    received_at = serializers.DateTimeField(source="order.received_at")


class AwaitingReviewListView(generics.ListAPIView):
    serializer_class = AwaitingLineOutput
    queryset = OrderLine.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return OrderLine.objects.none()
        return selectors.review_lines_awaiting(member=current_member(self.request))

    @extend_schema(operation_id="reviews_awaiting", description="待评价：已收货、未评价、未全额退款的商品")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- public ---------------------------------------------------------------------------------------


class ProductReviewListView(generics.ListAPIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = ReviewOutput
    queryset = Review.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        params = self.request.query_params
        rating = params.get("rating") or None
        if rating is not None and rating not in RatingFilter.RANGES:
            raise ValidationFailed("rating 须为 good、medium 或 bad", code="invalid_rating_filter",
                                   detail={"rating": rating})
        with_photos = params.get("with_photos") or "false"
        if with_photos not in WITH_PHOTOS:
            raise ValidationFailed("with_photos 须为 true 或 false", code="invalid_with_photos",
                                   detail={"with_photos": with_photos[:32]})
        return selectors.review_list_for_product(product_id=self.kwargs["product_id"],
                                                       with_photos=WITH_PHOTOS[with_photos], rating=rating)

    @errors(ApiError(400, "invalid_rating_filter", "rating 不是 good、medium 或 bad"),
            ApiError(400, "invalid_with_photos", "with_photos 不是 true、false、1 或 0"))
    @extend_schema(operation_id="product_reviews_list", parameters=[
        OpenApiParameter("with_photos", bool, required=False,
                         description="有图：true（或 1）只看带图片的评价；不传或为空：全部"),
        OpenApiParameter("rating", str, enum=list(RatingFilter.RANGES), required=False,
                         description="good 好评 (4–5★) / medium 中评 (3★) / bad 差评 (1–2★)；不传或为空：全部"),
    ], description="商品的已发布评价，精选在前，其余按时间倒序；匿名评价显示为「昵称首字**」。")
    @cached_public_get
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns: list[URLPattern] = [
    path("uploads/review-photos", ReviewPhotoUploadView.as_view(), name="review-photo-upload"),
    path("order-lines/<int:line_id>/review", ReviewCreateView.as_view(), name="order-line-review"),
    path("reviews/<int:review_id>/followup", ReviewFollowupView.as_view(), name="review-followup"),
    path("reviews/mine/", MyReviewListView.as_view(), name="reviews-mine"),
    path("reviews/awaiting/", AwaitingReviewListView.as_view(), name="reviews-awaiting"),
    path("products/<int:product_id>/reviews/", ProductReviewListView.as_view(), name="product-reviews"),
]
