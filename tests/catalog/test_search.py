"""Product search over the demo catalogue: Chinese words, pinyin, initials, typos, synonyms,
ranking, filters, highlighting, suggestions, hot words and recent searches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product, SearchHotWord, SearchQueryStat, SearchSynonym, Stock
from catalog.search.history import search_hot_words, search_record, search_zero_result_report
from catalog.search.index import search_document_refresh
from catalog.search.query import SearchFilters, SearchSort, highlight, product_search, search_suggestions
from members.models import RecentSearch
from tests.catalog.support_search import demo_catalogue
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db

MILK = {"NF01", "NF02", "NF03", "NF04", "NF05"}


@pytest.fixture
def demo() -> dict[str, int]:
    return demo_catalogue()


def _keys(demo: dict[str, int], query: str, **kwargs) -> list[str]:
    by_id = {pk: key for key, pk in demo.items()}
    return [by_id[p.pk] for p in product_search(query=query, **kwargs).products[:10]]


def test_pinyin_initials_typo_and_synonym_find_the_right_products_first(demo):
    # given the demo catalogue, indexed, with the demo's synonym groups (纸尿裤 = 尿不湿 = 尿片)
    # when a shopper types pinyin, initials, a homophone typo or a synonym
    # then the milk powders come first for the first three, the 纸尿裤 for the synonym
    for query in ("nf", "naifen", "奶分"):
        found = _keys(demo, query)
        assert set(found[:5]) == MILK, (query, found)
    assert _keys(demo, "尿不湿")[0] == "NK01"
    # a typed character typo (库 for 裤) and a slipped pinyin are corrected as well
    assert _keys(demo, "纸尿库")[0] == "NK01"
    assert set(_keys(demo, "naifeng")[:5]) == MILK


def test_the_query_says_what_a_typo_was_read_as(demo):
    result = product_search(query="奶分")

    assert result.parsed.corrections == {"奶分": ["奶粉"]}
    assert result.every_word is True


def test_off_shelf_products_are_never_found_and_sold_out_ones_rank_below(demo):
    # 睡眠面膜 (MM03) is off the shelf in the demo
    assert "MM03" not in _keys(demo, "睡眠面膜")
    # when the best 面膜 sells out, it drops below the others but is still shown
    first = _keys(demo, "面膜")[0]
    Stock.objects.filter(sku__product_id=demo[first]).update(available=0)
    after = _keys(demo, "面膜")
    assert after[0] != first and first in after


def test_filters_and_sorting(demo):
    milk_category = Product.objects.get(pk=demo["NF01"]).category_id

    in_category = _keys(demo, "贝乐滋", filters=SearchFilters(category_id=milk_category))
    cheap = _keys(demo, "奶粉", filters=SearchFilters(price_max_fen=13000))
    by_price = list(product_search(query="奶粉", sort=SearchSort.PRICE).products.values_list("min_price_fen",
                                                                                             flat=True))
    Stock.objects.filter(sku__product_id=demo["NF05"]).update(available=0)
    in_stock = _keys(demo, "奶粉", filters=SearchFilters(in_stock_only=True))

    assert set(in_category) == {"NF01", "NF02", "NF04", "NF05"}
    assert set(cheap) == {"NF01", "NF02", "NF05"}  # 128, 125 and 29.90 yuan
    assert by_price == sorted(by_price)
    assert "NF05" not in in_stock and len(in_stock) == 4


def test_a_query_with_no_product_having_every_word_falls_back_to_any_word(demo):
    result = product_search(query="奶粉 保温杯")

    keys = _keys(demo, "奶粉 保温杯")
    assert result.every_word is False
    assert "CJ02" in keys and MILK & set(keys)


def test_synonyms_an_operator_adds_work_at_once(demo):
    assert _keys(demo, "零嘴") == []

    SearchSynonym.objects.create(words=["零嘴", "坚果"])

    assert set(_keys(demo, "零嘴")[:4]) == {"JG01", "JG02", "JG03", "JG04"}


def test_a_renamed_product_is_found_under_its_new_name_once_refreshed(demo):
    Product.objects.filter(pk=demo["CJ02"]).update(name="厨匠 钛合金焖烧壶")
    search_document_refresh(product_ids=[demo["CJ02"]])

    assert _keys(demo, "焖烧壶") == ["CJ02"]
    assert _keys(demo, "menshaohu")[:1] == ["CJ02"]


def test_hostile_input_is_matched_as_words_never_as_tsquery_syntax(demo):
    for query in ("奶粉 & | ! ( ) :* '", "'; DROP TABLE x; --", "\\", "  ", "a" * 500, "🍼奶粉"):
        list(product_search(query=query).products[:5])  # no error from the database


def test_highlight_escapes_html_and_marks_the_words():
    assert highlight("<b>贝乐滋</b> 奶粉", {"奶粉", "贝乐"}) == "&lt;b&gt;<em>贝乐</em>滋&lt;/b&gt; <em>奶粉</em>"


def test_search_reads_a_fixed_number_of_queries(demo):
    product_search(query="")  # the process loads the catalogue's words once a minute, not per search
    with CaptureQueriesContext(connection) as few:
        list(product_search(query="奶粉").products[:20])
    with CaptureQueriesContext(connection) as many:
        list(product_search(query="奶分 尿不湿 面膜").products[:20])

    assert len(few.captured_queries) <= 6
    assert len(many.captured_queries) <= 12


def test_suggestions_complete_chinese_pinyin_and_initials(demo):
    assert search_suggestions(prefix="奶")[0].text == "奶粉"
    assert "奶粉" in [s.text for s in search_suggestions(prefix="naif")]
    assert "面膜" in [s.text for s in search_suggestions(prefix="mm")]
    assert any(s.kind == "product" and "保温杯" in s.text for s in search_suggestions(prefix="保温杯"))


def test_hot_words_put_pins_first_then_popular_queries_that_found_something(db):
    now = timezone.now()
    SearchHotWord.objects.create(word="年货", sort=0, highlight=True)
    for _ in range(5):
        search_record(query="坚果", result_count=4, now=now)
    for _ in range(9):
        search_record(query="不存在的东西", result_count=0, now=now)
    search_record(query="奶粉", result_count=5, now=now - dt.timedelta(days=30))

    words = search_hot_words(now=now)

    assert [(w.word, w.pinned) for w in words] == [("年货", True), ("坚果", False)]
    report = list(search_zero_result_report(since=timezone.localdate(now)))
    assert [(r["query"], r["total"], r["zero"]) for r in report] == [("不存在的东西", 9, 9)]
    assert SearchQueryStat.objects.get(query="坚果").searches == 5


def test_search_api_highlights_counts_and_remembers_the_members_searches(demo, api_client):
    shopper = make_shopper()

    body = shopper.client.get("/api/v1/search/products", {"q": "奶分", "page_size": "3"}).json()
    anonymous = api_client.get("/api/v1/search/products", {"q": "尿不湿"}).json()
    shopper.client.get("/api/v1/search/products", {"q": "面膜"})
    shopper.client.get("/api/v1/search/products", {"q": "奶分", "page": "2", "page_size": "3"})

    assert body["count"] == 5 and len(body["results"]) == 3
    assert body["corrections"] == {"奶分": ["奶粉"]}
    assert "<em>奶粉</em>" in body["results"][0]["name_highlight"]
    assert anonymous["results"][0]["name"] == "云朵柔 超薄透气纸尿裤"
    recent = shopper.client.get("/api/v1/search/recent").json()
    assert recent == {"queries": ["面膜", "奶分"]}  # the second page does not count again
    assert SearchQueryStat.objects.get(query="奶分").searches == 1
    assert shopper.client.delete("/api/v1/search/recent").json() == {"queries": []}
    assert not RecentSearch.objects.filter(member=shopper.member).exists()
    assert api_client.get("/api/v1/search/recent").status_code == 401


def test_product_list_q_uses_the_search(demo, api_client):
    body = api_client.get("/api/v1/products/", {"q": "naifen"}).json()

    assert {p["id"] for p in body["results"]} == {demo[k] for k in MILK}


def test_search_api_refuses_bad_parameters(demo, api_client):
    response = api_client.get("/api/v1/search/products", {"sort": "cheapest", "price_min": "-1"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
