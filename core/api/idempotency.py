"""The `Idempotency-Key` header of shopper writes that move money or stock (core.idempotency)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from core.errors import ValidationFailed


def idempotency_header(description: str) -> OpenApiParameter:
    """The header as the schema documents it, with what a replay returns for this write."""
    return OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False, description=description)


def idempotency_key(request: Request) -> str | None:
    """The request's key: None without the header; 1 to 64 printable ASCII characters, else 400."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 64 or not key.isascii() or not key.isprintable():
        raise ValidationFailed("Idempotency-Key 须为 1 到 64 个可见 ASCII 字符", code="invalid_idempotency_key")
    return key
