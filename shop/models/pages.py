"""Decorated pages (页面装修): a page the mini-program shows (the home page, an event page) as
blocks an operator arranges in the console, each block resolved against live data when served
(shop.pages)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from catalog.models import Category, Product, ProductTag


class StorePage(models.Model):
    """A page of blocks, addressed by `key` (GET /api/v1/pages/{key}); "home" is the home page.

    `version` moves on every operator save (shop.services.pages.page_changed): it is the resolved
    page's cache key, so a change shows at once in every process."""

    key = models.SlugField("页面标识", max_length=32, unique=True, help_text="小程序按此标识读取，首页为 home")
    title = models.CharField("页面标题", max_length=32)
    is_active = models.BooleanField("启用", default=True)
    version = models.PositiveIntegerField("版本", default=1, editable=False)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "装修页面"
        verbose_name_plural = "装修页面"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.title}（{self.key}）"


class BlockKind(models.TextChoices):
    BANNER = "banner", "轮播图"
    ICON_NAV = "icon_nav", "图标导航"
    NOTICE = "notice", "公告栏"
    COUPONS = "coupons", "优惠券"
    FLASH = "flash", "今日秒杀"
    PRODUCTS = "products", "商品组"
    IMAGE_LINK = "image_link", "图片广告"


class ProductRule(models.TextChoices):
    NEW = "new", "新品（最新上架）"
    HOT = "hot", "热销（销量最高）"
    CATEGORY = "category", "指定分类"
    TAG = "tag", "指定标签"
    MANUAL = "manual", "手动挑选"


class PageBlock(models.Model):
    """One block of a page. Which fields matter depends on `kind`: banners, icons and image links
    are their items; a notice its text; a product group its rule (or items, hand-picked); a coupon
    strip its templates (none: the coupon centre's newest); the flash block today's session."""

    page = models.ForeignKey(StorePage, verbose_name="页面", on_delete=models.CASCADE, related_name="blocks")
    kind = models.CharField("模块类型", max_length=16, choices=BlockKind.choices)
    title = models.CharField("模块标题", max_length=32, blank=True, default="", help_text="显示在模块上方，可留空")
    sort = models.PositiveIntegerField("排序", default=0, help_text="数字越小越靠前")
    is_active = models.BooleanField("启用", default=True)
    starts_at = models.DateTimeField("开始展示", null=True, blank=True, help_text="留空表示立即")
    ends_at = models.DateTimeField("结束展示", null=True, blank=True, help_text="留空表示一直展示")
    text = models.CharField("公告内容", max_length=200, blank=True, default="")
    product_rule = models.CharField("选品规则", max_length=16, choices=ProductRule.choices, blank=True, default="")
    category = models.ForeignKey(Category, verbose_name="分类", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="选品规则为“指定分类”时使用（含子分类）")
    tag = models.CharField("标签", max_length=16, choices=ProductTag.choices, blank=True, default="")
    limit = models.PositiveSmallIntegerField("数量", default=6,
                                             validators=[MinValueValidator(1), MaxValueValidator(20)],
                                             help_text="商品组、优惠券、秒杀最多显示几个（1–20）")
    coupon_templates = models.ManyToManyField("campaigns.CouponTemplate", verbose_name="优惠券", blank=True,
                                              related_name="+", help_text="留空则显示领券中心最新的券")

    class Meta:
        verbose_name = "页面模块"
        verbose_name_plural = "页面模块"
        ordering = ["page_id", "sort", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=1) & Q(limit__lte=20), name="page_block_limit_1_to_20"),
            models.CheckConstraint(condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True)
                                   | Q(ends_at__gt=F("starts_at")), name="page_block_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}{'：' + self.title if self.title else ''}"


class LinkKind(models.TextChoices):
    NONE = "none", "不跳转"
    PRODUCT = "product", "商品"
    CATEGORY = "category", "分类"
    PAGE = "page", "装修页面"
    COUPON_CENTRE = "coupon_centre", "领券中心"
    FLASH = "flash", "秒杀"
    SEARCH = "search", "搜索"
    PATH = "path", "小程序路径"


class PageBlockItem(models.Model):
    """A picture with a link (a banner slide, a navigation icon, an image ad) or a hand-picked product."""

    block = models.ForeignKey(PageBlock, verbose_name="模块", on_delete=models.CASCADE, related_name="items")
    sort = models.PositiveIntegerField("排序", default=0)
    title = models.CharField("文字", max_length=32, blank=True, default="")
    image = models.ImageField("图片", upload_to="pages/", blank=True)
    link_kind = models.CharField("跳转到", max_length=16, choices=LinkKind.choices, default=LinkKind.NONE)
    product = models.ForeignKey(Product, verbose_name="商品", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", help_text="跳转到商品，或“手动挑选”的商品组中的商品")
    link_category = models.ForeignKey(Category, verbose_name="跳转分类", null=True, blank=True,
                                      on_delete=models.CASCADE, related_name="+")
    link_value = models.CharField("跳转参数", max_length=200, blank=True, default="",
                                  help_text="装修页面的标识、搜索词或小程序路径（以 / 开头）")

    class Meta:
        verbose_name = "模块内容"
        verbose_name_plural = "模块内容"
        ordering = ["block_id", "sort", "id"]

    def __str__(self) -> str:
        return self.title or (self.product.name if self.product_id and self.product else f"#{self.pk}")
