"""The OpenAPI schema is the truth: property-based tests over every operation (schemathesis).

The schema is the one the app serves (drf-spectacular, core.api.schema), and every operation of
the mini-program's API is called in process through Django's WSGI handler, on the test database
and inside the test's transaction: no network, nothing left behind. Each generated request is sent
twice: with a member's bearer token and anonymously.

Requests, in both modes (valid and invalid data), from two of schemathesis's phases:
- coverage: for every parameter and body field, its boundary values and each way to break the
  schema (a wrong type, a missing required field, too long or too short, out of range, outside its
  enum, a malformed path parameter, a body with an unsupported Content-Type...);
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
- negative_data_rejection: a request the schema forbids is refused;
- positive_data_acceptance, with 400 among the accepted answers, plus `well_formed_is_not_refused`:
  a request the schema allows is never refused as malformed (invalid_input, malformed_request,
  invalid_status...). Schemathesis's check as it comes would also refuse every 400, but the API
  answers 400 for some business rules on a well-formed request (a checkout with an empty cart:
  empty_order; a redeem code of the wrong format: invalid_code): those are domain codes, documented
  per operation and held to by response_schema_conformance.

Real rows: for an operation with path parameters, every other request whose path parameters are
valid addresses a row of the member's (World.real_path_parameters): detail responses, state
changes (pay, cancel, withdraw...) and their refusals are checked too, not only 404s.

test_invalid_requests_change_nothing sends invalid data only and checks, request by request, that
the database saw no insert, update or delete in the test's transaction (pg_stat_xact_user_tables),
apart from counting the attempt against a rate limit.

Excluded operations: EXCLUDED, each with its reason.

Budget: MAX_EXAMPLES per operation and mode; both tests together take about 40 s on the 2-core
machine (most of it the coverage phase's systematic cases).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from drf_spectacular.generators import SchemaGenerator
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

from campaigns.models import PointsMallItem, PointsMallItemKind
from campaigns.services.claims import coupon_claim
from members.models import CardPlan
from members.services.cards import card_purchase_create
from members.services.points import points_award
from shop.models import CartItem
from shop.services.reviews import review_create
from tests.builders import lines_of, order_up_to, requested_after_sale
from tests.factories import CouponTemplateFactory, FlashSessionFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper

MAX_EXAMPLES = 6

# Operations that are not the mini-program's: WeChat's servers call them, with signed XML.
EXCLUDED = {
    "payments_wechat_notify": "WeChat Pay's payment notification (signed XML), tested in tests/payments",
    "payments_wechat_refund_notify": "WeChat Pay's refund notification (signed XML), tested in tests/shop",
}

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


def _schema(mode: str) -> Any:
    config = schemathesis.Config.from_dict({
        "generation": {"mode": mode, "max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True,
                       "database": "none", "with-security-parameters": False},
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": False}},
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409",
                                                                      "429"]}},
    })
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=config)
    schema.app = InProcessApp()
    return schema.exclude(operation_id=list(EXCLUDED))


ALL = _schema("all")
NEGATIVE = _schema("negative")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, positive_data_acceptance]
HYPOTHESIS = settings(deadline=None, suppress_health_check=list(HealthCheck))


class World:
    """The member the requests are sent as, and a row of the member's for each kind of path
    parameter, made on first use (an operation makes only what it addresses)."""

    def __init__(self) -> None:
        self.shopper = make_shopper()
        self.member = self.shopper.member
        self.as_member = {"Authorization": f"Bearer {self.shopper.token}"}
        self._turns: Iterator[bool] = itertools.cycle([True, False])
        self._real: dict[str, dict[str, Any]] = {}

    @cached_property
    def sku(self) -> Any:
        default_freight()
        return SkuFactory.create(stock=10_000)

    def order(self, status: str) -> Any:
        return order_up_to(status, member=self.member, lines=[(self.sku, 2)])

    @cached_property
    def after_sale(self) -> Any:
        order = self.order("received")
        return requested_after_sale(order=order, lines={lines_of(order)[0]: 1})

    def real_path_parameters(self, path: str) -> dict[str, Any]:
        """Path parameters addressing a row of the member's for the operation at `path`."""
        rows: dict[str, Callable[[], dict[str, Any]]] = {
            "/api/v1/addresses/{address_id}/": lambda: {"address_id": self.member.addresses.get().pk},
            "/api/v1/cart/items/{item_id}/": lambda: {"item_id": CartItem.objects.create(
                member=self.member, sku=self.sku, quantity=1, price_fen_when_added=self.sku.price_fen).pk},
            "/api/v1/orders/{order_no}/": lambda: {"order_no": self.order("received").order_no},
            "/api/v1/orders/{order_no}/pay": lambda: {"order_no": self.order("pending_payment").order_no},
            "/api/v1/orders/{order_no}/cancel": lambda: {"order_no": self.order("pending_payment").order_no},
            "/api/v1/orders/{order_no}/confirm-receipt": lambda: {"order_no": self.order("shipped").order_no},
            "/api/v1/orders/{order_no}/shipments": lambda: {"order_no": self.order("shipped").order_no},
            "/api/v1/orders/{order_no}/after-sale-options": lambda: {"order_no": self.order("received").order_no},
            "/api/v1/after-sales/{after_sale_no}/": lambda: {"after_sale_no": self.after_sale.after_sale_no},
            "/api/v1/after-sales/{after_sale_no}/withdraw": lambda: {"after_sale_no": self.after_sale.after_sale_no},
            "/api/v1/after-sales/{after_sale_no}/return-shipment": lambda: {
                "after_sale_no": self.after_sale.after_sale_no},
            "/api/v1/order-lines/{line_id}/review": lambda: {"line_id": lines_of(self.order("received"))[0].pk},
            "/api/v1/reviews/{review_id}/followup": lambda: {"review_id": review_create(
                member=self.member, line_id=lines_of(self.order("received"))[0].pk, rating=5, content="好").pk},
            "/api/v1/products/{product_id}/": lambda: {"product_id": self.sku.product_id},
            "/api/v1/products/{product_id}/reviews/": lambda: {"product_id": self.sku.product_id},
            "/api/v1/coupons/center/{template_id}/claim": lambda: {
                "template_id": CouponTemplateFactory.create(show_in_center=True).pk},
            "/api/v1/coupons/mine/{coupon_id}": lambda: {"coupon_id": coupon_claim(
                member=self.member, template_id=CouponTemplateFactory.create(show_in_center=True).pk).pk},
            "/api/v1/flash-sales/sessions/{session_id}": lambda: {"session_id": FlashSessionFactory.create().pk},
            "/api/v1/points-mall/items/{item_id}/exchange": lambda: {"item_id": self._gift().pk},
            "/api/v1/me/card-purchases/{purchase_no}": lambda: {"purchase_no": self._card_purchase().purchase_no},
            "/api/v1/me/card-purchases/{purchase_no}/pay": lambda: {
                "purchase_no": self._card_purchase().purchase_no},
        }
        return rows[path]() if path in rows else {}

    def _gift(self) -> PointsMallItem:
        points_award(member_id=self.member.pk, points=1000, kind="campaign", reference="fuzz")
        return PointsMallItem.objects.create(name="帆布袋", kind=PointsMallItemKind.GIFT, points_price=100,
                                             stock_total=50, stock_left=50)

    def _card_purchase(self) -> Any:
        plan = CardPlan.objects.create(name="季卡（测试）", price_fen=3000, days=90, discount_percent=95)
        return card_purchase_create(member=self.member, plan_id=plan.pk)

    def aim(self, case: schemathesis.Case) -> None:
        """Every other case whose path parameters are valid is sent to a real row instead."""
        if not case.path_parameters or not next(self._turns):
            return
        path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
        if path is not None and not path.mode.is_positive:
            return
        if case.path not in self._real:
            self._real[case.path] = self.real_path_parameters(case.path)
        case.path_parameters.update(self._real[case.path])


@pytest.fixture
def world(db: None, sandbox: Any, settings: Any) -> World:
    # Far from the limits: the requests should reach the views (the limits: tests/api/test_rate_limits.py).
    settings.RATE_LIMITS = {scope: "100000/m" for scope in settings.RATE_LIMITS}
    return World()


@ALL.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, world: World) -> None:
    world.aim(case)
    for headers in (world.as_member, {}):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, additional_checks=[well_formed_is_not_refused],
                               headers=headers)


def _writes() -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and deleted so far in this transaction, by table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables "
                       "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0")
        return {table: (inserted, updated, deleted) for table, inserted, updated, deleted in cursor.fetchall()}


# Counting an attempt against a rate limit is a write an invalid request makes on purpose.
COUNTED_ATTEMPTS = "core_ratelimitcounter"


@NEGATIVE.parametrize()
@HYPOTHESIS
def test_invalid_requests_change_nothing(case: schemathesis.Case, world: World) -> None:
    if coverage_scenario(case) in REQUEST_SHAPE_PROBES and isinstance(case.body, NotSet):
        # A Content-Type without a body: there is nothing to refuse, the request is the operation's
        # own (a logout is a logout). The main test holds such probes to the schema as well.
        return
    world.aim(case)
    for headers in (world.as_member, {}):
        before = _writes()
        response = case.call(headers=headers)
        changed = {table for table, counts in _writes().items() if before.get(table) != counts}
        case.validate_response(response, checks=[not_a_server_error, negative_data_rejection], headers=headers)
        assert changed - {COUNTED_ATTEMPTS} == set(), (response.status_code, response.text[:300])
