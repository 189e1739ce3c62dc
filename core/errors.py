"""Domain errors: a stable code, a Chinese message for people, the HTTP status the API uses.

Services raise these; the API's exception handler renders them as
`{"code": ..., "message": ..., "detail": {...}}`; the admin shows the message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 detail: dict[str, Any] | None = None, status: int | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.detail = detail or {}
        if status is not None:
            self.status = status
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status = 400
    code = "invalid_input"
    message = "输入有误"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "未找到"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "状态冲突"


class Unauthorized(DomainError):
    status = 401
    code = "not_authenticated"
    message = "请先登录"


class UpstreamError(DomainError):
    """WeChat or another provider failed; the shopper may retry."""

    status = 502
    code = "upstream_error"
    message = "微信服务暂时不可用，请稍后再试"
