"""The OpenAPI schema is the truth: a property-based test over every operation (schemathesis).

The schema is the one the app serves (drf-spectacular, core.api.schema). Every operation of the
mini-program's API is called in process through Django's WSGI handler, on the test database and
inside the test's transaction: no network, nothing left behind. Each generated request is sent with
a member's bearer token, and anonymously too: one request in two to an operation open to anonymous
callers, one in eight to the others (whose answer, 401, does not depend on the rest).

Requests, valid and invalid, from two of schemathesis's phases:
- coverage: for every parameter and body field, its boundary values and each way to break the
  schema (a wrong type, a missing required field, too long or too short, out of range, outside its
  enum, a malformed path parameter, a body with an unsupported Content-Type, a method the
  operation does not have...);
- fuzzing: MAX_EXAMPLES requests per operation drawn by hypothesis (Unicode strings with NUL bytes
  and control characters, very long strings, huge and negative numbers, unexpected fields).
Derandomized and never shrunk: every run sends the same requests (CI is reproducible), and a
failure is reported as found, without a shrinking spiral.

Checks on every response:
- not_a_server_error: never a 5xx;
- status_code_conformance: the status is documented for the operation;
- content_type_conformance and response_schema_conformance: the body is the documented shape, an
  error's `code` included: each error status of each operation lists its codes as an enum
  (core.api.schema), so an undocumented code fails here;
- negative_data_rejection: a request the schema forbids is refused, and (checked here) it writes
  nothing: no insert, update or delete in the test's transaction (pg_stat_xact_user_tables), apart
  from counting the attempt against a rate limit;
- positive_data_acceptance, with 400 among the accepted answers, plus `well_formed_is_not_refused`:
  a request the schema allows is never refused as malformed (invalid_input, malformed_request,
  invalid_status...). Schemathesis's check as it comes would also refuse every 400, but the API
  answers 400 for some business rules on a well-formed request (a checkout with an empty cart:
  empty_order; a redeem code of the wrong format: invalid_code): those are domain codes, documented
  per operation and held to by response_schema_conformance.

Real rows: for an operation with path parameters, every other request whose path parameters are
valid addresses a row of the member's (World.real_path_parameters): detail responses, state
changes (pay, cancel, withdraw...) and their refusals are checked too, not only 404s, and an
invalid body sent to a real order must leave it as it was.

Excluded operations: tests.api.schema_support.NOT_THE_MINI_PROGRAMS, each with its reason.

Budget: about 2,800 requests (2,300 cases, most of them the coverage phase's); measured on the
2-core machine: 32 s of Python and 3 s of PostgreSQL CPU, so about 35 s when the machine is idle
(60 s wall while other test runs shared it).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import REQUEST_SHAPE_PROBES, coverage_scenario
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.schema_support import (
    NOT_THE_MINI_PROGRAMS,
    World,
    database_writes,
    openapi_document,
    tables_written_since,
)

MAX_EXAMPLES = 5


# Codes that mean "this request does not match the schema": never the answer to a request it allows.
SCHEMA_CODES = frozenset({
    "invalid_input", "malformed_request", "json_too_deep", "request_too_large", "unsupported_media_type",
    "invalid_page", "invalid_page_size", "invalid_idempotency_key", "invalid_status", "invalid_month",
    "invalid_points_kind", "invalid_rating_filter", "invalid_with_photos",
})


def well_formed_is_not_refused(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A request the schema allows is not refused as malformed (see the module docstring)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code >= 500:
        return
    code = _code(response)
    if code in SCHEMA_CODES:
        raise AssertionError(f"A request the schema allows was refused as malformed: {response.status_code} {code} "
                             f"{response.text[:300]}")


def _code(response: schemathesis.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


class InProcessApp:
    """Django's WSGI handler, as the test client runs it: the request does not close the test's
    database connection (which holds the test's transaction) when it starts and ends."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()
            return [body]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def _schema() -> Any:
    config = schemathesis.Config.from_dict({
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True,
                       "database": "none", "with-security-parameters": False},
        "phases": {
            "examples": {"enabled": False},
            # One method an operation does not have is enough to see the API answer 405 (not 500) for
            # it; the default tries eight per operation.
            "coverage": {"enabled": True, "unexpected-methods": ["put"]},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409",
                                                                      "429"]}},
    })
    schema = schemathesis.openapi.from_dict(openapi_document(), config=config)
    schema.app = InProcessApp()
    return schema.exclude(operation_id=list(NOT_THE_MINI_PROGRAMS))


SCHEMA = _schema()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, positive_data_acceptance]
HYPOTHESIS = settings(deadline=None, suppress_health_check=list(HealthCheck))


class FuzzWorld(World):
    """World, with who sends each case and where."""

    def __init__(self) -> None:
        super().__init__()
        self._turns: Iterator[bool] = itertools.cycle([True, False])
        self._open_turns: Iterator[bool] = itertools.cycle([True, False])
        self._closed_turns: Iterator[bool] = itertools.cycle([True, *[False] * 7])

    def callers(self, case: schemathesis.Case) -> list[dict[str, str]]:
        """The member, and anonymous for one request in two to an operation open to anonymous
        callers, one in eight to one that needs a login (its answer, 401, does not depend on the rest)."""
        security = case.operation.definition.raw.get("security", [])
        turns = self._open_turns if not security or {} in security else self._closed_turns
        return [self.as_member, {}] if next(turns) else [self.as_member]

    def aim(self, case: schemathesis.Case) -> None:
        """Every other case whose path parameters are valid is sent to a real row instead."""
        if not case.path_parameters or not next(self._turns):
            return
        path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
        if path is not None and not path.mode.is_positive:
            return
        case.path_parameters.update(self.real_path_parameters(case.path))


@pytest.fixture
def world(db: None, sandbox: Any, settings: Any, caplog: pytest.LogCaptureFixture) -> FuzzWorld:
    # Far from the limits: the requests should reach the views (the limits: tests/api/test_rate_limits.py).
    settings.RATE_LIMITS = {scope: "100000/m" for scope in settings.RATE_LIMITS}
    # Thousands of refused requests on purpose: Django's warning for each 4xx is noise here (a 5xx
    # is still logged, and fails the test anyway).
    caplog.set_level(logging.ERROR, logger="django.request")
    return FuzzWorld()


@SCHEMA.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, world: FuzzWorld) -> None:
    world.aim(case)
    invalid = _invalid(case)
    before = database_writes() if invalid else {}
    for headers in world.callers(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, additional_checks=[well_formed_is_not_refused],
                               headers=headers)
    if invalid:
        changed = tables_written_since(before)
        assert not changed, f"an invalid request changed {changed}: {response.status_code} {response.text[:200]}"


def _invalid(case: schemathesis.Case) -> bool:
    """Whether the request breaks the schema in something the operation reads: then it must change
    nothing. A Content-Type probe without a body is not: there is nothing to refuse, the request is
    the operation's own (a logout with a stray Content-Type still logs out)."""
    if case.meta is None or not case.meta.generation.mode.is_negative:
        return False
    return not (coverage_scenario(case) in REQUEST_SHAPE_PROBES and isinstance(case.body, NotSet))


