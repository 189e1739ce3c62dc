"""页面装修 in the console: pages and their blocks, each block's items, and a preview of how the
page resolves at a chosen moment. Every save ends with page_changed, so the mini-program sees it
at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import NO_CAPTION
from shop.models import BlockKind, LinkKind, PageBlock, PageBlockItem, ProductRule, StorePage
from shop.pages import page_resolve
from shop.services.pages import page_changed

PICTURE_KINDS = {BlockKind.BANNER, BlockKind.ICON_NAV, BlockKind.IMAGE_LINK}


class PageBlockItemForm(forms.ModelForm):
    class Meta:
        model = PageBlockItem
        fields = ["sort", "title", "image", "link_kind", "product", "link_category", "link_value"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("link_kind")
        if kind == LinkKind.PRODUCT and not data.get("product"):
            self.add_error("product", "跳转到商品时请选择商品")
        if kind == LinkKind.CATEGORY and not data.get("link_category"):
            self.add_error("link_category", "跳转到分类时请选择分类")
        value = (data.get("link_value") or "").strip()
        if kind in {LinkKind.PAGE, LinkKind.SEARCH, LinkKind.PATH} and not value:
            self.add_error("link_value", "请填写跳转参数：页面标识、搜索词或小程序路径")
        if kind == LinkKind.PATH and value and not value.startswith("/"):
            self.add_error("link_value", "小程序路径须以 / 开头，例如 /pages/member/index")
        return data


class PageBlockItemInline(admin.TabularInline):
    model = PageBlockItem
    form = PageBlockItemForm
    extra = 1
    classes = [NO_CAPTION]
    autocomplete_fields = ["product", "link_category"]
    verbose_name = "模块内容"
    verbose_name_plural = "模块内容（轮播图、图标、图片广告的每一张图；手动挑选商品组的每个商品）"


class PageBlockForm(forms.ModelForm):
    class Meta:
        model = PageBlock
        fields = ["page", "kind", "title", "sort", "is_active", "starts_at", "ends_at", "text", "product_rule",
                  "category", "tag", "limit", "coupon_templates"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, rule = data.get("kind"), data.get("product_rule")
        if kind == BlockKind.PRODUCTS and not rule:
            self.add_error("product_rule", "商品组请选择选品规则")
        if kind == BlockKind.PRODUCTS and rule == ProductRule.CATEGORY and not data.get("category"):
            self.add_error("category", "选品规则为“指定分类”时请选择分类")
        if kind == BlockKind.PRODUCTS and rule == ProductRule.TAG and not data.get("tag"):
            self.add_error("tag", "选品规则为“指定标签”时请选择标签")
        if kind == BlockKind.NOTICE and not (data.get("text") or "").strip():
            self.add_error("text", "请填写公告内容")
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "结束展示时间须晚于开始时间")
        return data


def _schedule(block: PageBlock) -> str:
    if block.starts_at is None and block.ends_at is None:
        return "一直展示"
    start = timezone.localtime(block.starts_at).strftime("%m-%d %H:%M") if block.starts_at else "立即"
    end = timezone.localtime(block.ends_at).strftime("%m-%d %H:%M") if block.ends_at else "不限"
    return f"{start} 至 {end}"


class PageBlockInline(admin.TabularInline):
    model = PageBlock
    fields = ["kind", "title", "sort", "is_active", "starts_at", "ends_at"]
    extra = 0
    classes = [NO_CAPTION]
    show_change_link = True
    verbose_name = "模块"
    verbose_name_plural = "模块（保存后点击“修改”编辑每个模块的图片、商品和优惠券）"


class PageChangeMixin:
    """Every save or delete of a page's parts moves its version: the mini-program sees it at once."""

    def _changed(self, page_ids: set[int]) -> None:
        for page_id in sorted(page_ids):
            page_changed(page_id=page_id)


@admin.register(StorePage)
class StorePageAdmin(PageChangeMixin, admin.ModelAdmin):
    list_display = ["title", "key", "is_active", "block_count", "version", "updated_at", "preview_link"]
    list_display_links = ["title"]
    readonly_fields = ["version", "updated_at", "preview_link"]
    fields = ["title", "key", "is_active", "version", "updated_at", "preview_link"]
    inlines = [PageBlockInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_blocks=Count("blocks"))

    @admin.display(description="模块数", ordering="_blocks")
    def block_count(self, page: StorePage) -> int:
        return getattr(page, "_blocks", 0)

    @admin.display(description="预览")
    def preview_link(self, page: StorePage) -> str:
        if not page.pk:
            return "保存后可预览"
        return format_html('<a href="{}" class="mall-button-link">预览</a>',
                           reverse("admin:shop_storepage_preview", args=[page.pk]))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self._changed({form.instance.pk})

    def get_urls(self) -> list:
        custom = [path("<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view),
                       name="shop_storepage_preview")]
        return custom + super().get_urls()

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page as the mini-program would get it at the chosen moment (default now): what each
        block resolves to, and which blocks the schedule hides then."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        page = StorePage.objects.filter(pk=unquote(object_id)).first()
        if page is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        at = timezone.localtime()
        raw = request.GET.get("at", "")
        try:
            if raw:
                at = timezone.make_aware(dt.datetime.fromisoformat(raw))
        except ValueError:
            raw = ""
        resolved = page_resolve(page=page, now=at, absolute=request.build_absolute_uri)
        shown = {block["id"] for block in resolved["blocks"]}
        rows = [{"block": b, "schedule": _schedule(b), "shown": b.pk in shown,
                 "url": reverse("admin:shop_pageblock_change", args=[b.pk])}
                for b in page.blocks.order_by("sort", "id")]
        context = {
            **self.admin_site.each_context(request),
            "title": f"预览：{page.title}", "opts": self.opts, "page": page, "resolved": resolved,
            "rows": rows, "at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M"),
            "cache_seconds": settings.PAGE_CACHE_SECONDS,
        }
        return TemplateResponse(request, "admin/shop/storepage/preview.html", context)


@admin.register(PageBlock)
class PageBlockAdmin(PageChangeMixin, admin.ModelAdmin):
    form = PageBlockForm
    list_display = ["__str__", "page", "kind", "sort", "is_active", "schedule", "item_count"]
    list_filter = ["page", "kind", "is_active"]
    list_select_related = ["page"]
    list_editable = ["sort", "is_active"]
    list_display_links = ["__str__"]
    autocomplete_fields = ["category"]
    filter_horizontal = ["coupon_templates"]
    inlines = [PageBlockItemInline]
    fieldsets = [
        (None, {"fields": ["page", "kind", "title", "sort", "is_active"]}),
        ("排期", {"fields": ["starts_at", "ends_at"], "description": "留空表示立即开始、一直展示"}),
        ("公告栏", {"fields": ["text"]}),
        ("商品组", {"fields": ["product_rule", "category", "tag", "limit"],
                 "description": "按规则自动选品，或选择“手动挑选”后在下方模块内容中逐个添加商品"}),
        ("优惠券", {"fields": ["coupon_templates"], "description": "留空则显示领券中心最新的券（数量见上方“数量”）"}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_items=Count("items"))

    @admin.display(description="排期")
    def schedule(self, block: PageBlock) -> str:
        return _schedule(block)

    @admin.display(description="内容数", ordering="_items")
    def item_count(self, block: PageBlock) -> int:
        return getattr(block, "_items", 0)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Also called by the list's inline edits (排序, 启用), after each row's save.
        super().save_related(request, form, formsets, change)
        self._changed({form.instance.page_id})

    def delete_model(self, request: HttpRequest, obj: PageBlock) -> None:
        page_id = obj.page_id
        super().delete_model(request, obj)
        self._changed({page_id})

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        page_ids = set(queryset.values_list("page_id", flat=True))
        super().delete_queryset(request, queryset)
        self._changed(page_ids)
