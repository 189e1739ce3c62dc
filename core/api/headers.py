"""The Idempotency-Key request header, read and documented the same way by every write that takes it."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from core.errors import ValidationFailed

IDEMPOTENCY_KEY_PATTERN = "[!-~]{1,64}"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; 1 to 64 visible ASCII characters, else 400
    invalid_idempotency_key (the header's schema says the same)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed("Idempotency-Key 须为 1 到 64 个可见 ASCII 字符", code="invalid_idempotency_key")
    return key


def idempotency_header(description: str) -> OpenApiParameter:
    """The header's OpenAPI parameter; `description` says what a replay returns for this operation."""
    return OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                            pattern=f"^{IDEMPOTENCY_KEY_PATTERN}$", description=description)
