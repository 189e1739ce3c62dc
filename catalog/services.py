"""Writes of the catalog: stock, and the denormalised fields of products.

Stock: this is the only code that changes `Stock.available`, always leaving a movement row.
Every decrement is a conditional UPDATE (`available >= n` in the WHERE clause) with the row
count checked, backed by the table's CheckConstraint, so no interleaving of buyers can take
stock below zero. Multi-SKU changes go in SKU-id order so two orders never deadlock; stock is
the last level of the global lock order (docs/architecture.md, "Lock order").

Sales counts are hot rows: they move after the payment or refund commits
(`product_sales_count_after_commit`), never inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from catalog.errors import InsufficientStock
from catalog.models import Product, Sku, Stock, StockMovement
from core.counters import CounterDrift, counters_repair
from core.db import require_transaction
from core.errors import ValidationFailed
from core.operators import operator_id


def stock_ensure_row(*, sku: Sku) -> Stock:
    """The SKU's stock row, created at 0 if missing. Idempotent."""
    stock, _ = Stock.objects.get_or_create(sku=sku, defaults={"available": 0})
    return stock


def stock_adjust(*, sku: Sku, delta: int, reason: str, operator: AbstractBaseUser | None = None,
                 note: str = "", reference: str = "") -> Stock:
    """Add (or remove, when negative) units of a SKU by an operator, an import or set-up.

    A removal that would go below zero raises InsufficientStock and changes nothing.
    """
    if delta == 0:
        return stock_ensure_row(sku=sku)
    if reason in {StockMovement.Reason.ORDER_RESERVE, StockMovement.Reason.ORDER_RELEASE}:
        raise ValidationFailed("订单占用与释放只能由下单流程产生", code="invalid_stock_reason")
    with transaction.atomic():
        stock_ensure_row(sku=sku)
        updated = Stock.objects.filter(sku=sku, available__gte=-delta if delta < 0 else 0).update(
            available=F("available") + delta)
        if updated != 1:
            raise InsufficientStock(f"库存不足，无法减少 {-delta} 件", detail={"sku_id": sku.pk})
        StockMovement.objects.create(sku=sku, delta=delta, reason=reason, operator_id=operator_id(operator), note=note,
                                     reference=reference)
        return Stock.objects.get(sku=sku)


def stock_set(*, sku: Sku, target: int, reason: str, operator: AbstractBaseUser | None = None,
              note: str = "") -> Stock:
    """Make the SKU's available stock exactly `target` (an import, a stock count).

    Locks the stock row so an order placed meanwhile is not overwritten: the movement records
    the difference from the locked value. Must run inside a transaction.
    """
    if target < 0:
        raise ValidationFailed("库存不能为负数", code="invalid_stock")
    stock_ensure_row(sku=sku)
    current = Stock.objects.select_for_update().get(sku=sku).available
    if target == current:
        return Stock.objects.get(sku=sku)
    return stock_adjust(sku=sku, delta=target - current, reason=reason, operator=operator, note=note)


_STOCK = Stock._meta.db_table
_MOVEMENT = StockMovement._meta.db_table


def stock_reserve(*, quantities: dict[int, int], reference: str) -> None:
    """Take `quantities` (sku_id -> units) for an order, all or nothing, with one ORDER_RESERVE
    movement per SKU.

    Must run inside the caller's transaction: a shortfall on any SKU raises InsufficientStock
    and the caller's rollback returns what was already taken. Each SKU's conditional UPDATE and
    its movement are one statement, so a hot row is locked for one round trip before the commit;
    several SKUs are first locked in sku_id order (one SELECT ... FOR UPDATE), the lock order
    every path follows, and then taken in one statement.
    """
    require_transaction("stock_reserve")
    skus = sorted(quantities)
    with connection.cursor() as cursor:
        if len(skus) > 1:
            cursor.execute(f"SELECT 1 FROM {_STOCK} WHERE sku_id = ANY(%s) ORDER BY sku_id FOR UPDATE", [skus])
        values = ", ".join(["(%s::bigint, %s::integer)"] * len(skus))
        cursor.execute(
            f"WITH wanted (sku_id, quantity) AS (VALUES {values}), "
            f"taken AS (UPDATE {_STOCK} AS s SET available = s.available - w.quantity FROM wanted AS w "
            f"  WHERE s.sku_id = w.sku_id AND s.available >= w.quantity RETURNING s.sku_id, w.quantity) "
            f"INSERT INTO {_MOVEMENT} (sku_id, delta, reason, reference, note, operator_id, created_at) "
            f"SELECT sku_id, -quantity, %s, %s, '', NULL, %s FROM taken RETURNING sku_id",
            [*(v for sku_id in skus for v in (sku_id, quantities[sku_id])),
             StockMovement.Reason.ORDER_RESERVE, reference, timezone.now()])
        taken = {row[0] for row in cursor.fetchall()}
    short = [sku_id for sku_id in skus if sku_id not in taken]
    if short:
        raise InsufficientStock(detail={"sku_id": short[0]})


def stock_release(*, quantities: dict[int, int], reference: str) -> bool:
    """Give back what an order reserved, exactly once per order (unique release movements).

    Returns False, changing nothing, if this order's stock was already released.
    """
    try:
        with transaction.atomic():
            StockMovement.objects.bulk_create(
                StockMovement(sku_id=sku_id, delta=quantities[sku_id],
                              reason=StockMovement.Reason.ORDER_RELEASE, reference=reference)
                for sku_id in sorted(quantities)
            )
    except IntegrityError:
        return False
    for sku_id in sorted(quantities):
        Stock.objects.filter(sku_id=sku_id).update(available=F("available") + quantities[sku_id])
    return True


def stock_quantities(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Merge (sku_id, quantity) pairs into sku_id -> total units (or product ids: any id)."""
    merged: dict[int, int] = {}
    for sku_id, quantity in lines:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return merged


# ---------------------------------------------------------------------------------------------
# Products


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


def product_sales_count_after_commit(*, units: Iterable[tuple[int, int]]) -> None:
    """Add `units` ((product_id, units) pairs, merged per product; negative for units refunded)
    to the products' sales counts once the caller's transaction commits.

    Runs in the caller's transaction (a payment's, a refund's) and only registers the change: a
    bestseller's row would otherwise hold every payment of it in one queue until each commits.
    After the commit, each product moves by its own short UPDATE, in product-id order, never below
    zero; if the transaction rolls back, nothing moves. A crash between the commit and the
    UPDATE leaves a drift the nightly counters reconcile repairs (product_sales_count_repair).
    """
    require_transaction("product_sales_count_after_commit")
    changes = {product_id: n for product_id, n in stock_quantities(units).items() if n}
    if changes:
        transaction.on_commit(partial(_product_sales_count_add, changes), robust=True)


def _product_sales_count_add(changes: Mapping[int, int]) -> None:
    for product_id in sorted(changes):
        Product.objects.filter(pk=product_id).update(
            sales_count=Greatest(F("sales_count") + changes[product_id], Value(0)))


REVIEW_SUMMARY_FIELDS = ("review_count", "review_rating_sum", "review_with_photos", "review_positive")


def product_review_summary_set(*, product_id: int, values: tuple[int, int, int, int]) -> None:
    """Store a product's rating summary (REVIEW_SUMMARY_FIELDS, in that order), computed by the
    review service from the published reviews just after a change committed."""
    Product.objects.filter(pk=product_id).update(**dict(zip(REVIEW_SUMMARY_FIELDS, values, strict=True)))


def product_review_summary_repair(*, product_id: int, recorded: tuple[int, int, int, int],
                                  expected: tuple[int, int, int, int]) -> list[CounterDrift]:
    """Set a product's rating summary to `expected` if it still is `recorded` (the reconcile's
    repair; core.counters.counters_repair). Returns the drifts, empty when there were none."""
    return counters_repair(Product, pk=product_id, values={
        name: (was, want) for name, was, want in zip(REVIEW_SUMMARY_FIELDS, recorded, expected, strict=True)})


def product_sales_count_repair(*, product_id: int, recorded: int, expected: int) -> list[CounterDrift]:
    """Set a product's sales count to `expected` if it still is `recorded` (the reconcile's repair;
    core.counters.counters_repair). Returns the drift, empty when there was none."""
    return counters_repair(Product, pk=product_id, values={"sales_count": (recorded, expected)})
