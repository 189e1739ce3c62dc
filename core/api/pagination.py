"""Page-number pagination whose query parameters mean exactly what the schema says."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from core.errors import ValidationFailed

_DIGITS = re.compile(r"[0-9]{1,9}")
MAX_PAGE = 10**9 - 1


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` (1, 2, …; default 1) and `page_size` (1 to 100, default 20); empty is the default.

    A malformed or out-of-range value is refused with 400 (`invalid_page`, `invalid_page_size`)
    rather than quietly replaced by the default, as DRF does for page_size: a client that asks for
    something the API does not do learns it at once. A page past the last one is DRF's 404
    (`not_found`).
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        return _bounded(raw, self.page_size_query_param, self.max_page_size, code="invalid_page_size",
                        message=f"每页条数须为 1 到 {self.max_page_size} 的整数")

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        if not raw:
            return 1
        return _bounded(raw, self.page_query_param, MAX_PAGE, code="invalid_page", message="页码须为正整数")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.page_query_param: MAX_PAGE, self.page_size_query_param: self.max_page_size}
        for parameter in parameters:
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": bounds[parameter["name"]]}
        return parameters


def _bounded(raw: str, name: str, maximum: int, *, code: str, message: str) -> int:
    value = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= value <= maximum:
        raise ValidationFailed(message, code=code, detail={name: raw[:32]})
    return value
