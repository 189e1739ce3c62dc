"""Input an attacker sends, on every operation that can receive it: each test is parametrised from the
OpenAPI schema, so a new operation is covered without touching this file.

- A path parameter holding a NUL byte, bytes that are not UTF-8, an encoded lone surrogate: 404 in
  the error shape before any view or query runs (the routes' converters refuse them), where these
  answered 500 because PostgreSQL refuses a NUL in a text parameter.
- A JSON body nested 100,000 levels deep (a list or an object): 400 json_too_deep, where Python's
  recursive decoder raised RecursionError (500).
- A JSON body over the size limit (413), not UTF-8 (400 malformed_request), or sent as text/plain
  (415).
- A query parameter holding NUL, bytes that are not UTF-8 or 10,000 characters: no 5xx, and an error
  is one the operation documents.
None of them writes anything.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.schema_support import (
    Operation,
    World,
    database_writes,
    mini_program_operations,
    tables_written_since,
)

OPERATIONS = list(mini_program_operations())
WITH_PATH_PARAMETERS = [op for op in OPERATIONS if op.path_parameters]
WITH_JSON_BODY = [op for op in OPERATIONS if op.takes_json]
WITH_QUERY_PARAMETERS = [op for op in OPERATIONS if op.query_parameters]

HOSTILE_PATH_SEGMENTS = {
    "nul": "%00",
    "nul-inside": "2026%0012",
    "not-utf-8": "%FF%FE",
    "truncated-utf-8": "%C3%28",
    "lone-surrogate": "%ED%A0%80",
    "overlong-nul": "%C0%80",
}
HOSTILE_QUERY_VALUES = {
    "nul": "%00",
    "not-utf-8": "%FF%FE",
    "lone-surrogate": "%ED%A0%80",
    "very-long": "9" * 10_000,
}
DEEP = 100_000
DEEP_BODIES = {
    "list": b"[" * DEEP + b"]" * DEEP,
    "object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
}


@pytest.fixture
def world(db: None, sandbox: Any, settings: Any) -> World:
    settings.RATE_LIMITS = {scope: "100000/m" for scope in settings.RATE_LIMITS}
    return World()


def url(op: Operation, values: dict[str, Any]) -> str:
    path = op.path
    for name in op.path_parameters:
        path = path.replace("{" + name + "}", str(values[name]))
    return path


def send(client: APIClient, op: Operation, path: str, body: bytes | None = None,
         content_type: str = "application/json") -> Any:
    return client.generic(op.method, path, body if body is not None else b"",  # type: ignore[arg-type]
                          content_type=content_type)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    return body


def documented(op: Operation, response: Any) -> bool:
    answer = op.definition["responses"].get(str(response.status_code))
    if answer is None:
        return False
    if response.status_code < 400:
        return True
    codes = answer["content"]["application/json"]["schema"]["properties"]["code"]["enum"]
    return response.json()["code"] in codes


@pytest.mark.parametrize("op", WITH_PATH_PARAMETERS, ids=str)
def test_a_hostile_path_parameter_is_404(op, world):
    before = database_writes()

    answers = {name: send(world.shopper.client, op, url(op, dict.fromkeys(op.path_parameters, segment)))
               for name, segment in HOSTILE_PATH_SEGMENTS.items()}

    for answer in answers.values():
        assert_error(answer, 404, "not_found")
    assert tables_written_since(before) == set()


@pytest.mark.parametrize("op", WITH_JSON_BODY, ids=str)
def test_a_json_body_nested_100000_deep_is_400(op, world):
    path = url(op, world.real_path_parameters(op.path))
    before = database_writes()

    answers = {name: send(world.shopper.client, op, path, body) for name, body in DEEP_BODIES.items()}

    for answer in answers.values():
        assert assert_error(answer, 400, "json_too_deep")["detail"] == {"max_depth": 32}
    assert tables_written_since(before) == set()


@pytest.mark.parametrize("op", WITH_JSON_BODY, ids=str)
def test_a_json_body_too_large_not_utf_8_or_not_json_is_refused(op, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    path = url(op, world.real_path_parameters(op.path))
    client = world.shopper.client
    before = database_writes()

    too_large = send(client, op, path, b'{"a": "' + b"x" * 1024 + b'"}')
    not_utf_8 = send(client, op, path, b'{"a": "\xff\xfe"}')
    as_text = send(client, op, path, b"{}", content_type="text/plain")

    assert assert_error(too_large, 413, "request_too_large")["detail"] == {"max_bytes": 1024}
    assert_error(not_utf_8, 400, "malformed_request")
    assert_error(as_text, 415, "unsupported_media_type")
    assert all(documented(op, r) for r in (too_large, not_utf_8, as_text))
    assert tables_written_since(before) == set()


@pytest.mark.parametrize("op", WITH_QUERY_PARAMETERS, ids=str)
def test_a_hostile_query_parameter_gets_a_documented_answer(op, world):
    path = url(op, world.real_path_parameters(op.path))
    before = database_writes()

    answers = {(name, label): world.shopper.client.generic(op.method, f"{path}?{name}={value}")
               for name in op.query_parameters for label, value in HOSTILE_QUERY_VALUES.items()}

    undocumented = {sent: (answer.status_code, answer.content[:200]) for sent, answer in answers.items()
                    if answer.status_code >= 500 or not documented(op, answer)}
    assert undocumented == {}
    assert tables_written_since(before) == set()
