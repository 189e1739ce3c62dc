"""The API's JSON parser: DRF's, with bounds on what a hostile body can make the server do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

from core.errors import DomainError, ValidationFailed

# The deepest body the API takes is a list of objects in an object (checkout's items); 32 leaves
# room for any shape we may add and keeps every walk over the data shallow.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """Parses a JSON body nested at most MAX_DEPTH deep, else 400 json_too_deep.

    A body nested 100,000 deep makes Python's recursive decoder raise RecursionError, which DRF
    would let through as a 500: here it is refused with the API's error shape, like any body nested
    deeper than MAX_DEPTH. The body's size is bounded before it gets here: DRF reads it through
    Django, which refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413 request_too_large,
    core.api.exceptions).
    """

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        parse_constant = json.strict_constant if self.strict else None
        try:
            data = json.loads(stream.read().decode(encoding), parse_constant=parse_constant)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if depth_exceeds(data, MAX_DEPTH):
            raise _too_deep()
        return data


def depth_exceeds(data: Any, limit: int) -> bool:
    """Whether `data` (decoded JSON) nests lists and objects more than `limit` deep; iterative, so a
    deep value cannot exhaust the stack here either."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _too_deep() -> DomainError:
    return ValidationFailed(f"请求体嵌套不能超过 {MAX_DEPTH} 层", code="json_too_deep",
                            detail={"max_depth": MAX_DEPTH})
