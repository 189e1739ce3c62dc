"""Product search for the mini-program's search page.

    GET    /api/v1/search/products?q=…     ranked, highlighted results (filters, sort, pages)
    GET    /api/v1/search/suggest?q=…      as-you-type suggestions
    GET    /api/v1/search/hot              热门搜索: the operators' pinned words, then popular queries
    GET    /api/v1/search/recent           the member's recent searches
    DELETE /api/v1/search/recent           clear them

Anonymous shoppers may search; with a bearer token the query also goes to the member's recent
searches. The first page of a search counts the query (catalog.search.history), which feeds the
hot words and the console's 无结果搜索 report. The view lives in shop, the storefront's top
layer, because it joins the catalog's search with the member's history.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.views import MAX_BIGINT, ProductCardOutput
from catalog.search import history
from catalog.search.query import (
    SORT_LABELS,
    SearchFilters,
    SearchSort,
    SuggestionKind,
    highlight,
    product_search,
    search_suggestions,
)
from catalog.search.text import MAX_QUERY_CHARS
from core.api.pagination import PageNumberPagination
from core.api.schema import INVALID_INPUT, errors
from members.selectors import recent_searches_for_member
from members.services.searches import recent_search_record, recent_searches_clear


def _member(request: Request) -> Any:
    user: Any = request.user
    return user.member if user is not None and getattr(user, "is_authenticated", False) else None


class SearchParams(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="关键词：中文、拼音全拼或首字母（nf → 奶粉），容错错别字；"
                                        f"只取前 {MAX_QUERY_CHARS} 个字符")
    category = serializers.IntegerField(required=False, min_value=0, max_value=MAX_BIGINT,
                                        help_text="分类 ID（含子分类）")
    price_min = serializers.IntegerField(required=False, min_value=0, max_value=MAX_BIGINT, help_text="最低价（分）")
    price_max = serializers.IntegerField(required=False, min_value=0, max_value=MAX_BIGINT, help_text="最高价（分）")
    in_stock = serializers.BooleanField(required=False, default=False, help_text="只看有货")
    sort = serializers.ChoiceField(choices=[(s.value, SORT_LABELS[s]) for s in SearchSort], required=False,
                                   default=SearchSort.RELEVANCE.value,
                                   help_text="relevance 综合（相关度，兼顾销量与库存）/ sales 销量 / price 价格升序 / "
                                             "-price 价格降序 / newest 新品")


class SearchCardOutput(ProductCardOutput):
    name_highlight = serializers.SerializerMethodField(help_text="商品名，命中的词以 <em> 包裹（其余已 HTML 转义）")
    subtitle_highlight = serializers.SerializerMethodField(help_text="副标题，命中的词以 <em> 包裹")

    def get_name_highlight(self, obj: Any) -> str:
        return highlight(obj.name, self.context["marks"])

    def get_subtitle_highlight(self, obj: Any) -> str:
        return highlight(obj.subtitle, self.context["marks"])


class SearchPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    query = serializers.CharField(help_text="实际搜索的词（规范化后）")
    every_word = serializers.BooleanField(help_text="false：没有商品包含全部关键词，结果只包含其中部分词")
    corrections = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="词库里没有的词 → 按拼音或相似度纠正后搜索的词（如 奶分 → [奶粉]），可提示“已为你搜索…”")
    results = SearchCardOutput(many=True)


class ProductSearchView(APIView):
    permission_classes = [AllowAny]
    pagination_class = PageNumberPagination

    @errors(INVALID_INPUT)
    @extend_schema(operation_id="search_products",
                   description=("商品搜索：中文分词、全拼与首字母（naifen、nf）、错别字纠正与运营"
                                "同义词；按相关度（兼顾销量与库存）或指定方式排序，可按分类、价格区间、是"
                                "否有货筛选；名称与副标题的命中词以 <em> 标出。登录会员的搜索计入最"
                                "近搜索。"),
                   parameters=[SearchParams],
                   responses={200: SearchPageOutput})
    def get(self, request: Request) -> Response:
        params = SearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = SearchFilters(category_id=data.get("category"), price_min_fen=data.get("price_min"),
                                price_max_fen=data.get("price_max"), in_stock_only=data["in_stock"])
        result = product_search(query=data.get("q", ""), filters=filters, sort=SearchSort(data["sort"]))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(result.products, request, view=self)
        assert paginator.page is not None  # paginate_queryset raised otherwise
        count = paginator.page.paginator.count
        query = result.parsed.text
        # Counted once per search (its first page), and only when it had words to search for.
        if not result.parsed.is_empty and paginator.page.number == 1:
            history.search_record(query=query, result_count=count)
            member = _member(request)
            if member is not None:
                recent_search_record(member=member, query=query)
        body = {
            "count": count, "next": paginator.get_next_link(), "previous": paginator.get_previous_link(),
            "query": query, "every_word": result.every_word, "corrections": result.parsed.corrections,
            "results": page,
        }
        context = {"request": request, "marks": result.parsed.marks}
        return Response(SearchPageOutput(body, context=context).data)


class SuggestParams(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="已输入的文字或拼音")


class SuggestionOutput(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.ChoiceField(choices=[k.value for k in SuggestionKind], help_text="word 关键词 / product 商品名")


class SuggestOutput(serializers.Serializer):
    suggestions = SuggestionOutput(many=True)


class SearchSuggestView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @errors(INVALID_INPUT)
    @extend_schema(operation_id="search_suggest",
                   description=("输入联想：按已输入的文字或拼音给出候选词与商品，随输随查。"),
                   parameters=[SuggestParams], responses={200: SuggestOutput})
    def get(self, request: Request) -> Response:
        params = SuggestParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        suggestions = search_suggestions(prefix=params.validated_data.get("q", ""))
        return Response(SuggestOutput({"suggestions": suggestions}).data)


class HotWordOutput(serializers.Serializer):
    word = serializers.CharField()
    pinned = serializers.BooleanField(help_text="运营置顶的热词")
    highlight = serializers.BooleanField(help_text="醒目显示")


class HotWordsOutput(serializers.Serializer):
    words = HotWordOutput(many=True)


class SearchHotView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="search_hot_words",
                   description=("热搜词：运营置顶的在前，其余按近期搜索次数排列。"),
                   responses={200: HotWordsOutput})
    def get(self, request: Request) -> Response:
        return Response(HotWordsOutput({"words": history.search_hot_words(now=timezone.now())}).data)


class RecentSearchesOutput(serializers.Serializer):
    queries = serializers.ListField(child=serializers.CharField(), help_text="最近搜索，最新的在前")


class RecentSearchView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="search_recent",
                   description=("我的最近搜索，最新在前（最多 20 条）。"),
                   responses={200: RecentSearchesOutput})
    def get(self, request: Request) -> Response:
        return Response({"queries": recent_searches_for_member(member=_member(request))})

    @extend_schema(operation_id="search_recent_clear",
                   description=("清空我的最近搜索，返回清空后的（空）列表。"),
                   responses={200: RecentSearchesOutput})
    def delete(self, request: Request) -> Response:
        recent_searches_clear(member=_member(request))
        return Response({"queries": []})


urlpatterns: list[URLPattern] = [
    path("search/products", ProductSearchView.as_view(), name="search-products"),
    path("search/suggest", SearchSuggestView.as_view(), name="search-suggest"),
    path("search/hot", SearchHotView.as_view(), name="search-hot"),
    path("search/recent", RecentSearchView.as_view(), name="search-recent"),
]
