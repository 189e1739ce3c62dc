"""One error shape for every API response: {"code", "message", "detail"}."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError

_DRF_CODES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.NotAuthenticated: ("not_authenticated", "请先登录"),
    exceptions.AuthenticationFailed: ("authentication_failed", "登录已失效，请重新登录"),
    exceptions.PermissionDenied: ("permission_denied", "没有权限"),
    exceptions.NotFound: ("not_found", "未找到"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "不支持的请求方法"),
    exceptions.NotAcceptable: ("not_acceptable", "不支持的响应格式"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "不支持的请求格式，请使用 JSON"),
    exceptions.ParseError: ("malformed_request", "请求体不是有效的 JSON"),
    exceptions.Throttled: ("rate_limited", "操作太频繁，请稍后再试"),
    exceptions.ValidationError: ("invalid_input", "输入有误"),
}


def error_response(code: str, message: str, http_status: int, detail: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    return Response({"code": code, "message": message, "detail": detail or {}},
                    status=http_status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return error_response(exc.code, exc.message, exc.status, exc.detail)
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads it through
        # Django); left alone it becomes Django's HTML 400.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response("request_too_large", f"请求体不能超过 {limit // 1024} KB", 413,
                              {"max_bytes": limit})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    code, message = "error", "请求失败"
    for klass, (known_code, known_message) in _DRF_CODES.items():
        if isinstance(exc, klass):
            code, message = known_code, known_message
            break
    detail: Any = exc.detail if isinstance(exc, exceptions.ValidationError) else {}
    if isinstance(detail, list):
        # A ValidationError raised with a message rather than per field: detail is always an object.
        detail = {"non_field_errors": detail}
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        http_status: int = status.HTTP_401_UNAUTHORIZED
    else:
        http_status = exc.status_code
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        headers["Retry-After"] = str(retry_after)
        detail = {"retry_after": retry_after}
    return error_response(code, message, http_status, detail, headers)
