"""Catalog writes that keep denormalised fields honest."""

from __future__ import annotations

from django.db.models import Min

from shop.models import Product, Sku


def product_refresh_denormalised(*, product_id: int) -> None:
    """Recompute the product's list price (lowest active SKU price) after SKUs change."""
    lowest = Sku.objects.filter(product_id=product_id, is_active=True).aggregate(m=Min("price_fen"))["m"]
    Product.objects.filter(pk=product_id).update(min_price_fen=lowest or 0)
