"""The catalog: categories (two levels), products, SKUs by spec values, stock and its movements,
and the freight templates products ship under."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q


class FreightTemplate(models.Model):
    name = models.CharField("模板名称", max_length=64)
    is_default = models.BooleanField("默认模板", default=False)
    free_threshold_fen = models.BigIntegerField(
        "包邮门槛（分）", null=True, blank=True, help_text="商品金额达到该值免运费；留空表示不包邮"
    )

    class Meta:
        verbose_name = "运费模板"
        verbose_name_plural = "运费模板"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="one_default_freight_template"),
        ]

    def __str__(self) -> str:
        return self.name


class FreightRule(models.Model):
    """A price for a set of provinces; the rule with no provinces applies everywhere else."""

    template = models.ForeignKey(FreightTemplate, on_delete=models.CASCADE, related_name="rules")
    provinces = ArrayField(models.CharField(max_length=32), verbose_name="适用省份", default=list,
                           blank=True, help_text="留空表示其他所有地区")
    first_count = models.PositiveIntegerField("首件（件）", default=1)
    first_fee_fen = models.BigIntegerField("首件运费（分）", default=0)
    extra_count = models.PositiveIntegerField("续件（件）", default=1)
    extra_fee_fen = models.BigIntegerField("续件运费（分）", default=0)
    is_deliverable = models.BooleanField("可配送", default=True)

    class Meta:
        verbose_name = "运费规则"
        verbose_name_plural = "运费规则"
        constraints = [
            models.CheckConstraint(condition=Q(first_fee_fen__gte=0) & Q(extra_fee_fen__gte=0),
                                   name="freight_fee_non_negative"),
            models.CheckConstraint(condition=Q(first_count__gte=1) & Q(extra_count__gte=1),
                                   name="freight_counts_positive"),
        ]


class Category(models.Model):
    parent = models.ForeignKey(
        "self", verbose_name="上级分类", null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    name = models.CharField("名称", max_length=32)
    icon = models.ImageField("图标", upload_to="categories/", blank=True)
    sort = models.PositiveIntegerField("排序", default=0, help_text="数字越小越靠前")
    is_active = models.BooleanField("显示", default=True)

    class Meta:
        verbose_name = "商品分类"
        verbose_name_plural = "商品分类"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name


class ProductTag(models.TextChoices):
    NEW = "new", "新品"
    HOT = "hot", "热卖"
    RECOMMENDED = "recommended", "推荐"


class Product(models.Model):
    category = models.ForeignKey(Category, verbose_name="分类", on_delete=models.PROTECT,
                                 related_name="products")
    name = models.CharField("商品名称", max_length=100)
    subtitle = models.CharField("副标题", max_length=200, blank=True, default="")
    description = models.TextField("商品详情", blank=True, default="")
    main_image = models.ImageField("主图", upload_to="products/", blank=True)
    tags = ArrayField(models.CharField(max_length=16, choices=ProductTag.choices), verbose_name="标签",
                      default=list, blank=True)
    freight_template = models.ForeignKey(
        FreightTemplate, verbose_name="运费模板", null=True, blank=True,
        on_delete=models.PROTECT, help_text="留空则使用默认运费模板",
    )
    is_on_shelf = models.BooleanField("上架", default=False)
    # New-product early access: until early_access_until only members whose tier level is at least
    # early_access_min_tier_level may buy. A plain level: checkout asks members whether a member
    # qualifies (members.services.growth.member_may_buy_early); the catalog knows nothing of tiers.
    early_access_until = models.DateTimeField(
        "优先购截止时间", null=True, blank=True, help_text="在此时间之前仅限指定等级及以上会员购买；留空表示不限",
    )
    early_access_min_tier_level = models.PositiveSmallIntegerField(
        "优先购最低会员等级", null=True, blank=True, help_text="会员等级序号（等级越高数字越大）",
    )
    # Denormalised for list ordering; recomputed from SKUs by the catalog service.
    min_price_fen = models.BigIntegerField("最低价（分）", default=0, editable=False)
    # sales_count = sales_base + units of paid orders - units refunded. It moves after each
    # payment or refund commits (catalog.services.product_sales_count_after_commit) and the
    # nightly counters reconcile recomputes it; sales_base is what was sold before this system
    # (an import), which the reconcile keeps.
    sales_count = models.PositiveIntegerField("销量", default=0, editable=False)
    sales_base = models.PositiveIntegerField("历史销量", default=0, editable=False,
                                             help_text="接入本系统前的销量，计入展示的销量")
    # The product page's rating summary over its published reviews (count, sum of stars, with
    # photos shoppers can see, 4–5★), so a page read needs no aggregate. Set after every review
    # change commits (shop.services.reviews.review_summary_refresh) and recomputed by the nightly
    # counters reconcile.
    review_count = models.PositiveIntegerField("评价数", default=0, editable=False)
    review_rating_sum = models.PositiveIntegerField("评价星级合计", default=0, editable=False)
    review_with_photos = models.PositiveIntegerField("有图评价数", default=0, editable=False)
    review_positive = models.PositiveIntegerField("好评数", default=0, editable=False)
    sort = models.PositiveIntegerField("排序", default=0)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "商品"
        verbose_name_plural = "商品"
        ordering = ["sort", "-id"]
        indexes = [
            models.Index(fields=["is_on_shelf", "sort", "-id"], name="product_shelf_default_order"),
            models.Index(fields=["is_on_shelf", "category"]),
            models.Index(fields=["is_on_shelf", "-sales_count"]),
            models.Index(fields=["is_on_shelf", "min_price_fen"]),
            GinIndex(fields=["tags"]),
        ]

    def __str__(self) -> str:
        return self.name


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField("图片", upload_to="products/")
    sort = models.PositiveIntegerField("排序", default=0)

    class Meta:
        verbose_name = "商品图片"
        verbose_name_plural = "商品图片"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.image.name


class Sku(models.Model):
    """A sellable variant. `specs` maps spec name to value, e.g. {"颜色": "红", "尺码": "M"}."""

    product = models.ForeignKey(Product, verbose_name="商品", on_delete=models.CASCADE,
                                related_name="skus")
    code = models.CharField("SKU 编码", max_length=64, unique=True)
    specs = models.JSONField("规格", default=dict, blank=True)
    price_fen = models.BigIntegerField("售价（分）")
    original_price_fen = models.BigIntegerField("划线价（分）", default=0)
    cost_fen = models.BigIntegerField("成本价（分）", default=0)
    weight_g = models.PositiveIntegerField("重量（克）", default=0)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "SKU"
        verbose_name_plural = "SKU"
        ordering = ["product_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price_fen__gte=0), name="sku_price_non_negative"),
            models.CheckConstraint(condition=Q(cost_fen__gte=0), name="sku_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.spec_text}".strip()

    @property
    def spec_text(self) -> str:
        return " ".join(str(v) for v in (self.specs or {}).values())


class Stock(models.Model):
    """Sellable units of a SKU. Only the stock service writes `available` (conditional UPDATE)."""

    sku = models.OneToOneField(Sku, verbose_name="SKU", on_delete=models.CASCADE, related_name="stock",
                               primary_key=True)
    available = models.IntegerField("可售库存", default=0)

    class Meta:
        verbose_name = "库存"
        verbose_name_plural = "库存"
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="stock_available_non_negative"),
        ]


class StockMovement(models.Model):
    """Append-only ledger of stock changes; the sum of deltas explains `Stock.available`."""

    class Reason(models.TextChoices):
        INITIAL = "initial", "初始库存"
        ADJUST = "adjust", "人工调整"
        IMPORT = "import", "导入"
        ORDER_RESERVE = "order_reserve", "下单占用"
        ORDER_RELEASE = "order_release", "取消释放"

    sku = models.ForeignKey(Sku, verbose_name="SKU", on_delete=models.CASCADE, related_name="movements")
    delta = models.IntegerField("变动数量")
    reason = models.CharField("原因", max_length=20, choices=Reason.choices)
    reference = models.CharField("关联单号", max_length=64, blank=True, default="")
    note = models.CharField("备注", max_length=200, blank=True, default="")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作员", null=True, blank=True,
                                 on_delete=models.PROTECT)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "库存流水"
        verbose_name_plural = "库存流水"
        ordering = ["-id"]
        constraints = [
            # Releasing an order's stock happens exactly once per SKU and order.
            models.UniqueConstraint(
                fields=["sku", "reference"], condition=Q(reason="order_release"),
                name="stock_release_once_per_order",
            ),
        ]


# ---------------------------------------------------------------------------------------------
# Search (catalog.search): the index, its vocabulary, and what operators tune it with


class SearchDocument(models.Model):
    """What product search matches and ranks a product by, rebuilt by catalog.search.index each
    time the product (or its category, or its SKUs' specs) changes.

    `document` holds the product's words, each also as pinyin and initials, weighted A (name),
    B (category, tags, brand), C (subtitle), D (specs, two-character pieces). `text` is the
    normalised name, subtitle and category: the trigram fallback for a query no word matches.
    """

    product = models.OneToOneField(Product, verbose_name="商品", on_delete=models.CASCADE, primary_key=True,
                                   related_name="search_document")
    document = SearchVectorField()
    text = models.TextField(default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "商品搜索索引"
        verbose_name_plural = "商品搜索索引"
        indexes = [
            GinIndex(fields=["document"], name="search_document_gin"),
            GinIndex(fields=["text"], name="search_text_trgm", opclasses=["gin_trgm_ops"]),
        ]


class SearchTerm(models.Model):
    """A word of the catalogue's search documents with its spellings: what suggestions complete,
    what pinyin and initials resolve to, and what a mistyped word is corrected to (trigrams)."""

    term = models.CharField("词", max_length=64, unique=True)
    pinyin = models.CharField("拼音", max_length=256)
    initials = models.CharField("首字母", max_length=64)
    product_count = models.PositiveIntegerField("商品数", default=0)
    # A word of the catalogue (brand, category, spec value, synonym) that jieba's own dictionary
    # may not have: every process teaches these to jieba before cutting a query.
    is_catalogue_word = models.BooleanField("商品词", default=False)

    class Meta:
        verbose_name = "搜索词库"
        verbose_name_plural = "搜索词库"
        indexes = [
            models.Index(fields=["term"], name="search_term_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["pinyin"], name="search_pinyin_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["initials"], name="search_initials_prefix", opclasses=["varchar_pattern_ops"]),
            GinIndex(fields=["pinyin"], name="search_pinyin_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["term"], name="search_term_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self) -> str:
        return self.term


class SearchSynonym(models.Model):
    """Words a shopper means the same thing by (纸尿裤 尿不湿 尿片): a query for any one finds
    products named with any other. Applied when searching, so a change works at once."""

    words = ArrayField(models.CharField(max_length=32), verbose_name="同义词", help_text="两个或以上，用空格或逗号分隔")
    is_active = models.BooleanField("启用", default=True)
    note = models.CharField("备注", max_length=100, blank=True, default="")
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "搜索同义词"
        verbose_name_plural = "搜索同义词"
        ordering = ["-id"]
        indexes = [GinIndex(fields=["words"], name="search_synonym_words")]

    def __str__(self) -> str:
        return " = ".join(self.words)


class SearchHotWord(models.Model):
    """A word an operator pins to the top of the search page's 热门搜索."""

    word = models.CharField("热词", max_length=32)
    sort = models.PositiveIntegerField("排序", default=0, help_text="数字越小越靠前")
    is_active = models.BooleanField("显示", default=True)
    highlight = models.BooleanField("醒目显示", default=False, help_text="在小程序中以高亮样式显示")

    class Meta:
        verbose_name = "搜索热词"
        verbose_name_plural = "搜索热词"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.word


class SearchQueryStat(models.Model):
    """How often a normalised query was searched on a Shanghai day, and how often it found nothing:
    the source of the hot words and of the console's 无结果搜索 report. No member is recorded."""

    day = models.DateField("日期")
    query = models.CharField("搜索词", max_length=64)
    searches = models.PositiveIntegerField("搜索次数", default=0)
    zero_result_searches = models.PositiveIntegerField("无结果次数", default=0)
    last_result_count = models.PositiveIntegerField("最近结果数", default=0)
    last_searched_at = models.DateTimeField("最近搜索时间")

    class Meta:
        verbose_name = "搜索记录"
        verbose_name_plural = "搜索记录"
        ordering = ["-day", "-searches"]
        constraints = [models.UniqueConstraint(fields=["day", "query"], name="search_stat_one_per_day")]
        indexes = [models.Index(fields=["day", "-searches"], name="search_stat_day_top")]

    def __str__(self) -> str:
        return self.query
