"""The stock service: the ledger always explains the number, under concurrency too."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Sum

from catalog.errors import InsufficientStock
from catalog.models import Stock, StockMovement
from catalog.services import stock_adjust, stock_set
from shop.services.orders import CheckoutInput, LineInput, order_place
from tests.concurrency import run_concurrently
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper


def ledger(sku) -> int:
    return StockMovement.objects.filter(sku=sku).aggregate(s=Sum("delta"))["s"] or 0


def test_removing_more_than_available_is_refused_and_changes_nothing(freight):
    sku = SkuFactory.create(stock=3)
    with pytest.raises(InsufficientStock):
        stock_adjust(sku=sku, delta=-4, reason=StockMovement.Reason.ADJUST)
    assert Stock.objects.get(sku=sku).available == 3 == ledger(sku)


def test_stock_set_records_the_difference(freight, admin_user):
    sku = SkuFactory.create(stock=3)
    with transaction.atomic():
        stock_set(sku=sku, target=10, reason=StockMovement.Reason.IMPORT, operator=admin_user, note="盘点")
    movement = StockMovement.objects.filter(sku=sku).latest("id")
    assert (movement.delta, movement.reason, movement.operator) == (7, "import", admin_user)
    assert Stock.objects.get(sku=sku).available == 10 == ledger(sku)


@pytest.mark.django_db(transaction=True)
def test_ledger_matches_stock_when_imports_race_orders():
    default_freight()
    sku = SkuFactory.create(stock=50)
    shoppers = [make_shopper() for _ in range(16)]

    def work(i: int):
        if i % 4 == 0:
            with transaction.atomic():
                return stock_set(sku=sku, target=40, reason=StockMovement.Reason.IMPORT)
        return order_place(member=shoppers[i].member, data=CheckoutInput(items=(LineInput(sku.pk, 1),)))

    results = run_concurrently(work, 16)

    assert not [r for r in results if isinstance(r, Exception)]
    assert Stock.objects.get(sku=sku).available == ledger(sku) >= 0
