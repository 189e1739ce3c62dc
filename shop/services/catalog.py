"""Catalog writes that keep denormalised fields honest."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Min

from shop.models import Product, Sku


def product_refresh_denormalised(*, product_id: int) -> None:
    """Recompute the product's list price (lowest active SKU price) after SKUs change."""
    lowest = Sku.objects.filter(product_id=product_id, is_active=True).aggregate(m=Min("price_fen"))["m"]
    Product.objects.filter(pk=product_id).update(min_price_fen=lowest or 0)


def product_set_shelf(*, product_ids: Iterable[int], on_shelf: bool) -> tuple[int, list[str]]:
    """Put products on or off the shelf. Returns (changed count, names refused).

    A product with no active SKU is never shelved: it would show with nothing to buy.
    """
    ids = list(product_ids)
    if not on_shelf:
        return Product.objects.filter(pk__in=ids).update(is_on_shelf=False), []
    sellable = Product.objects.filter(pk__in=ids, skus__is_active=True).distinct().values("pk")
    refused = list(Product.objects.filter(pk__in=ids).exclude(pk__in=sellable).values_list("name", flat=True))
    return Product.objects.filter(pk__in=sellable).update(is_on_shelf=True), refused
