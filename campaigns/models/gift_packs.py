"""Monthly gift packs of paid membership cards (会员卡每月礼包): which coupons a plan's holders get.

The card itself lives in members (members.models.cards); campaigns only says which coupon
templates make up a plan's pack. campaigns.services.gift_packs issues them.
"""

from __future__ import annotations

from django.db import models


class CardGiftPack(models.Model):
    """One coupon template in a card plan's monthly gift pack (one coupon per member per month)."""

    plan = models.ForeignKey("members.CardPlan", verbose_name="会员卡方案", on_delete=models.CASCADE,
                             related_name="+")
    template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="礼包优惠券", on_delete=models.PROTECT,
                                 related_name="+",
                                 help_text="每月发放一张，计入该券的“每人限领”：请把每人限领设得足够大（如 120）")
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员卡礼包"
        verbose_name_plural = "会员卡礼包"
        ordering = ["plan", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "template"], name="card_gift_pack_once")]

    def __str__(self) -> str:
        return f"{self.plan} · {self.template}"
