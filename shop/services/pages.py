"""Writes of decorated pages: what the console and the demo loader do to a page, each ending with
`page_changed`, which moves the page's version so every process serves the change at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shop.models import PageBlock, PageBlockItem, StorePage


def page_changed(*, page_id: int) -> None:
    """Bump the page's version: the resolved page is cached under it (shop.pages), so the next
    request resolves the page anew, in whichever process it lands. Call after any change to the
    page, its blocks or their items; one UPDATE."""
    StorePage.objects.filter(pk=page_id).update(version=F("version") + 1, updated_at=timezone.now())


def page_ensure(*, key: str, title: str) -> StorePage:
    """The page with `key`, created (empty, active) when missing. Idempotent."""
    page, _ = StorePage.objects.get_or_create(key=key, defaults={"title": title})
    return page


def page_block_add(*, page: StorePage, kind: str, items: Iterable[Mapping[str, Any]] = (),
                   coupon_template_ids: Iterable[int] = (), **fields: Any) -> PageBlock:
    """Append a block (after the page's last) with its items and coupon templates, then
    `page_changed`. `fields` are PageBlock fields (title, text, product_rule, limit…); each item
    a mapping of PageBlockItem fields, sorted in the order given. One transaction."""
    with transaction.atomic():
        last = PageBlock.objects.filter(page=page).order_by("-sort").values_list("sort", flat=True).first()
        block = PageBlock.objects.create(page=page, kind=kind, sort=(last or 0) + 10, **fields)
        PageBlockItem.objects.bulk_create(PageBlockItem(block=block, sort=index, **item)
                                          for index, item in enumerate(items))
        block.coupon_templates.set(list(coupon_template_ids))
        page_changed(page_id=page.pk)
    return block
