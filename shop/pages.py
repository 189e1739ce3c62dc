"""Reads of decorated pages (页面装修): a page's blocks resolved against live data, and the cache
that serves the resolved page.

Each block kind has a resolver, registered in RESOLVERS: `prepare` fetches what every block of
its kind on the page needs in one batch, `render` turns one block into plain JSON-ready data. So
a page costs a fixed number of queries whatever its blocks show: the page and its blocks (with
items and coupon choices prefetched), one UNION for the product groups' rules, one query for all
product cards and one for their flash prices, the coupon centre's templates, the flash board.

The resolved page is cached under the page's version (moved by every operator save,
shop.services.pages.page_changed) for at most PAGE_CACHE_SECONDS, and never past the next moment
the page changes by itself (a block's schedule starting or ending, a flash session opening).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.db.models import IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.selectors.coupons import (
    benefit_text,
    coupon_centre_entries,
    coupon_centre_templates,
    threshold_text,
    validity_text,
)
from campaigns.selectors.flash import SessionState, flash_board, flash_prices_now
from catalog.models import Product, Stock
from catalog.selectors import LOW_STOCK_BELOW, product_list
from shop.errors import StorePageNotFound
from shop.models import BlockKind, LinkKind, PageBlock, PageBlockItem, ProductRule, StorePage

CACHE_ALIAS = "catalog"
HOME = "home"

# Builds an absolute URL from a stored file's URL (the request's host, or as is in the console).
UrlBuilder = Callable[[str], str]


def _same(url: str) -> str:
    return url


@dataclass
class PageContext:
    """What resolving one page shares between its resolvers."""

    now: dt.datetime
    absolute: UrlBuilder = _same
    # product_id -> card; block id -> product ids in the group's order
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    coupons: dict[int, dict[str, Any]] = field(default_factory=dict)  # template id -> coupon
    newest_coupons: list[int] = field(default_factory=list)
    flash: dict[str, Any] | None = None
    # Moments after now when the page resolves differently by itself (schedules, flash sessions).
    changes_at: list[dt.datetime] = field(default_factory=list)

    def image(self, name: str) -> str | None:
        return self.absolute(default_storage.url(name)) if name else None


class BlockResolver(Protocol):
    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None: ...

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]: ...


RESOLVERS: dict[str, BlockResolver] = {}


def block_resolver(kind: str) -> Callable[[type], type]:
    """Register the decorated class (instantiated once) as the resolver of block `kind`."""

    def register(cls: type) -> type:
        RESOLVERS[kind] = cls()
        return cls

    return register


def link_of(item: PageBlockItem) -> dict[str, Any]:
    """Where tapping an item goes, as the mini-program routes it."""
    kind = item.link_kind
    return {
        "kind": kind,
        "product_id": item.product_id if kind == LinkKind.PRODUCT else None,
        "category_id": item.link_category_id if kind == LinkKind.CATEGORY else None,
        "value": item.link_value if kind in {LinkKind.PAGE, LinkKind.SEARCH, LinkKind.PATH} else None,
    }


class _Pictures:
    """Banners, icon navigation, image ads: their items, each a picture (and a caption) with a link."""

    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None:
        pass

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]:
        return {"items": [{"title": item.title, "image_url": context.image(item.image.name), "link": link_of(item)}
                          for item in block.items.all()]}


block_resolver(BlockKind.BANNER)(_Pictures)
block_resolver(BlockKind.ICON_NAV)(_Pictures)
block_resolver(BlockKind.IMAGE_LINK)(_Pictures)


@block_resolver(BlockKind.NOTICE)
class _Notice:
    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None:
        pass

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]:
        first = next(iter(block.items.all()), None)
        return {"text": block.text, "link": link_of(first) if first else None}


def stock_state(units: int) -> str:
    """A product card's stock word, on the same threshold as the product page's SKUs."""
    return "sold_out" if units <= 0 else "low_stock" if units < LOW_STOCK_BELOW else "in_stock"


def product_cards(*, product_ids: Sequence[int], now: dt.datetime,
                  absolute: UrlBuilder = _same) -> dict[int, dict[str, Any]]:
    """product_id -> card (current price, flash price when a session is running, stock state) for
    those of `product_ids` on the shelf. Two queries whatever their number."""
    if not product_ids:
        return {}
    units = (Stock.objects.filter(sku__product=OuterRef("pk"), sku__is_active=True)
             .values("sku__product").annotate(total=Sum("available")).values("total"))
    rows = (product_list().filter(pk__in=list(product_ids))
            .annotate(units=Coalesce(Subquery(units, output_field=IntegerField()), Value(0))))
    flash = flash_prices_now(product_ids=list(product_ids), now=now)
    return {
        p.pk: {"id": p.pk, "name": p.name, "subtitle": p.subtitle,
               "image_url": absolute(default_storage.url(p.main_image.name)) if p.main_image else None,
               "price_fen": p.min_price_fen, "flash_price_fen": flash.get(p.pk), "sales_count": p.sales_count,
               "stock_state": stock_state(p.units), "tags": list(p.tags)}  # type: ignore[attr-defined]
        for p in rows
    }


def _rule_query(block: PageBlock) -> QuerySet[Product, tuple[int, int]] | None:
    products = product_list()
    rule = block.product_rule
    if rule == ProductRule.NEW:
        ordered = products.order_by("-created_at", "-id")
    elif rule == ProductRule.HOT:
        ordered = products.order_by("-sales_count", "-id")
    elif rule == ProductRule.CATEGORY and block.category_id:
        ordered = (products.filter(Q(category_id=block.category_id) | Q(category__parent_id=block.category_id))
                   .order_by("sort", "-sales_count", "-id"))
    elif rule == ProductRule.TAG and block.tag:
        ordered = products.filter(tags__contains=[block.tag]).order_by("sort", "-sales_count", "-id")
    else:
        return None
    return ordered.annotate(block_id=Value(block.pk, output_field=IntegerField())).values_list(
        "block_id", "pk")[:block.limit]


@block_resolver(BlockKind.PRODUCTS)
class _Products:
    """A product group: by rule (new, hot, a category, a tag) or hand-picked (the block's items)."""

    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None:
        for block in blocks:
            if block.product_rule == ProductRule.MANUAL or not block.product_rule:
                context.groups[block.pk] = [item.product_id for item in block.items.all() if item.product_id]
        queries = [q for q in (_rule_query(b) for b in blocks if b.pk not in context.groups) if q is not None]
        if queries:
            # One statement for every rule: each group is its own ordered, limited SELECT.
            for block_id, product_id in queries[0].union(*queries[1:], all=True):
                context.groups.setdefault(block_id, []).append(product_id)
        wanted = sorted({pid for ids in context.groups.values() for pid in ids} - set(context.cards))
        context.cards.update(product_cards(product_ids=wanted, now=context.now, absolute=context.absolute))

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]:
        ids = context.groups.get(block.pk, [])
        cards = [context.cards[pid] for pid in ids if pid in context.cards][:block.limit]
        return {"rule": block.product_rule or ProductRule.MANUAL, "products": cards}


@block_resolver(BlockKind.COUPONS)
class _Coupons:
    """A coupon strip: the chosen templates still in the coupon centre, or the centre's newest."""

    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None:
        chosen = {t.pk for b in blocks for t in b.coupon_templates.all()}
        newest = max((b.limit for b in blocks if not b.coupon_templates.all()), default=0)
        templates = []
        if chosen:
            templates += list(coupon_centre_templates(now=context.now).filter(pk__in=chosen))
        if newest:
            fresh = list(coupon_centre_templates(now=context.now)[:newest])
            context.newest_coupons = [t.pk for t in fresh]
            templates += [t for t in fresh if t.pk not in chosen]
        for entry in coupon_centre_entries(templates=templates, member=None, now=context.now):
            template = entry.template
            context.coupons[template.pk] = {
                "template_id": template.pk, "name": template.name, "kind": template.kind,
                "benefit_text": benefit_text(template), "threshold_text": threshold_text(template),
                "validity_text": validity_text(template), "state": entry.state.value,
                "state_label": entry.state_label}

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]:
        ids = [t.pk for t in block.coupon_templates.all()] or context.newest_coupons
        return {"coupons": [context.coupons[i] for i in ids if i in context.coupons][:block.limit]}


@block_resolver(BlockKind.FLASH)
class _Flash:
    """Today's flash sale: the running session, else the next one today, with its first items."""

    def prepare(self, blocks: Sequence[PageBlock], context: PageContext) -> None:
        board = flash_board(now=context.now, member_id=None)
        session = next((s for s in board.sessions if s.state == SessionState.RUNNING), None)
        if session is None:
            today = timezone.localdate(context.now)
            session = next((s for s in board.sessions if s.state == SessionState.UPCOMING
                            and timezone.localdate(s.starts_at) == today), None)
        if session is None:
            return
        context.changes_at += [session.starts_at, session.ends_at]
        context.flash = {
            "id": session.id, "name": session.name, "state": session.state, "state_label": session.state_label,
            "starts_at": _local_iso(session.starts_at), "ends_at": _local_iso(session.ends_at),
            "items": [{"id": i.id, "product_id": i.product_id, "name": i.product_name,
                       "image_url": context.absolute(i.image_url) if i.image_url else None,
                       "list_price_fen": i.list_price_fen, "flash_price_fen": i.flash_price_fen,
                       "sold_percent": i.sold_percent} for i in session.items],
        }

    def render(self, block: PageBlock, context: PageContext) -> dict[str, Any]:
        if context.flash is None:
            return {"session": None}
        return {"session": {**context.flash, "items": context.flash["items"][:block.limit]}}


def _local_iso(moment: dt.datetime) -> str:
    """As the API writes every time: ISO 8601 in Shanghai time (DRF's DateTimeField)."""
    return timezone.localtime(moment).isoformat()


def _showing(block: PageBlock, now: dt.datetime) -> bool:
    return (block.starts_at is None or block.starts_at <= now) and (block.ends_at is None or block.ends_at > now)


def page_resolve(*, page: StorePage, now: dt.datetime, absolute: UrlBuilder = _same) -> dict[str, Any]:
    """The page as the mini-program shows it at `now`: its enabled blocks whose schedule covers
    `now`, in order, each resolved (see the module docstring). `changes_at` in the result is the
    next moment it would resolve differently by itself (None: not before an operator's change)."""
    items = PageBlockItem.objects.order_by("sort", "id")
    blocks = list(PageBlock.objects.filter(page=page, is_active=True).order_by("sort", "id")
                  .prefetch_related(Prefetch("items", queryset=items), "coupon_templates"))
    context = PageContext(now=now, absolute=absolute)
    for block in blocks:
        context.changes_at += [moment for moment in (block.starts_at, block.ends_at) if moment is not None]
    showing = [b for b in blocks if _showing(b, now) and b.kind in RESOLVERS]
    for kind, resolver in RESOLVERS.items():
        of_kind = [b for b in showing if b.kind == kind]
        if of_kind:
            resolver.prepare(of_kind, context)
    resolved = [{"id": b.pk, "kind": b.kind, "title": b.title, **RESOLVERS[b.kind].render(b, context)}
                for b in showing]
    upcoming = [moment for moment in context.changes_at if moment > now]
    return {"key": page.key, "title": page.title, "version": page.version, "blocks": resolved,
            "changes_at": _local_iso(min(upcoming)) if upcoming else None}


def page_for_shopper(*, key: str, now: dt.datetime, origin: str, absolute: UrlBuilder = _same) -> dict[str, Any]:
    """The resolved page `key` (active pages only; StorePageNotFound otherwise), from the cache when
    it holds this version for `origin` (the scheme and host the URLs in it are built for).

    One query when cached (the page's version); the fixed few of page_resolve otherwise.
    """
    page = StorePage.objects.filter(key=key, is_active=True).first()
    if page is None:
        raise StorePageNotFound(detail={"key": key[:32]})
    cache = caches[CACHE_ALIAS]
    cache_key = "page:" + hashlib.sha256(f"{key}|{page.version}|{origin}".encode()).hexdigest()
    cached = cache.get(cache_key)
    if cached is not None and cached["until"] > now.timestamp():
        return cached["page"]
    resolved = page_resolve(page=page, now=now, absolute=absolute)
    ttl = float(settings.PAGE_CACHE_SECONDS)
    if resolved["changes_at"] is not None:
        ttl = min(ttl, (dt.datetime.fromisoformat(resolved["changes_at"]) - now).total_seconds())
    if ttl > 0:
        cache.set(cache_key, {"page": resolved, "until": now.timestamp() + ttl}, timeout=math.ceil(ttl) + 1)
    return resolved
