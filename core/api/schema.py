"""The OpenAPI schema's error responses: every operation lists the errors it can answer, with codes.

One mechanism for all of them. `AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to each
operation:

- the errors every operation of its kind can give, read from the operation itself: a JSON body
  (400 invalid_input / malformed_request / json_too_deep, 413 request_too_large, 415), an upload
  (400 malformed_request, 413, 415), a page (400 invalid_page / invalid_page_size, 404 not_found
  past the last page), a path parameter (404 not_found), an Idempotency-Key header (400
  invalid_idempotency_key), a login (401 not_authenticated / authentication_failed), a rate-limited
  write (429 rate_limited with Retry-After);
- the domain errors its view method declares with `@errors(...)`: the DomainError classes the
  services raise, or `ApiError(status, code, note)` for errors raised with an inline code.

Each error response is the API's shape {code, message, detail} with `code` an enum of exactly the
codes that status can carry for that operation, and a description listing them, so a front end
sees per operation what it must handle. tests/api/test_schema_properties.py holds the API to it:
a response with a status or code its operation does not list fails the suite.

It also states rules of the API that drf-spectacular does not: a query parameter sent empty is the
same as one not sent (allowEmptyValue), the size limits of nested lists and dicts, and what DRF's
CharField refuses besides the length (a NUL character; a blank value once stripped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from drf_spectacular import openapi
from rest_framework import serializers

from core.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])

ERRORS_ATTRIBUTE = "_api_errors"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ApiError:
    """An error an operation can answer: the HTTP status, the stable code, a note for the docs."""

    status: int
    code: str
    note: str = ""

    @classmethod
    def of(cls, error: ApiError | type[DomainError]) -> ApiError:
        if isinstance(error, ApiError):
            return error
        return cls(error.status, error.code, error.message)


def errors(*declared: ApiError | type[DomainError]) -> Callable[[F], F]:
    """Declare on a view method the domain errors its operation can answer (see the module docstring).

    The common errors of the operation's kind are added by AutoSchema; list here only what the
    services and the view raise themselves.
    """
    found = tuple(ApiError.of(error) for error in declared)

    def decorate(method: F) -> F:
        setattr(method, ERRORS_ATTRIBUTE, found)
        return method

    return decorate


# The common errors, by what brings them (core.api.exceptions, core.api.parsers, core.api.pagination).
INVALID_INPUT = ApiError(400, "invalid_input", "输入有误，detail 按字段列出原因")
MALFORMED_REQUEST = ApiError(400, "malformed_request", "请求体不是有效的 JSON（或表单）")
JSON_TOO_DEEP = ApiError(400, "json_too_deep", "请求体嵌套过深")
REQUEST_TOO_LARGE = ApiError(413, "request_too_large", "请求体过大")
UNSUPPORTED_MEDIA_TYPE = ApiError(415, "unsupported_media_type", "请求的 Content-Type 不受支持")
INVALID_PAGE = ApiError(400, "invalid_page", "page 须为正整数")
INVALID_PAGE_SIZE = ApiError(400, "invalid_page_size", "page_size 须为 1 到 100 的整数")
PAGE_NOT_FOUND = ApiError(404, "not_found", "页码超出范围")
NOT_FOUND = ApiError(404, "not_found", "路径参数格式不对或不存在")
INVALID_IDEMPOTENCY_KEY = ApiError(400, "invalid_idempotency_key", "Idempotency-Key 须为 1 到 64 个可见 ASCII 字符")
NOT_AUTHENTICATED = ApiError(401, "not_authenticated", "未登录")
AUTHENTICATION_FAILED = ApiError(401, "authentication_failed", "登录凭证无效或已过期")
RATE_LIMITED = ApiError(429, "rate_limited", "操作太频繁，Retry-After 秒后再试")

JSON_BODY_ERRORS = (INVALID_INPUT, MALFORMED_REQUEST, JSON_TOO_DEEP, REQUEST_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE)
FORM_BODY_ERRORS = (MALFORMED_REQUEST, REQUEST_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE)
PAGE_ERRORS = (INVALID_PAGE, INVALID_PAGE_SIZE, PAGE_NOT_FOUND)
FORM_MEDIA_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})

# Python's whitespace (str.isspace, what str.strip() removes), as a JSON Schema regex class: a
# string with a character outside it is not blank once DRF has trimmed it.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{WHITESPACE}]"
NO_NUL = r"^[^\u0000]*$"

ERROR_DESCRIPTIONS = {
    400: "请求有误", 401: "需要登录", 403: "不允许", 404: "不存在", 409: "状态冲突", 413: "请求体过大",
    415: "请求格式不受支持", 429: "请求太频繁", 502: "微信服务暂时不可用", 503: "服务繁忙，请稍后再试",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with every operation's error responses and the API's input rules
    (see the module docstring)."""

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict):
            return schema
        if isinstance(field, serializers.ListSerializer):
            # Line(many=True, min_length=1, max_length=50): the list's bounds, as a ListField's are.
            if not field.allow_empty:
                schema.setdefault("minItems", 1)
            # getattr: the type stubs lack ListSerializer's min_length and max_length.
            min_length, max_length = getattr(field, "min_length", None), getattr(field, "max_length", None)
            if min_length is not None:
                schema["minItems"] = min_length
            if max_length is not None:
                schema["maxItems"] = max_length
        elif isinstance(field, serializers.DictField) and not field.allow_empty:
            schema.setdefault("minProperties", 1)
        elif isinstance(field, serializers.CharField) and direction == "request" and schema.get("type") == "string":
            # What DRF's CharField refuses besides its length: a NUL character (PostgreSQL cannot
            # store one) and, as it strips the value first, a blank one. In allOf: `pattern` itself
            # is the field's own regex, which drf-spectacular adds afterwards.
            rules = schema.setdefault("allOf", [])
            rules.append({"pattern": NO_NUL})
            if field.trim_whitespace and not field.allow_blank:
                rules.append({"pattern": NOT_BLANK})
        return schema

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str,
                      registry: Any) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                # The API's rule for every query parameter: sent empty (?status=) is the same as absent.
                parameter["allowEmptyValue"] = True
        by_status: dict[int, dict[str, str]] = {}
        for error in (*self.common_errors(operation), *self.declared_errors()):
            by_status.setdefault(error.status, {}).setdefault(error.code, error.note)
        responses = operation["responses"]
        for status, codes in sorted(by_status.items()):
            # A response the view documents itself (a WeChat notify's XML answer) stays as it is.
            responses.setdefault(str(status), error_response(status, codes))
        return operation

    def declared_errors(self) -> tuple[ApiError, ...]:
        handler = getattr(self.view, self.method.lower(), None)
        return getattr(handler, ERRORS_ATTRIBUTE, ())

    def common_errors(self, operation: dict[str, Any]) -> Iterable[ApiError]:
        parameters = operation.get("parameters", [])
        located = {(p["in"], p["name"]) for p in parameters}
        media_types = set(operation.get("requestBody", {}).get("content", {}))
        if "application/json" in media_types:
            yield from JSON_BODY_ERRORS
        if media_types & FORM_MEDIA_TYPES:
            yield from FORM_BODY_ERRORS
        if getattr(self.view, "filterset_class", None) is not None:
            yield INVALID_INPUT
        if ("query", "page") in located:
            yield from PAGE_ERRORS
        if ("header", "Idempotency-Key") in located:
            yield INVALID_IDEMPOTENCY_KEY
        if any(where == "path" for where, _ in located):
            yield NOT_FOUND
        security = operation.get("security", [])
        if any("BearerAuth" in requirement for requirement in security):
            yield AUTHENTICATION_FAILED
            if {} not in security:
                yield NOT_AUTHENTICATED
        if self.method not in SAFE_METHODS and getattr(self.view, "throttle_classes", None):
            yield RATE_LIMITED


def error_response(status: int, codes: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI response object of an error status whose `code` is one of `codes` (code → note)."""
    listed = "；".join(f"`{code}`：{note}" if note else f"`{code}`" for code, note in codes.items())
    response: dict[str, Any] = {
        "description": f"{ERROR_DESCRIPTIONS.get(status, '错误')}。code：{listed}",
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["code", "message", "detail"],
            "properties": {
                "code": {"type": "string", "enum": list(codes)},
                "message": {"type": "string", "description": "给用户看的中文说明"},
                "detail": {"type": "object", "additionalProperties": True,
                           "description": "补充信息；400 invalid_input 时按字段列出原因"},
            },
        }}},
    }
    if RATE_LIMITED.code in codes:
        response["headers"] = {"Retry-After": {
            "required": list(codes) == [RATE_LIMITED.code], "description": "rate_limited：多少秒后可以再试",
            "schema": {"type": "integer", "minimum": 1}}}
    return response
