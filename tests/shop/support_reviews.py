"""Helpers for the review tests: photo bytes and uploads through the API, and review rows as the
services leave them."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from shop.models import OrderLine, Review, ReviewPhoto, ReviewStatus
from shop.models.reviews import REVIEW_PHOTO_MEDIA_KIND
from shop.services.reviews import review_summary_refresh
from wechat.models import MediaCheck, MediaCheckStatus


def jpeg_bytes(size: tuple[int, int] = (60, 40), color: tuple[int, int, int] = (220, 120, 40)) -> bytes:
    """A real JPEG of `size` in one colour."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def bomb_png(width: int = 8000, height: int = 6000) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def upload(client: APIClient, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> Any:
    """POST a photo to the review-photo upload endpoint; the API's response."""
    return client.post("/api/v1/uploads/review-photos", {"file": SimpleUploadedFile(name, data, content_type)},
                       format="multipart")


def upload_ok(client: APIClient, data: bytes | None = None) -> int:
    """Upload a photo (a small JPEG unless `data`) that must be accepted; its id."""
    response = upload(client, data or jpeg_bytes())
    assert response.status_code == 201, response.content
    photo_id: int = response.json()["id"]
    return photo_id


def make_review(line: OrderLine, *, rating: int = 5, content: str = "不错", status: str = ReviewStatus.PUBLISHED,
                photos: int = 0, anonymous: bool = False, **fields: Any) -> Review:
    """A review row as the services leave it (the create path itself is tested in test_reviews), its
    photos passed by WeChat's image check."""
    review = Review.objects.create(order_line=line, product_id=line.product_id_snapshot, member=line.order.member,
                                   rating=rating, content=content, status=status, is_anonymous=anonymous,
                                   has_photos=photos > 0, **fields)
    for i in range(photos):
        name = f"reviews/2026/11/p{review.pk}-{i}.jpg"
        photo = ReviewPhoto.objects.create(review=review, member=review.member, image=name, sort=i)
        photo.media_check = MediaCheck.objects.create(
            kind=REVIEW_PHOTO_MEDIA_KIND, object_id=photo.pk, member_id=review.member_id, openid=review.member.openid,
            media_name=name, status=MediaCheckStatus.PASS, trace_id=f"trace-{photo.pk}")
        photo.save(update_fields=["media_check"])
    review_summary_refresh(product_id=review.product_id)  # as the service does after its commit
    return review
