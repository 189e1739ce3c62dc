"""Catalog console: categories, products with their SKUs and images, stock (read-only + adjust)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.forms import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.module_loading import import_string
from import_export.admin import ImportExportMixin

from catalog.admin.forms import CategoryForm, ProductForm, ProductImageForm, SkuForm, StockAdjustForm
from catalog.models import Category, Product, ProductImage, Sku, StockMovement
from catalog.resources import SkuResource
from catalog.search.index import category_product_ids, search_document_refresh
from catalog.selectors import LOW_STOCK_BELOW, sku_low_stock_q
from catalog.services import product_refresh_denormalised, product_set_shelf, stock_adjust, stock_ensure_row
from catalog.specs import specs_to_text
from core.admin import NO_CAPTION, ExportFieldsForm, ReadOnlyAdminMixin, money_display, request_operator
from core.errors import DomainError
from core.resources import FILE_FORMATS

# ---------------------------------------------------------------------------------------------
# Categories


class ParentCategoryFilter(admin.SimpleListFilter):
    title = "上级分类"
    parameter_name = "parent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        top = Category.objects.filter(parent__isnull=True).order_by("sort", "id")
        return [("top", "（一级分类）"), *((str(c.pk), c.name) for c in top)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value():
            return queryset.filter(parent_id=self.value())
        return queryset


class ChildCategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    form = CategoryForm
    fields = ["name", "icon", "sort", "is_active"]
    extra = 1
    verbose_name = "子分类"
    verbose_name_plural = "子分类"
    show_change_link = True
    classes = [NO_CAPTION]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ["name", "parent", "sort", "is_active", "product_count"]
    list_display_links = ["name"]
    list_editable = ["sort", "is_active"]
    list_filter = [ParentCategoryFilter, "is_active"]
    list_select_related = ["parent"]
    search_fields = ["name"]
    inlines = [ChildCategoryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_products=Count("products"))

    @admin.display(description="商品数", ordering="_products")
    def product_count(self, obj: Category) -> int:
        return obj._products  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Category names are searchable words of their products (and of their children's).
        search_document_refresh(product_ids=category_product_ids(category=form.instance))

    def get_inlines(self, request: HttpRequest, obj: Category | None) -> list[Any]:
        # Children hang only under a top-level category: there is no third level.
        if obj is not None and obj.parent_id:
            return []
        return list(super().get_inlines(request, obj))


# ---------------------------------------------------------------------------------------------
# Products


def tier_choices() -> list[tuple[int, str]]:
    """(level, name) of the member tiers, lowest first, for a product's early-access level.

    The catalog knows nothing of members: config names the reader (settings.CATALOG_TIER_CHOICES).
    """
    reader: Callable[[], list[tuple[int, str]]] = import_string(settings.CATALOG_TIER_CHOICES)
    return reader()


def _thumbnail(url: str | None, size: int = 48) -> str:
    if not url:
        return format_html('<span class="mall-thumb mall-thumb-empty" style="width:{0}px;height:{0}px">'
                           "无图</span>", size)
    return format_html('<img src="{}" class="mall-thumb" width="{}" height="{}" alt="" loading="lazy">',
                       url, size, size)


def _stock_adjust_link(sku: Sku) -> str:
    url = reverse("admin:catalog_sku_adjust_stock", args=[sku.pk])
    return format_html('<a href="{}" class="mall-button-link">调整库存</a>', url)


class SkuFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        live = [f for f in self.forms
                if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")]
        specs = [specs_to_text(f.cleaned_data.get("specs")) for f in live]
        duplicates = sorted({s or "（空）" for s in specs if specs.count(s) > 1})
        if duplicates:
            # Two SKUs with the same specs could not be told apart in the mini-program's picker.
            raise ValidationError(f"规格重复：{'、'.join(duplicates)}，同一商品的 SKU 规格必须不同")


class SkuInline(admin.TabularInline):
    model = Sku
    form = SkuForm
    formset = SkuFormSet
    extra = 0
    classes = [NO_CAPTION]
    fields = ["code", "specs", "price_fen", "original_price_fen", "cost_fen", "weight_g", "is_active",
              "stock_available", "initial_stock", "stock_actions"]
    readonly_fields = ["stock_available", "stock_actions"]

    def get_extra(self, request: HttpRequest, obj: Product | None = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("stock")

    @admin.display(description="库存")
    def stock_available(self, sku: Sku) -> str:
        if not sku.pk:
            return "—"
        stock = getattr(sku, "stock", None)
        return str(stock.available) if stock else "0"

    @admin.display(description="操作")
    def stock_actions(self, sku: Sku) -> str:
        return _stock_adjust_link(sku) if sku.pk else "保存后可调整库存"


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    extra = 0
    fields = ["preview", "image", "sort"]
    readonly_fields = ["preview"]
    verbose_name = "轮播图"
    verbose_name_plural = "轮播图"
    classes = [NO_CAPTION]

    @admin.display(description="预览")
    def preview(self, image: ProductImage) -> str:
        return _thumbnail(image.image.url if image.image else None, 64)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    change_list_template = "admin/catalog/product/change_list.html"
    list_display = ["thumbnail", "name", "category", "min_price", "total_stock", "sales_count",
                    "is_on_shelf", "updated_at"]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["is_on_shelf", ("category", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["category", "category__parent"]
    search_fields = ["name", "skus__code"]
    search_help_text = "按商品名称或 SKU 编码搜索"
    show_full_result_count = False
    list_per_page = 50
    actions = ["shelve", "unshelve"]
    autocomplete_fields = ["category"]
    readonly_fields = ["main_image_preview", "min_price", "sales_count", "sales_base", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["category", "name", "subtitle", "main_image_preview", "main_image", "tags",
                           "freight_template", "is_on_shelf", "sort"]}),
        ("商品详情", {"fields": ["description"]}),
        ("新品优先购", {"fields": ["early_access_until", "early_access_min_tier_level"],
                   "description": "截止时间之前，仅享有「新品优先购」权益且等级不低于所选等级的会员可以加购和下单"}),
        ("统计", {"fields": ["min_price", "sales_count", "sales_base", "created_at", "updated_at"]}),
    ]
    inlines = [SkuInline, ProductImageInline]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "early_access_min_tier_level":
            choices = [("", "任一享有新品优先购权益的等级")] + [
                (level, f"{name}（等级 {level}）及以上") for level, name in tier_choices()]
            return forms.TypedChoiceField(label="优先购最低会员等级", choices=choices, coerce=int, empty_value=None,
                                          required=False, help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    min_price = money_display("min_price_fen", "最低价")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        images = Prefetch("images", queryset=ProductImage.objects.order_by("sort", "id"))
        return (super().get_queryset(request)
                .annotate(_total_stock=Sum("skus__stock__available", filter=Q(skus__is_active=True)))
                .prefetch_related(images))

    @admin.display(description="图片")
    def thumbnail(self, product: Product) -> str:
        if product.main_image:
            return _thumbnail(product.main_image.url)
        first = next(iter(product.images.all()), None)
        return _thumbnail(first.image.url if first else None)

    @admin.display(description="主图预览")
    def main_image_preview(self, product: Product) -> str:
        if not product.main_image:
            return "—"
        return format_html('<img src="{}" class="mall-preview" alt="">', product.main_image.url)

    @admin.display(description="总库存", ordering="_total_stock")
    def total_stock(self, product: Product) -> int:
        return product._total_stock or 0  # type: ignore[attr-defined]

    @admin.action(description="上架所选商品")
    def shelve(self, request: HttpRequest, queryset: QuerySet) -> None:
        count, skipped = product_set_shelf(product_ids=queryset.values_list("pk", flat=True), on_shelf=True)
        self.message_user(request, f"已上架 {count} 个商品", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"以下商品没有启用的 SKU，未上架：{'、'.join(skipped)}",
                              messages.WARNING)

    @admin.action(description="下架所选商品")
    def unshelve(self, request: HttpRequest, queryset: QuerySet) -> None:
        count, _ = product_set_shelf(product_ids=queryset.values_list("pk", flat=True), on_shelf=False)
        self.message_user(request, f"已下架 {count} 个商品", messages.SUCCESS)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Sku:
            self._stock_for_new_skus(request, formset)

    def _stock_for_new_skus(self, request: HttpRequest, formset: Any) -> None:
        """Give each new SKU its Stock row, and its opening stock, through the stock service."""
        new_skus = {sku.pk for sku in formset.new_objects}
        for sku_form in formset.forms:
            sku = sku_form.instance
            if sku.pk not in new_skus:
                continue
            stock_ensure_row(sku=sku)
            opening = sku_form.cleaned_data.get("initial_stock") or 0
            if opening > 0:
                stock_adjust(sku=sku, delta=opening, reason=StockMovement.Reason.INITIAL,
                             operator=request_operator(request), note="新建 SKU 初始库存")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # min_price_fen is derived from the SKUs just saved; recompute it in the same transaction,
        # and the search document too, so the product is found under its new name once this commits.
        product_refresh_denormalised(product_id=form.instance.pk)
        search_document_refresh(product_ids=[form.instance.pk])


# ---------------------------------------------------------------------------------------------
# SKUs: the stock view, the 调整库存 form, and import/export of the catalog keyed by SKU code


class StockLevelFilter(admin.SimpleListFilter):
    """库存预警: the SKUs to restock (the console home's 低库存 SKU links here)."""

    title = "库存预警"
    parameter_name = "stock"
    LOW = "low"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.LOW, f"低库存（在售且少于 {LOW_STOCK_BELOW} 件）")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Sku]) -> QuerySet[Sku]:
        if self.value() == self.LOW:
            return queryset.filter(sku_low_stock_q())
        return queryset


@admin.register(Sku)
class SkuAdmin(ReadOnlyAdminMixin, ImportExportMixin, admin.ModelAdmin):
    resource_classes = [SkuResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    # Excel opens a CSV as UTF-8 only when it starts with a BOM; utf-8-sig reads files with or without.
    from_encoding = "utf-8-sig"
    to_encoding = "utf-8-sig"
    list_display = ["code", "product_link", "spec_label", "price", "stock_available", "is_active",
                    "stock_actions"]
    list_filter = [StockLevelFilter, "is_active", "product__is_on_shelf"]
    list_select_related = ["product", "stock"]
    search_fields = ["=code", "product__name"]
    search_help_text = "按 SKU 编码（精确）或商品名称搜索"
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("product", "code", "specs_text", "price", "original_price", "cost",
                                "weight_g", "is_active", "stock_available", "recent_movements")

    price = money_display("price_fen", "售价")
    original_price = money_display("original_price_fen", "划线价")
    cost = money_display("cost_fen", "成本价")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("catalog.change_product") and request.user.has_perm("catalog.change_stock")

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("catalog.change_stock")

    @admin.display(description="商品", ordering="product__name")
    def product_link(self, sku: Sku) -> str:
        url = reverse("admin:catalog_product_change", args=[sku.product_id])
        return format_html('<a href="{}">{}</a>', url, sku.product.name)

    @admin.display(description="规格")
    def spec_label(self, sku: Sku) -> str:
        return sku.spec_text or "—"

    @admin.display(description="规格")
    def specs_text(self, sku: Sku) -> str:
        return specs_to_text(sku.specs) or "—"

    @admin.display(description="可售库存", ordering="stock__available")
    def stock_available(self, sku: Sku) -> int:
        stock = getattr(sku, "stock", None)
        return stock.available if stock else 0

    @admin.display(description="操作")
    def stock_actions(self, sku: Sku) -> str:
        return _stock_adjust_link(sku)

    @admin.display(description="最近库存流水")
    def recent_movements(self, sku: Sku) -> str:
        rows = sku.movements.select_related("operator").order_by("-id")[:10]
        return _movement_table(rows)

    def get_urls(self) -> list:
        urls = super().get_urls()
        custom = [path("<path:object_id>/adjust-stock/", self.admin_site.admin_view(self.adjust_stock_view),
                       name="catalog_sku_adjust_stock")]
        return custom + urls

    def adjust_stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        sku = Sku.objects.select_related("product", "stock").filter(pk=unquote(object_id)).first()
        if sku is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = StockAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if self._adjust(request, sku, form.cleaned_data):
                return HttpResponseRedirect(request.GET.get("next") or
                                            reverse("admin:catalog_product_change", args=[sku.product_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"调整库存：{sku.code}",
            "opts": self.opts,
            "sku": sku,
            "available": self.stock_available(sku),
            "form": form,
            "movements": _movement_table(sku.movements.select_related("operator").order_by("-id")[:10]),
        }
        return TemplateResponse(request, "admin/catalog/sku/adjust_stock.html", context)

    def _adjust(self, request: HttpRequest, sku: Sku, data: dict[str, Any]) -> bool:
        try:
            stock_adjust(sku=sku, delta=data["delta"], reason=StockMovement.Reason.ADJUST,
                         operator=request_operator(request), note=data["note"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return False
        messages.success(request, f"SKU {sku.code} 库存已调整 {data['delta']:+d}")
        return True


def _movement_table(rows: Any) -> str:
    rows = list(rows)
    if not rows:
        return "暂无库存流水"
    body = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((_local(m.created_at), m.get_reason_display(), f"{m.delta:+d}", m.reference or "—",
          m.operator or "—", m.note or "—") for m in rows),
    )
    return format_html(
        '<table class="mall-mini-table"><thead><tr><th>时间</th><th>原因</th><th>变动</th><th>关联单号</th>'
        "<th>操作员</th><th>备注</th></tr></thead><tbody>{}</tbody></table>", body)


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The stock ledger: append-only, so read-only here."""

    list_display = ["created_at", "sku_code", "product_name", "reason", "signed_delta", "reference",
                    "operator", "note"]
    list_filter = ["reason", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["sku", "sku__product", "operator"]
    search_fields = ["=sku__code", "reference"]
    search_help_text = "按 SKU 编码（精确）或关联单号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="SKU 编码", ordering="sku__code")
    def sku_code(self, movement: StockMovement) -> str:
        return movement.sku.code

    @admin.display(description="商品")
    def product_name(self, movement: StockMovement) -> str:
        return movement.sku.product.name

    @admin.display(description="变动数量", ordering="delta")
    def signed_delta(self, movement: StockMovement) -> str:
        return f"{movement.delta:+d}"

