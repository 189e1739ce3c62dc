"""For the tests over the API's schema: the OpenAPI document, a member with a row of each kind the
operations address, and what the database saw a request write."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from campaigns.models import PointsMallItem, PointsMallItemKind
from campaigns.services.bargain import bargain_launch
from campaigns.services.claims import coupon_claim
from campaigns.services.sharing import share_create
from members.models import CardPlan
from members.services.cards import card_purchase_create
from members.services.points import points_award
from shop.models import CartItem, Favourite, Footprint
from shop.services.orders import CheckoutInput, GroupChoice, LineInput, order_place
from shop.services.reviews import review_create
from tests.builders import buyer, lines_of, order_up_to, pay, requested_after_sale
from tests.factories import (
    BargainActivityFactory,
    CouponTemplateFactory,
    FlashSessionFactory,
    GroupBuyItemFactory,
    SkuFactory,
    default_freight,
)
from tests.fixtures import make_shopper

# Operations that are not the mini-program's: WeChat's servers call them, with signed XML.
NOT_THE_MINI_PROGRAMS = {
    "payments_wechat_notify": "WeChat Pay's payment notification (signed XML), tested in tests/payments",
    "payments_wechat_refund_notify": "WeChat Pay's refund notification (signed XML), tested in tests/shop",
    "payments_wechat_transfer_notify": "WeChat Pay's transfer notification (Pay v3, signed and encrypted JSON), "
                                       "tested in tests/payments/test_transfers.py",
    "wechat_messages_verify": "WeChat's check of the message URL (signed echostr), tested in tests/wechat",
    "wechat_messages_receive": "WeChat's message push (signed, plain or safe mode), tested in tests/wechat and "
                               "tests/shop/test_photo_moderation.py",
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The schema the app serves at /api/schema/ (drf-spectacular), generated once per test run."""
    return SchemaGenerator().get_schema(request=None, public=True)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    definition: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_parameters(self) -> list[str]:
        return [p["name"] for p in self.definition.get("parameters", []) if p["in"] == "path"]

    @property
    def query_parameters(self) -> list[str]:
        return [p["name"] for p in self.definition.get("parameters", []) if p["in"] == "query"]

    @property
    def takes_json(self) -> bool:
        return "application/json" in self.definition.get("requestBody", {}).get("content", {})


def mini_program_operations() -> Iterator[Operation]:
    """Every operation of the schema but those in NOT_THE_MINI_PROGRAMS."""
    for path, methods in openapi_document()["paths"].items():
        for method, definition in methods.items():
            if definition["operationId"] not in NOT_THE_MINI_PROGRAMS:
                yield Operation(method.upper(), path, definition)


class World:
    """A member the requests are sent as (with a bearer token), and a row of the member's for each
    kind of path parameter, made on first use: an operation's test makes only what it addresses."""

    def __init__(self) -> None:
        self.shopper = make_shopper()
        self.member = self.shopper.member
        self.as_member = {"Authorization": f"Bearer {self.shopper.token}"}
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
        """Path parameters addressing a row of the member's for the operation at `path` (the same
        row on every call); {} for an operation without path parameters."""
        if path not in self._real:
            self._real[path] = self._make_path_parameters(path)
        return self._real[path]

    def _make_path_parameters(self, path: str) -> dict[str, Any]:
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
            "/api/v1/products/{product_id}/offers": lambda: {"product_id": self.sku.product_id},
            "/api/v1/products/{product_id}/share": lambda: {"product_id": self.sku.product_id},
            "/api/v1/me/favourites/{favourite_id}": lambda: {"favourite_id": Favourite.objects.create(
                member=self.member, product_id=self.sku.product_id).pk},
            "/api/v1/me/footprints/{footprint_id}": lambda: {"footprint_id": Footprint.objects.create(
                member=self.member, product_id=self.sku.product_id, viewed_at=timezone.now()).pk},
            "/api/v1/orders/{order_no}/buy-again": lambda: {"order_no": self.order("received").order_no},
            "/api/v1/coupons/center/{template_id}/claim": lambda: {
                "template_id": CouponTemplateFactory.create(show_in_center=True).pk},
            "/api/v1/coupons/mine/{coupon_id}": lambda: {"coupon_id": coupon_claim(
                member=self.member, template_id=CouponTemplateFactory.create(show_in_center=True).pk).pk},
            "/api/v1/flash-sales/sessions/{session_id}": lambda: {"session_id": FlashSessionFactory.create().pk},
            "/api/v1/points-mall/items/{item_id}/exchange": lambda: {"item_id": self._gift().pk},
            "/api/v1/group-buys/activities/{activity_id}": lambda: {"activity_id": self.group_item.activity_id},
            "/api/v1/group-buys/items/{item_id}/open": lambda: {"item_id": self.group_item.pk},
            "/api/v1/group-buys/groups/{group_no}": lambda: {"group_no": self._group(leader=buyer())},
            "/api/v1/group-buys/groups/{group_no}/join": lambda: {"group_no": self._group(leader=buyer())},
            "/api/v1/group-buys/mine/{group_no}": lambda: {"group_no": self._group(leader=self.member)},
            "/api/v1/me/card-purchases/{purchase_no}": lambda: {"purchase_no": self._card_purchase().purchase_no},
            "/api/v1/me/card-purchases/{purchase_no}/pay": lambda: {
                "purchase_no": self._card_purchase().purchase_no},
            "/api/v1/bargains/activities/{activity_id}/launch": lambda: {
                "activity_id": BargainActivityFactory.create(sku=self.sku).pk},
            "/api/v1/bargains/launches/{launch_no}": lambda: {"launch_no": self._launch().launch_no},
            # Another member's launch: the shopper helps a friend (their own would be refused).
            "/api/v1/bargains/launches/{launch_no}/help": lambda: {"launch_no": self._launch(
                member_id=make_shopper().member.pk).launch_no},
            "/api/v1/shares/{share_no}/visits": lambda: {"share_no": share_create(
                member_id=make_shopper().member.pk, kind="product", target=str(self.sku.product_id)).share_no},
        }
        return rows[path]() if path in rows else {}

    @cached_property
    def group_item(self) -> Any:
        return GroupBuyItemFactory.create(sku=self.sku, stock_total=10_000, activity__per_member_limit=999)

    def _group(self, *, leader: Any) -> str:
        """The number of a group `leader` opened and paid for (forming, two seats left)."""
        order, _ = order_place(member=leader, data=CheckoutInput(
            items=(LineInput(self.sku.pk, 1),), group=GroupChoice(self.group_item.pk)))
        return pay(order).order_no

    def _gift(self) -> PointsMallItem:
        points_award(member_id=self.member.pk, points=1000, kind="campaign", reference="fuzz")
        return PointsMallItem.objects.create(name="帆布袋", kind=PointsMallItemKind.GIFT, points_price=100,
                                             stock_total=50, stock_left=50)

    def _launch(self, member_id: int | None = None) -> Any:
        activity = BargainActivityFactory.create(sku=self.sku, helpers_needed=50)
        launch, _ = bargain_launch(member_id=member_id or self.member.pk, activity_id=activity.pk)
        return launch

    def _card_purchase(self) -> Any:
        plan = CardPlan.objects.create(name="季卡（测试）", price_fen=3000, days=90, discount_percent=95)
        return card_purchase_create(member=self.member, plan_id=plan.pk)


def database_writes() -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and deleted so far in the current transaction, by table.

    PostgreSQL's per-transaction counters (those behind pg_stat_xact_user_tables, read directly:
    the view costs ten times as much, and the property test reads them thousands of times)."""
    oids, names = _tables()
    with connection.cursor() as cursor:
        cursor.execute("SELECT t.oid, pg_stat_get_xact_tuples_inserted(t.oid), pg_stat_get_xact_tuples_updated(t.oid), "
                       "pg_stat_get_xact_tuples_deleted(t.oid) FROM unnest(%s::oid[]) AS t(oid) "
                       "WHERE pg_stat_get_xact_tuples_inserted(t.oid) + pg_stat_get_xact_tuples_updated(t.oid) "
                       "+ pg_stat_get_xact_tuples_deleted(t.oid) > 0", [oids])
        return {names[oid]: (inserted, updated, deleted) for oid, inserted, updated, deleted in cursor.fetchall()}


@functools.cache
def _tables() -> tuple[list[int], dict[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')")
        names = dict(cursor.fetchall())
    return list(names), names


# Counting an attempt against a rate limit is a write a refused request makes on purpose.
RATE_LIMIT_COUNTERS = "core_ratelimitcounter"


def tables_written_since(before: dict[str, tuple[int, int, int]]) -> set[str]:
    """The tables with rows inserted, updated or deleted since `before` (database_writes()), the
    rate-limit counters apart."""
    return {table for table, counts in database_writes().items()
            if before.get(table) != counts and table != RATE_LIMIT_COUNTERS}
