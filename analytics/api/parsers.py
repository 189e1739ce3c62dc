"""The events endpoint's body: JSON, gzip allowed, bounded before and after inflating."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

from core.api.parsers import MAX_DEPTH, depth_exceeds
from core.errors import DomainError, ValidationFailed


def too_large(limit: int) -> DomainError:
    return DomainError(f"请求体不能超过 {limit // 1024} KB", code="request_too_large", status=413,
                       detail={"max_bytes": limit})


class EventBatchParser(parsers.JSONParser):
    """JSON, or gzip-compressed JSON with `Content-Encoding: gzip` (the mini-program's batches
    compress ~10×). More than ANALYTICS_MAX_BODY_BYTES (or Django's DATA_UPLOAD_MAX_MEMORY_SIZE) on the
    wire, or more than
    ANALYTICS_MAX_INFLATED_BYTES once inflated (a gzip bomb), is a 413; the body is never read or
    inflated past those bounds."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        context = parser_context or {}
        request = context.get("request")
        meta = request.META if request is not None else {}
        limit = min(settings.ANALYTICS_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**62)
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large(limit)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise too_large(limit)
        encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding == "gzip":
            body = _inflate(body)
        elif encoding not in ("", "identity"):
            raise exceptions.UnsupportedMediaType(f"Content-Encoding {encoding[:32]}")
        try:
            data = json.loads(body.decode(context.get("encoding", settings.DEFAULT_CHARSET)),
                              parse_constant=json.strict_constant)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if depth_exceeds(data, MAX_DEPTH):
            raise _too_deep()
        return data


def _inflate(body: bytes) -> bytes:
    limit = settings.ANALYTICS_MAX_INFLATED_BYTES
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise exceptions.ParseError("gzip 数据损坏") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise too_large(limit)
    if not inflater.eof:
        raise exceptions.ParseError("gzip 数据不完整")
    return data


def _too_deep() -> DomainError:
    return ValidationFailed(f"请求体嵌套不能超过 {MAX_DEPTH} 层", code="json_too_deep",
                            detail={"max_depth": MAX_DEPTH})
