"""List endpoints run a number of queries that does not grow with page size."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.models import OrderStatus
from shop.services.orders import CheckoutInput, LineInput, order_place
from tests.factories import CategoryFactory, SkuFactory


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def test_product_list_queries_do_not_grow_with_page_size(api_client, freight):
    category = CategoryFactory.create()
    for i in range(40):
        SkuFactory.create(product__category=category, stock=5, code=f"Q{i:04d}")

    small = count_queries(api_client, "/api/v1/products/?page_size=2")
    large = count_queries(api_client, "/api/v1/products/?page_size=40")

    assert small == large
    assert large <= 3  # count + page (+ nothing per row)


def test_order_list_queries_do_not_grow_with_page_size(shopper, freight):
    skus = [SkuFactory.create(stock=100) for _ in range(3)]
    for i in range(25):
        items = tuple(LineInput(s.pk, 1) for s in skus[: 1 + i % 3])
        order_place(member=shopper.member, data=CheckoutInput(items=items))

    small = count_queries(shopper.client, "/api/v1/orders/?page_size=2")
    large = count_queries(shopper.client, "/api/v1/orders/?page_size=25")
    filtered = count_queries(shopper.client, f"/api/v1/orders/?status={OrderStatus.PENDING_PAYMENT}&page_size=25")

    assert small == large == filtered
    assert large <= 4  # token + count + page + lines


def test_product_detail_and_categories_have_fixed_budgets(api_client, freight):
    parent = CategoryFactory.create()
    for _ in range(5):
        CategoryFactory.create(parent=parent)
    product = SkuFactory.create(stock=3).product
    for i in range(6):
        SkuFactory.create(product=product, code=f"D{i}", specs={"颜色": f"色{i}"}, stock=1)

    # product, SKUs, images: the rating summary is on the product row
    assert count_queries(api_client, f"/api/v1/products/{product.pk}/") <= 3
    assert count_queries(api_client, "/api/v1/categories/") <= 2
