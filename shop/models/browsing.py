"""What a member keeps while browsing: favourites (收藏) and footprints (浏览足迹)."""

from __future__ import annotations

from django.db import models

from catalog.models import Product


class Favourite(models.Model):
    """A product the member saved; one row per member and product."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="favourites")
    product = models.ForeignKey(Product, verbose_name="商品", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField("收藏时间", auto_now_add=True)

    class Meta:
        verbose_name = "收藏"
        verbose_name_plural = "收藏"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["member", "product"], name="one_favourite_per_product")]
        indexes = [models.Index(fields=["member", "-created_at"], name="favourite_member_newest")]


class Footprint(models.Model):
    """The last time the member opened a product page; one row per member and product, the
    oldest dropped past settings.FOOTPRINTS_KEPT (shop.services.browsing.footprint_record)."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="footprints")
    product = models.ForeignKey(Product, verbose_name="商品", on_delete=models.CASCADE, related_name="+")
    viewed_at = models.DateTimeField("浏览时间")

    class Meta:
        verbose_name = "浏览足迹"
        verbose_name_plural = "浏览足迹"
        ordering = ["-viewed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["member", "product"], name="one_footprint_per_product")]
        indexes = [models.Index(fields=["member", "-viewed_at"], name="footprint_member_newest")]
