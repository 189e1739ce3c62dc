"""A product's share poster (商品分享海报), one per product and sharer."""

from __future__ import annotations

from django.db import models

from catalog.models import Product
from core.media import private_storage


class SharerKind(models.TextChoices):
    MEMBER = "member", "会员"  # scene m=<member id>: whoever scans is attributed to the member
    DISTRIBUTOR = "distributor", "分销员"  # scene d=<distributor id>: whoever scans binds as 分销 does


class ProductPoster(models.Model):
    """The mini-program code of (product, sharer) — made once, WeChat's codes are permanent — and
    the poster drawn around it for the product's current version: `version` is a fingerprint of
    what the poster shows (name, subtitle, price, image, sharer's name), so the poster is drawn
    again exactly when one of them changes, and never otherwise."""

    product = models.ForeignKey(Product, verbose_name="商品", on_delete=models.CASCADE, related_name="+")
    sharer_kind = models.CharField("分享人类型", max_length=16, choices=SharerKind.choices)
    sharer_id = models.BigIntegerField("分享人ID", help_text="会员ID，或分销员ID")
    scene = models.CharField("小程序码 scene", max_length=32)
    code = models.FileField("小程序码", upload_to="share/codes/", storage=private_storage, blank=True, default="",
                            max_length=200)
    poster = models.FileField("海报", upload_to="share/posters/", storage=private_storage, blank=True, default="",
                              max_length=200)
    version = models.CharField("海报版本", max_length=16, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "商品分享海报"
        verbose_name_plural = "商品分享海报"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["product", "sharer_kind", "sharer_id"],
                                               name="one_product_poster_per_sharer")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.get_sharer_kind_display()} {self.sharer_id}"
