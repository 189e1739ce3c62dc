from __future__ import annotations

import pytest

from tests.factories import SkuFactory, default_freight


@pytest.fixture
def freight(db):
    return default_freight()


@pytest.fixture
def sku(db, freight):
    """A ¥99.00 SKU with 10 units on a shelf product."""
    return SkuFactory.create(price_fen=9900, stock=10)


@pytest.fixture
def cheap_sku(db, freight):
    """A ¥12.34 SKU with 100 units (below the free-freight threshold)."""
    return SkuFactory.create(price_fen=1234, stock=100)
