"""The catalog's short response cache: repeat reads skip the database; orders never trust it."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from tests.factories import SkuFactory


@pytest.fixture
def cached(settings):
    settings.CATALOG_CACHE_SECONDS = 30
    caches["catalog"].clear()
    yield
    caches["catalog"].clear()


def get(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return response.json(), len(ctx.captured_queries)


def test_repeat_reads_are_served_from_the_cache(cached, api_client, freight):
    sku = SkuFactory.create(stock=3)

    first, first_queries = get(api_client, "/api/v1/products/")
    again, again_queries = get(api_client, "/api/v1/products/")
    other, other_queries = get(api_client, "/api/v1/products/?ordering=-sales")
    detail, _ = get(api_client, f"/api/v1/products/{sku.product_id}/")
    detail_again, detail_queries = get(api_client, f"/api/v1/products/{sku.product_id}/")

    assert first_queries > 0 and other_queries > 0
    assert again_queries == detail_queries == 0
    assert again == first and detail_again == detail


def test_an_order_is_checked_against_the_database_not_the_cache(cached, api_client, shopper, freight):
    sku = SkuFactory.create(stock=3)
    listed, _ = get(api_client, "/api/v1/products/")
    Product.objects.filter(pk=sku.product_id).update(is_on_shelf=False)

    still_listed, _ = get(api_client, "/api/v1/products/")  # stale for at most the TTL
    response = shopper.client.post("/api/v1/orders/", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                   format="json")

    assert [p["id"] for p in still_listed["results"]] == [p["id"] for p in listed["results"]]
    assert response.status_code == 409
    assert response.json()["code"] == "product_unavailable"
