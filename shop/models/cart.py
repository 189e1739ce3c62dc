from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models import Sku


class CartItem(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="cart_items")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField("数量")
    selected = models.BooleanField("选中", default=True)
    # The price the shopper saw when adding; a later change is shown, not hidden.
    price_fen_when_added = models.BigIntegerField("加购时价格（分）")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "购物车"
        verbose_name_plural = "购物车"
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "sku"], name="one_cart_line_per_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_quantity_positive"),
        ]
