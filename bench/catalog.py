"""A realistic catalog and shoppers for the bench, written straight through the ORM.

8 top-level categories with 3 children each (products hang off the children, so the category
filter exercises the parent/child OR), 200 products with 2-4 SKUs, the default freight template,
64 members each with a default address and a bearer token, and one hot SKU with stock that
cannot run out during a run. Deterministic (seeded) so runs compare.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TOP_CATEGORIES = (
    "母婴用品", "美妆护肤", "烘焙点心", "个护清洁", "食品饮料", "家居日用", "服饰鞋包", "数码配件",
)
CHILDREN_PER_CATEGORY = 3
PRODUCTS = 200
MEMBERS = 64
OFF_SHELF_EVERY = 20  # one product in 20 is off the shelf, as in a live shop
HOT_SKU_STOCK = 1_000_000_000  # orders and raw UPDATEs take one unit each: never sells out
COLOURS = ("红", "蓝", "白", "黑", "粉")
SIZES = ("S", "M", "L", "XL")
DESCRIPTION = "<p>精选原料，严格品控，安心之选。</p>" * 12  # ~250 characters of detail HTML


@dataclass(frozen=True)
class BenchData:
    """What the load phases need to address the data just created."""

    product_ids: tuple[int, ...]  # on-shelf products: the detail endpoint's random ids
    filter_category_id: int  # a top-level category, for ?category=
    hot_sku_id: int
    tokens: tuple[str, ...]  # one bearer token per member, in member order


def load_catalog(*, seed: int = 42) -> BenchData:
    """Create the catalog and the shoppers in the (empty, migrated) bench database."""
    from tests.factories import default_freight

    rng = random.Random(seed)
    default_freight()
    top_ids, leaf_ids = _categories()
    product_ids = _products_with_skus(rng, leaf_ids)
    hot_sku_id = _hot_sku(product_ids[0])
    return BenchData(product_ids=tuple(product_ids), filter_category_id=top_ids[0],
                     hot_sku_id=hot_sku_id, tokens=_shoppers())


def _categories() -> tuple[list[int], list[int]]:
    from catalog.models import Category

    tops = Category.objects.bulk_create(Category(name=name, sort=i) for i, name in enumerate(TOP_CATEGORIES))
    leaves = Category.objects.bulk_create(
        Category(parent=top, name=f"{top.name}{j + 1}", sort=j)
        for top in tops for j in range(CHILDREN_PER_CATEGORY)
    )
    return [c.pk for c in tops], [c.pk for c in leaves]


def _products_with_skus(rng: random.Random, leaf_ids: list[int]) -> list[int]:
    """Products, their SKUs, stock rows and the INITIAL movements that explain the stock.

    Returns the ids of the on-shelf products. Stock rows are written in bulk rather than through
    stock_adjust(): set-up speed, and the ledger still sums to `available`.
    """
    from catalog.models import Product, ProductTag, Sku, Stock, StockMovement

    sku_plans = [_sku_plan(rng) for _ in range(PRODUCTS)]
    products = Product.objects.bulk_create(
        Product(
            category_id=leaf_ids[i % len(leaf_ids)], name=f"商品{i:03d} {rng.choice(TOP_CATEGORIES)}精选",
            subtitle="限时优惠 · 正品保障", description=DESCRIPTION,
            tags=rng.sample(ProductTag.values, rng.randint(0, 2)), is_on_shelf=i % OFF_SHELF_EVERY != 1,
            min_price_fen=min(price for _, price, _ in plan), sales_count=rng.randint(0, 5000),
        )
        for i, plan in enumerate(sku_plans)
    )
    skus = Sku.objects.bulk_create(
        Sku(product=product, code=f"B{product.pk:05d}-{j}", specs=specs, price_fen=price,
            original_price_fen=price * 6 // 5, cost_fen=price // 2)
        for product, plan in zip(products, sku_plans, strict=True) for j, (specs, price, _) in enumerate(plan)
    )
    stocks = [units for plan in sku_plans for _, _, units in plan]
    Stock.objects.bulk_create(
        Stock(sku=sku, available=units) for sku, units in zip(skus, stocks, strict=True)
    )
    StockMovement.objects.bulk_create(
        StockMovement(sku=sku, delta=units, reason=StockMovement.Reason.INITIAL)
        for sku, units in zip(skus, stocks, strict=True) if units
    )
    return [p.pk for p in products if p.is_on_shelf]


def _sku_plan(rng: random.Random) -> list[tuple[dict[str, str], int, int]]:
    """2-4 SKUs of one product: (specs, price in fen, units in stock); a few are sold out."""
    base_price = rng.randrange(990, 29900, 100)
    plan = []
    for colour, size in rng.sample([(c, s) for c in COLOURS for s in SIZES], rng.randint(2, 4)):
        units = 0 if rng.random() < 0.1 else rng.randint(1, 500)
        plan.append(({"颜色": colour, "尺码": size}, base_price + rng.choice((0, 500, 1000)), units))
    return plan


def _hot_sku(product_id: int) -> int:
    """The first SKU of an on-shelf product, topped up so no run can sell it out."""
    from catalog.models import Sku, StockMovement
    from catalog.services import stock_adjust

    sku = Sku.objects.filter(product_id=product_id).order_by("id").first()
    assert sku is not None
    stock_adjust(sku=sku, delta=HOT_SKU_STOCK - sku.stock.available, reason=StockMovement.Reason.ADJUST,
                 note="bench: hot SKU")
    return sku.pk


def _shoppers() -> tuple[str, ...]:
    """MEMBERS members, each with a default address and a token issued the way login does."""
    from django.utils import timezone

    from members.services.identity import _token_issue
    from tests.factories import AddressFactory, MemberFactory

    tokens = []
    now = timezone.now()
    for _ in range(MEMBERS):
        member = MemberFactory()
        AddressFactory(member=member)
        token, _ = _token_issue(member=member, now=now)
        tokens.append(token)
    return tuple(tokens)
