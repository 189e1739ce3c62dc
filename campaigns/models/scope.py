"""What a coupon or an activity applies to: the whole store, categories or products, minus exclusions."""

from __future__ import annotations

from django.db import models

from catalog.models import Category, Product


class Scope(models.TextChoices):
    ALL = "all", "全场通用"
    CATEGORIES = "categories", "指定分类"
    PRODUCTS = "products", "指定商品"


class Scoped(models.Model):
    """Scope fields shared by coupon templates and 满减 activities.

    A category covers its children. Excluded products never apply, whatever the scope.
    """

    scope = models.CharField("适用范围", max_length=16, choices=Scope.choices, default=Scope.ALL)
    categories = models.ManyToManyField(Category, verbose_name="适用分类", blank=True,
                                        related_name="+")
    products = models.ManyToManyField(Product, verbose_name="适用商品", blank=True,
                                      related_name="+")
    excluded_products = models.ManyToManyField(Product, verbose_name="排除商品", blank=True,
                                               related_name="+")

    class Meta:
        abstract = True
