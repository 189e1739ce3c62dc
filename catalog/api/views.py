"""Browsing: the category tree, the product list (filter, search, order, paginate); the fields of
a product page (its view, which adds reviews and early access, is shop.api.products)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors
from catalog.models import Product, ProductTag
from catalog.search.query import product_search_ids
from core.api.cache import cached_public_get
from core.api.media import ImageUrlField, media_url
from core.money import yuan

MAX_BIGINT = 2**63 - 1


class CategoryChildOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = ImageUrlField(source="icon", help_text="分类图标（绝对地址）；没有为 null")


class CategoryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = ImageUrlField(source="icon", help_text="分类图标（绝对地址）；没有为 null")
    children = serializers.SerializerMethodField()

    @extend_schema_field(CategoryChildOutput(many=True))
    def get_children(self, obj: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in CategoryChildOutput(getattr(obj, "active_children", []), many=True,
                                                          context=self.context).data]


class CategoryTreeView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="categories_tree",
                   description="商品分类树（两级），含分类图标。", responses={200: CategoryOutput(many=True)})
    @cached_public_get
    def get(self, request: Request) -> Response:
        return Response(CategoryOutput(selectors.category_tree(), many=True,
                                       context={"request": request}).data)


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
class IdOrFenFilter(django_filters.NumberFilter):
    """A whole number from 0 to 2^63 - 1 (an id, an amount in fen): a decimal or a number past a
    bigint is refused as invalid input rather than rounded or sent to the database."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=0, max_value=MAX_BIGINT, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^[^\u0000]*$"})
class TextFilter(django_filters.CharFilter):
    """Free text, which Django's form field refuses when it holds a NUL character."""


class ProductFilter(django_filters.FilterSet):
    category = IdOrFenFilter(method="filter_category", label="分类ID（含子分类）")
    price_min = IdOrFenFilter(field_name="min_price_fen", lookup_expr="gte", label="最低价（分）")
    price_max = IdOrFenFilter(field_name="min_price_fen", lookup_expr="lte", label="最高价（分）")
    tag = django_filters.ChoiceFilter(choices=ProductTag.choices, method="filter_tag", label="标签")
    q = TextFilter(method="filter_keyword",
                   label="关键词（分词、拼音、同义词、错别字；按相关度排序请用 /search/products）")
    ordering = django_filters.OrderingFilter(
        fields=(("sales_count", "sales"), ("min_price_fen", "price"), ("created_at", "newest")),
        label="排序：sales / -sales / price / -price / newest / -newest",
    )

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_category(self, queryset: QuerySet[Product], name: str, value: int) -> QuerySet[Product]:
        return queryset.filter(Q(category_id=value) | Q(category__parent_id=value))

    def filter_tag(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        return queryset.filter(tags__contains=[value])

    def filter_keyword(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        """Products the search finds (words, pinyin, synonyms, typos: catalog.search), or whose name
        or subtitle holds the text as typed. Ranked results are /search/products."""
        value = value.strip()[:50]
        if not value:
            return queryset
        return queryset.filter(Q(pk__in=product_search_ids(query=value)) | Q(name__icontains=value)
                               | Q(subtitle__icontains=value))


class ProductCardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    subtitle = serializers.CharField()
    image_url = ImageUrlField(source="main_image", help_text="主图（绝对地址）；没有为 null")
    tags = serializers.ListField(child=serializers.CharField())
    price_fen = serializers.IntegerField(source="min_price_fen")
    price_yuan = serializers.SerializerMethodField()
    sales_count = serializers.IntegerField()
    in_stock = serializers.BooleanField()

    def get_price_yuan(self, obj: Product) -> str:
        return yuan(obj.min_price_fen)


class ProductListView(generics.ListAPIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = ProductCardOutput
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list().order_by("sort", "-id")

    @extend_schema(operation_id="products_list",
                   description="商品列表：按分类、价格、标签、关键词筛选，按销量、价格、上新排序。")
    @cached_public_get
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


STOCK_STATES = [("in_stock", "有货"), ("low_stock", "仅剩少量"), ("sold_out", "已售罄")]


class SkuOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    specs = serializers.DictField(child=serializers.CharField())
    price_fen = serializers.IntegerField()
    original_price_fen = serializers.IntegerField()
    stock_state = serializers.SerializerMethodField(help_text="in_stock / low_stock / sold_out")
    available = serializers.SerializerMethodField()

    def get_available(self, obj: Any) -> int:
        return obj.stock.available if hasattr(obj, "stock") else 0

    @extend_schema_field(serializers.ChoiceField(choices=STOCK_STATES))
    def get_stock_state(self, obj: Any) -> str:
        available = self.get_available(obj)
        return "sold_out" if available <= 0 else "low_stock" if available < selectors.LOW_STOCK_BELOW else "in_stock"


class ProductOutput(serializers.Serializer):
    """The catalog's part of a product page; shop.api.products adds the reviews and early access."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    subtitle = serializers.CharField()
    description = serializers.CharField()
    category = serializers.SerializerMethodField()
    image_url = ImageUrlField(source="main_image", help_text="主图（绝对地址）；没有为 null")
    image_urls = serializers.SerializerMethodField(help_text="详情图（绝对地址），按顺序")
    tags = serializers.ListField(child=serializers.CharField())
    price_fen = serializers.IntegerField(source="min_price_fen")
    sales_count = serializers.IntegerField()
    spec_options = serializers.SerializerMethodField(help_text="规格名 → 可选值，按出现顺序")
    skus = SkuOutput(source="active_skus", many=True)

    def get_category(self, obj: Product) -> dict[str, Any]:
        return {"id": obj.category_id, "name": obj.category.name}

    def get_image_urls(self, obj: Product) -> list[str]:
        request = self.context.get("request")
        return [url for img in obj.images.all() if (url := media_url(img.image, request=request))]

    def get_spec_options(self, obj: Any) -> dict[str, list[str]]:
        options: dict[str, list[str]] = {}
        for sku in obj.active_skus:
            for name, value in (sku.specs or {}).items():
                values = options.setdefault(name, [])
                if value not in values:
                    values.append(value)
        return options
