"""Search in the console: a product renamed is found under its new name at once; synonyms,
hot words and the report of searches that found nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Category, SearchSynonym
from catalog.search.history import search_record
from catalog.search.index import search_document_refresh
from catalog.search.query import product_search
from tests.admin.conftest import Catalog
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db


def _names(query: str) -> list[str]:
    return [p.name for p in product_search(query=query).products]


def _product_post(catalog: Catalog, **fields: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": str(catalog.child.pk), "name": catalog.product.name, "subtitle": "", "description": "",
        "freight_template": "", "sort": "0", "is_on_shelf": "on",
        "skus-TOTAL_FORMS": "2", "skus-INITIAL_FORMS": "2", "skus-MIN_NUM_FORMS": "0", "skus-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0", "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000", **fields,
    }
    for index, sku in enumerate([catalog.red, catalog.blue]):
        data.update({f"skus-{index}-id": str(sku.pk), f"skus-{index}-product": str(catalog.product.pk),
                     f"skus-{index}-code": sku.code, f"skus-{index}-specs": f"段位:{index + 1}段",
                     f"skus-{index}-price_fen": "199", f"skus-{index}-original_price_fen": "",
                     f"skus-{index}-cost_fen": "", f"skus-{index}-weight_g": "0", f"skus-{index}-is_active": "on"})
    return data


def test_a_product_renamed_in_the_console_is_found_under_its_new_name_at_once(admin_client, catalog):
    search_document_refresh(product_ids=[catalog.product.pk])
    assert _names("有机奶粉") == ["有机奶粉"]
    url = reverse("admin:catalog_product_change", args=[catalog.product.pk])

    response = admin_client.post(url, _product_post(catalog, name="星空 婴儿米粉"))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert _names("米粉") == ["星空 婴儿米粉"]
    assert _names("mifen") == ["星空 婴儿米粉"]
    assert _names("有机") == []


def test_a_category_renamed_in_the_console_renames_its_products_words(admin_client, catalog):
    search_document_refresh(product_ids=[catalog.product.pk])
    url = reverse("admin:catalog_category_change", args=[catalog.parent.pk])
    data = {"name": "宝宝用品", "parent": "", "sort": "0", "is_active": "on",
            "children-TOTAL_FORMS": "1", "children-INITIAL_FORMS": "1", "children-MIN_NUM_FORMS": "0",
            "children-MAX_NUM_FORMS": "1000", "children-0-id": str(catalog.child.pk),
            "children-0-parent": str(catalog.parent.pk), "children-0-name": "奶粉", "children-0-sort": "0",
            "children-0-is_active": "on"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Category.objects.get(pk=catalog.parent.pk).name == "宝宝用品"
    assert _names("宝宝用品") == ["有机奶粉"]


def test_a_synonym_group_is_typed_as_words_separated_any_way(admin_client, catalog):
    response = admin_client.post(reverse("admin:catalog_searchsynonym_add"),
                                 {"words": "奶粉，配方奶、Milk", "is_active": "on", "note": ""})
    refused = admin_client.post(reverse("admin:catalog_searchsynonym_add"),
                                {"words": "奶粉", "is_active": "on", "note": ""})

    assert response.status_code == 302
    assert SearchSynonym.objects.get().words == ["奶粉", "配方奶", "milk"]
    assert "请至少填写两个不同的词" in page(refused)


def test_the_no_result_report_links_to_adding_a_synonym(admin_client):
    search_record(query="尿不湿", result_count=0, now=timezone.now())
    search_record(query="奶粉", result_count=3, now=timezone.now())

    html = page(admin_client.get(reverse("admin:catalog_searchquerystat_changelist"), {"result": "none", "days": "7"}))

    assert "尿不湿" in html and "奶粉" not in html
    assert "添加同义词" in html and "words=%E5%B0%BF" in html
    added = page(admin_client.get(reverse("admin:catalog_searchsynonym_add"), {"words": "尿不湿"}))
    assert 'value="尿不湿"' in added
