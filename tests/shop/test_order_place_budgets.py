"""Order placement runs a fixed, small number of statements: pricing reads what it needs in a few
queries whatever the cart, the response is built from the rows just written, and a flash-sale
refusal the read already shows costs no write.

Counted as production runs them: the test's SAVEPOINT / RELEASE pair stands for the transaction's
BEGIN / COMMIT, which Django does not log, so neither is counted.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import FlashItemFactory, SkuFactory

ONE_LINE_BUDGET = 10  # token, replay check, SKUs, buyer, 满减, coupons, freight; order + lines, audit, stock
TWENTY_LINE_EXTRA = 1  # the stock rows are locked in sku order first: one more statement, any size
FLASH_BUDGET = 15  # + the flash offer read, the flash writes and the expiry of the flash timeout


def _place(shopper, items, key):
    with CaptureQueriesContext(connection) as ctx:
        response = shopper.client.post("/api/v1/orders/", {"items": items}, format="json",
                                       HTTP_IDEMPOTENCY_KEY=key)
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return response, statements


def test_a_one_line_order_and_a_twenty_line_order_stay_within_their_budgets(shopper, freight):
    # given a warm process (one order placed already) and 20 SKUs in stock
    skus = [SkuFactory.create(stock=100) for _ in range(20)]
    _place(shopper, [{"sku_id": skus[0].pk, "quantity": 1}], "warm")

    # when the shopper places a one-line order and a twenty-line order
    one, one_statements = _place(shopper, [{"sku_id": skus[0].pk, "quantity": 1}], "one")
    twenty, twenty_statements = _place(shopper, [{"sku_id": s.pk, "quantity": 2} for s in skus], "twenty")

    # then both are placed within the budget, and the response shows what was written
    assert (one.status_code, twenty.status_code) == (201, 201)
    assert len(one_statements) <= ONE_LINE_BUDGET, one_statements
    assert len(twenty_statements) <= ONE_LINE_BUDGET + TWENTY_LINE_EXTRA, twenty_statements
    assert [line["sku_id"] for line in twenty.json()["lines"]] == sorted(s.pk for s in skus)
    assert twenty.json()["item_count"] == 40
    detail = shopper.client.get(f"/api/v1/orders/{twenty.json()['order_no']}/").json()
    assert {k: v for k, v in detail.items() if k != "status_label"} == {
        k: v for k, v in twenty.json().items() if k != "status_label"}


def test_a_flash_order_stays_within_its_budget_and_a_sold_out_item_costs_no_write(shopper, other_shopper, sku):
    item = FlashItemFactory.create(sku=sku, stock_total=1, per_member_limit=1)
    line = [{"sku_id": sku.pk, "quantity": 1, "flash_item_id": item.pk}]

    placed, statements = _place(shopper, line, "flash")
    refused, refused_statements = _place(other_shopper, line, "late")

    assert placed.status_code == 201
    assert len(statements) <= FLASH_BUDGET, statements
    assert (refused.status_code, refused.json()["code"]) == (409, "flash_sold_out")
    assert [s for s in refused_statements if not s.startswith("SELECT")] == []
