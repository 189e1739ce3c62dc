"""Reads of the catalog: for shoppers the category tree, the product list, a product page; for
the shop whether an order's stock was given back."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from catalog.errors import ProductUnavailable
from catalog.models import Category, Product, ProductImage, Sku, Stock, StockMovement

# A SKU on sale with fewer units than this is "low stock": the shopper's 仅剩少量 and the
# console's 低库存 SKU agree on one number.
LOW_STOCK_BELOW = 10


def sku_low_stock_q() -> Q:
    """SKUs an operator should restock: active, on a shelved product, below LOW_STOCK_BELOW (sold out included)."""
    return Q(is_active=True, product__is_on_shelf=True, stock__available__lt=LOW_STOCK_BELOW)


def category_tree() -> list[Category]:
    """Active top-level categories with their active children prefetched (two queries)."""
    children = Category.objects.filter(is_active=True).order_by("sort", "id")
    return list(
        Category.objects.filter(parent__isnull=True, is_active=True)
        .order_by("sort", "id")
        .prefetch_related(Prefetch("children", queryset=children, to_attr="active_children"))
    )


def product_list() -> QuerySet[Product]:
    """On-shelf products with what a list card needs; no per-row queries.

    `in_stock` is an EXISTS per row, not a SUM over a join: the page and its COUNT then stay
    plain product queries however large the catalog grows.
    """
    sellable = Stock.objects.filter(sku__product=OuterRef("pk"), sku__is_active=True, available__gt=0)
    return (
        Product.objects.filter(is_on_shelf=True, category__is_active=True)
        .annotate(in_stock=Exists(sellable))
        .only("id", "name", "subtitle", "main_image", "tags", "min_price_fen", "sales_count",
              "category_id", "created_at", "sort")
    )


def product_detail(*, product_id: int) -> Product:
    active_skus = Sku.objects.filter(is_active=True).select_related("stock").order_by("id")
    product = (
        Product.objects.filter(pk=product_id, is_on_shelf=True)
        .select_related("category")
        .prefetch_related(Prefetch("skus", queryset=active_skus, to_attr="active_skus"),
                          Prefetch("images", queryset=ProductImage.objects.order_by("sort", "id")))
        .first()
    )
    if product is None:
        raise ProductUnavailable(code="product_not_found", status=404)
    return product


def stock_released(*, reference: str) -> bool:
    """Whether stock was already given back under `reference` (catalog.services.stock_release gives
    back once per reference)."""
    return StockMovement.objects.filter(reason=StockMovement.Reason.ORDER_RELEASE, reference=reference).exists()
