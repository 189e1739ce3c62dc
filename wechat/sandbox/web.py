"""The sandbox's tiny request/response types, so handlers are plain functions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    raw_query: str = ""  # as sent: Pay v3 signs the URL with its query string

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            data = json.loads(self.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8")


def xml_response(body: bytes) -> Response:
    return Response(200, body, "text/xml; charset=utf-8")


def html_response(body: str, status: int = 200) -> Response:
    return Response(status, body.encode("utf-8"), "text/html; charset=utf-8")


def redirect(location: str) -> Response:
    return Response(303, b"", "text/plain; charset=utf-8", {"Location": location})
