"""Reading one uploaded image from a multipart request, the same way for every upload endpoint."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from rest_framework import exceptions
from rest_framework.request import Request

from core.api.schema import ApiError
from core.errors import DomainError, ValidationFailed
from core.images import image_limits


def uploaded_image(request: Request, field: str = "file") -> UploadedFile:
    """The file in `field`, refusing an oversized body from its header before Django spools it.

    Validation of the image itself (type, pixels, re-encoding) is core.images' job, in the service.
    """
    max_bytes, _ = image_limits()
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > max_bytes + 64 * 1024:
        raise DomainError(f"图片不能超过 {max_bytes / (1024 * 1024):g} MB", code="image_too_large",
                          status=413, detail={"max_bytes": max_bytes})
    try:
        upload = request.FILES.get(field)
    except exceptions.UnsupportedMediaType as exc:
        raise DomainError("请以 multipart/form-data 上传图片", code="unsupported_media_type", status=415) from exc
    if upload is None:
        raise ValidationFailed(f"请选择要上传的图片（字段名 {field}）", code="file_required")
    return upload


# What uploaded_image() and core.images.image_clean() refuse, for an upload operation's schema.
UPLOAD_ERRORS = (
    ApiError(400, "file_required", "没有 file 字段"),
    ApiError(400, "image_invalid", "不是有效的图片"),
    ApiError(400, "image_unsupported_format", "仅支持 JPEG、PNG、WebP"),
    ApiError(400, "image_too_many_pixels", "像素过多"),
    ApiError(413, "image_too_large", "图片过大"),
    ApiError(415, "unsupported_media_type", "请以 multipart/form-data 上传"),
)
