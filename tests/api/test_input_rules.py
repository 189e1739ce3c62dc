"""The input rules the schema states, at their edges: JSON types taken as they are, pages as numbers,
an empty query parameter as an absent one, Idempotency-Key as visible ASCII."""

from __future__ import annotations

import pytest

from members.models import Address
from tests.builders import placed_order
from tests.factories import SkuFactory, default_freight

ADDRESS = {"receiver_name": "李四", "phone": "13800138000", "province": "浙江省", "city": "杭州市",
           "district": "西湖区", "detail": "文一路 1 号"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("city", 0, "须为字符串"),
    ("is_default", 0, "须为 true 或 false"),
    ("is_default", "true", "须为 true 或 false"),
])
def test_a_json_value_of_another_type_is_refused_not_coerced(shopper, field, value, message):
    before = Address.objects.count()

    response = shopper.client.post("/api/v1/addresses/", {**ADDRESS, field: value}, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_input", "message": "输入有误", "detail": {field: [message]}}
    assert Address.objects.count() == before


def test_nested_values_are_checked_too(shopper):
    response = shopper.client.post("/api/v1/checkout/preview",
                                   {"items": [{"sku_id": "12", "quantity": 1}, {"sku_id": 12, "quantity": 1.0}]},
                                   format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {"items": [{"sku_id": ["须为整数"]}, {}]}


@pytest.mark.parametrize(("query", "code"), [
    ("page=abc", "invalid_page"), ("page=0", "invalid_page"), ("page=1.5", "invalid_page"),
    ("page_size=0", "invalid_page_size"), ("page_size=101", "invalid_page_size"), ("page_size=x", "invalid_page_size"),
])
def test_a_malformed_page_is_400(shopper, query, code):
    response = shopper.client.get(f"/api/v1/orders/?{query}")

    assert (response.status_code, response.json()["code"]) == (400, code)


def test_an_empty_query_parameter_is_an_absent_one(shopper):
    default_freight()
    placed_order(member=shopper.member, lines=[(SkuFactory.create(stock=5), 1)])

    answers = [shopper.client.get(f"/api/v1/orders/?{query}") for query in ("page=&page_size=&status=", "")]

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["count"] == 1


@pytest.mark.parametrize("key", ["a key", " key", "键", "k" * 65, ""])
def test_an_idempotency_key_is_1_to_64_visible_ascii_characters(shopper, key):
    response = shopper.client.post("/api/v1/orders/NOPE/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
