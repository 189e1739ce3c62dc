"""Flash-sale reads: the offers checkout prices with, and the sessions the mini-program shows.

Product and SKU fields are read through the flash item's foreign key to catalog.models.Sku
(`sku__product__name`, `sku__price_fen`). Every read here is a fixed number of queries whatever
the number of sessions and items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.errors import FlashSessionNotFound
from campaigns.models import FlashItem, FlashPurchase, FlashSession
from core.compiled import CompiledQuery


@dataclass(frozen=True)
class FlashOffer:
    """An item of a session running now, as checkout needs it: price, limit and timeout."""

    item_id: int
    session_id: int
    sku_id: int
    flash_price_fen: int
    per_member_limit: int
    unpaid_timeout_minutes: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    # As read with the offer: units left, and what the buyer already holds (None: not asked).
    # A hint for refusing early (campaigns.services.flash.flash_precheck); the conditional
    # UPDATEs of flash_reserve decide.
    stock_left: int | None = None
    member_bought: int | None = None


def flash_offers(*, item_ids: list[int], now: dt.datetime, member_id: int | None = None) -> dict[int, FlashOffer]:
    """item_id -> FlashOffer for those of `item_ids` in an enabled session running at `now`.

    Unknown items and items of sessions not running (not started, ended, disabled) are left out;
    the caller decides what that means (checkout: flash_not_active / flash_item_not_found). One
    query, which also reads each item's units left and, with `member_id`, the units that member
    already holds of it.
    """
    if not item_ids:
        return {}
    rows = _FLASH_OFFERS.rows(item_ids=list(item_ids), now=now, member_id=member_id)
    return {row[0]: FlashOffer(*row) for row in rows}


def _flash_offers_query(*, item_ids: list[int], now: dt.datetime, member_id: int | None) -> QuerySet[Any, Any]:
    bought: Any = Value(None, output_field=IntegerField())
    if member_id is not None:
        held = FlashPurchase.objects.filter(item_id=OuterRef("pk"), member_id=member_id).values("quantity")[:1]
        bought = Coalesce(Subquery(held), Value(0))
    return FlashItem.objects.filter(
        pk__in=item_ids, session__is_active=True, session__starts_at__lte=now, session__ends_at__gt=now,
    ).annotate(bought=bought).values_list(
        "pk", "session_id", "sku_id", "flash_price_fen", "per_member_limit",
        "session__unpaid_timeout_minutes", "session__starts_at", "session__ends_at", "stock_left", "bought")


# Compiled once per process and cart shape: a flash rush runs it on every request.
_FLASH_OFFERS = CompiledQuery(_flash_offers_query)


class SessionState:
    UPCOMING = "upcoming"
    RUNNING = "running"
    ENDED = "ended"


SESSION_STATE_LABELS = {SessionState.UPCOMING: "即将开始", SessionState.RUNNING: "抢购中",
                        SessionState.ENDED: "已结束"}


def flash_session_state(*, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime) -> str:
    if now < starts_at:
        return SessionState.UPCOMING
    if now < ends_at:
        return SessionState.RUNNING
    return SessionState.ENDED


@dataclass(frozen=True)
class FlashItemView:
    id: int
    sku_id: int
    product_id: int
    product_name: str
    image_url: str | None  # the stored file's URL, relative (the API makes it absolute)
    spec_text: str
    list_price_fen: int
    flash_price_fen: int
    stock_total: int
    stock_left: int
    sold_percent: int  # for the progress bar: 0..100, 100 only when sold out
    per_member_limit: int
    my_remaining: int | None  # None for an anonymous shopper


@dataclass(frozen=True)
class FlashSessionView:
    id: int
    name: str
    state: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    items: list[FlashItemView]

    @property
    def state_label(self) -> str:
        return SESSION_STATE_LABELS[self.state]


@dataclass(frozen=True)
class FlashBoard:
    """What the flash-sale page shows: the sessions, and which one to open first."""

    server_time: dt.datetime
    sessions: list[FlashSessionView]
    current_session_id: int | None  # the running session, else the next to start, else None


# The page shows today's sessions (ended ones too, greyed out) and tomorrow's.
BOARD_DAYS = 2


def flash_board(*, now: dt.datetime, member_id: int | None) -> FlashBoard:
    """Enabled sessions of today and tomorrow (Shanghai days), plus one still running from yesterday.

    Sessions with no item on sale (none added yet, or all of them off the shelf) are left out.
    Three queries at most (sessions, items, the member's purchases), whatever their number.
    """
    today = timezone.localdate(now)
    day_start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    horizon = day_start + dt.timedelta(days=BOARD_DAYS)
    sessions = list(FlashSession.objects.filter(is_active=True, ends_at__gt=day_start, starts_at__lt=horizon)
                    .order_by("starts_at", "id").values("pk", "name", "starts_at", "ends_at"))
    views = _session_views(sessions, now=now, member_id=member_id)
    views = [v for v in views if v.items]
    current = next((v.id for v in views if v.state == SessionState.RUNNING), None)
    if current is None:
        current = next((v.id for v in views if v.state == SessionState.UPCOMING), None)
    return FlashBoard(server_time=now, sessions=views, current_session_id=current)


def flash_session_detail(*, session_id: int, now: dt.datetime, member_id: int | None) -> FlashSessionView:
    """One enabled session with its items; FlashSessionNotFound for unknown or disabled ones."""
    sessions = list(FlashSession.objects.filter(pk=session_id, is_active=True)
                    .values("pk", "name", "starts_at", "ends_at"))
    if not sessions:
        raise FlashSessionNotFound(detail={"session_id": session_id})
    return _session_views(sessions, now=now, member_id=member_id)[0]


def _session_views(sessions: Sequence[Mapping[str, Any]], *, now: dt.datetime,
                   member_id: int | None) -> list[FlashSessionView]:
    if not sessions:
        return []
    items = list(
        FlashItem.objects.filter(session_id__in=[s["pk"] for s in sessions])
        .filter(Q(sku__is_active=True) & Q(sku__product__is_on_shelf=True))
        .order_by("sort", "id")
        .values("pk", "session_id", "sku_id", "sku__product_id", "sku__product__name", "sku__product__main_image",
                "sku__specs", "sku__price_fen", "flash_price_fen", "stock_total", "stock_left", "per_member_limit")
    )
    held: dict[int, int] = {}
    if member_id is not None and items:
        held = dict(FlashPurchase.objects.filter(member_id=member_id, item_id__in=[i["pk"] for i in items])
                    .values_list("item_id", "quantity"))
    by_session: dict[int, list[FlashItemView]] = {s["pk"]: [] for s in sessions}
    for row in items:
        by_session[row["session_id"]].append(_item_view(row, held=held, member_id=member_id))
    return [
        FlashSessionView(id=s["pk"], name=s["name"], starts_at=s["starts_at"], ends_at=s["ends_at"],
                         state=flash_session_state(starts_at=s["starts_at"], ends_at=s["ends_at"], now=now),
                         items=by_session[s["pk"]])
        for s in sessions
    ]


def _item_view(row: Mapping[str, Any], *, held: dict[int, int], member_id: int | None) -> FlashItemView:
    total, left, limit = row["stock_total"], row["stock_left"], row["per_member_limit"]
    sold = total - left
    # Floor, so the bar shows 100% only when nothing is left.
    percent = 100 if total == 0 or left == 0 else sold * 100 // total
    image = row["sku__product__main_image"]
    return FlashItemView(
        id=row["pk"], sku_id=row["sku_id"], product_id=row["sku__product_id"],
        product_name=row["sku__product__name"],
        image_url=default_storage.url(image) if image else None,
        spec_text=" ".join(str(v) for v in (row["sku__specs"] or {}).values()),
        list_price_fen=row["sku__price_fen"], flash_price_fen=row["flash_price_fen"],
        stock_total=total, stock_left=left, sold_percent=percent, per_member_limit=limit,
        my_remaining=None if member_id is None else max(limit - held.get(row["pk"], 0), 0),
    )


def flash_prices_now(*, product_ids: Sequence[int], now: dt.datetime) -> dict[int, int]:
    """product_id -> the lowest flash price of its items with stock left in an enabled session
    running at `now` (what a product card shows as 秒杀价). One query."""
    if not product_ids:
        return {}
    rows = (FlashItem.objects.filter(sku__product_id__in=list(product_ids), stock_left__gt=0, session__is_active=True,
                                     session__starts_at__lte=now, session__ends_at__gt=now)
            .values("sku__product_id").annotate(lowest=Min("flash_price_fen")).values_list("sku__product_id", "lowest"))
    return dict(rows)
