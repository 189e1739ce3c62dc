"""The demo catalogue for search tests and the search-quality benchmark, without its pictures.

Categories, products, SKUs and stock from shop.demo.catalog.CATALOG and the demo synonyms, made
in bulk (a fraction of a second, where the demo loader draws 186 pictures), then indexed by the
same code the console's saves call. Sales follow the demo's shape: hot products sell more.
"""

from __future__ import annotations

import itertools

from catalog.models import Category, Product, SearchSynonym, Sku, Stock
from catalog.search.index import search_index_rebuild
from catalog.search.query import dictionary_reload
from shop.demo.catalog import CATALOG
from shop.demo.storefront import SYNONYMS


def demo_catalogue() -> dict[str, int]:
    """Create and index the demo catalogue; returns product key (NF01…) → product id."""
    ids: dict[str, int] = {}
    sort = 0
    for top_index, top in enumerate(CATALOG):
        parent = Category.objects.create(name=top.name, sort=top_index)
        for child_index, child in enumerate(top.children):
            category = Category.objects.create(parent=parent, name=child.name, sort=child_index)
            for demo in child.products:
                sort += 1
                sales = 3000 - sort * 10 if "hot" in demo.tags else 300 - sort * 2
                product = Product.objects.create(
                    category=category, name=demo.name, subtitle=demo.subtitle, tags=list(demo.tags),
                    is_on_shelf=demo.on_shelf, sort=sort, sales_count=max(sales, 0), sales_base=max(sales, 0))
                names = [name for name, _ in demo.specs]
                prices = [demo.prices] if isinstance(demo.prices, str) else list(demo.prices)
                skus = []
                for index, combo in enumerate(itertools.product(*(values for _, values in demo.specs))):
                    price = prices[min(demo.specs[0][1].index(combo[0]), len(prices) - 1)]
                    skus.append(Sku(product=product, code=f"S-{demo.key}-{index}",
                                    specs=dict(zip(names, combo, strict=True)), price_fen=int(float(price) * 100)))
                Sku.objects.bulk_create(skus)
                Stock.objects.bulk_create(Stock(sku=sku, available=50) for sku in skus)
                Product.objects.filter(pk=product.pk).update(min_price_fen=min(s.price_fen for s in skus))
                ids[demo.key] = product.pk
    SearchSynonym.objects.bulk_create(SearchSynonym(words=list(words)) for words in SYNONYMS)
    search_index_rebuild()
    dictionary_reload()
    return ids
