"""The member's part of a product page: what this shopper would pay for one unit of each SKU,
the flash session selling it now, the coupons they could claim for it and the 满减 that cover it.

The public product detail (shop.api.products) is the same for everyone and cached; this part
depends on who asks and is computed per request. Prices come from the checkout pipeline itself
(shop.pricing.price_goods, the goods stages of quote()) over a one-unit line of each SKU, bought
through its running flash item when there is one the shopper may still buy: so the price shown is,
to the fen, what the checkout preview charges for that unit (freight aside, which depends on the
address and the rest of the cart). The offers the stages need (flash items, 满减, the member's
coupons, the member's facts) are read once and shared by every SKU's run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from campaigns.models import CouponTemplate
from campaigns.pricing import ReductionOffer
from campaigns.selectors.checkout import full_reductions_running
from campaigns.selectors.coupons import CentreEntry, coupon_centre_entries
from campaigns.selectors.flash import flash_offers
from campaigns.selectors.product_page import (
    RunningFlashItem,
    coupon_templates_for_product,
    flash_items_running,
    full_reductions_covering,
)
from catalog.errors import ProductUnavailable
from catalog.models import Sku
from members.models import Member
from shop.pricing import Adjustment, PricingContext, PricingRun, price_goods
from shop.selectors import cart_snapshot_lines, favourite_id_for

# Stages whose discount is the shopper's price before coupons; the coupon stage makes the 到手价.
PRICE_STAGES = frozenset({"activity", "member", "full_reduction"})


@dataclass(frozen=True)
class SkuOffer:
    """One unit of a SKU as this shopper would buy it now."""

    sku_id: int
    list_price_fen: int
    price_fen: int  # after the flash price, the member price and 满减
    final_price_fen: int  # 到手价: price_fen less the best coupon the member already holds
    flash_item_id: int | None  # pass it to checkout to buy at the flash price
    member_price_label: str  # "会员价：…" when the member price applied, else ""
    coupon_id: int | None  # the held coupon final_price_fen uses
    adjustments: list[Adjustment]


@dataclass(frozen=True)
class ProductOffers:
    product_id: int
    now: dt.datetime
    logged_in: bool
    tier_name: str
    card_active: bool
    skus: list[SkuOffer]
    flash: list[RunningFlashItem]  # the SKUs' flash items on sale now
    full_reductions: list[ReductionOffer]
    coupons: list[CentreEntry]
    favourite_id: int | None  # the member's 收藏 of this product
    group_buy: None = None  # reserved: the product's open group-buy, once group-buy lands
    bargain: None = None  # reserved: the product's bargain activity, once bargaining lands

    @property
    def flash_ends_at(self) -> dt.datetime | None:
        return min((f.ends_at for f in self.flash), default=None)

    @property
    def lowest_final_price_fen(self) -> int | None:
        return min((s.final_price_fen for s in self.skus), default=None)


def product_offers(*, product_id: int, member: Member | None, now: dt.datetime) -> ProductOffers:
    """The member-specific part of the product page (see the module docstring); `member` None
    prices for a guest (no member price, no held coupons). ProductUnavailable (404
    product_not_found) for an unknown or off-shelf product. About twenty queries whatever the
    number of SKUs: the SKUs, flash items, 满减, coupons, member facts and the coupon centre."""
    sku_ids = list(Sku.objects.filter(product_id=product_id, is_active=True, product__is_on_shelf=True)
                   .order_by("id").values_list("pk", flat=True))
    if not sku_ids:
        raise ProductUnavailable(code="product_not_found", status=404)
    member_id = member.pk if member is not None else None
    running = flash_items_running(sku_ids=sku_ids, now=now, member_id=member_id)
    through_flash = {sku_id: item.item_id for sku_id, item in running.items() if item.buyable}
    lines = cart_snapshot_lines(quantities=dict.fromkeys(sku_ids, 1), flash_items=through_flash)
    category_ids = lines[0].category_ids
    ctx = PricingContext(member_id=member_id, province="", coupon_ids=None)
    shared = PricingRun(now=now, flash_offers=flash_offers(item_ids=sorted(through_flash.values()), now=now),
                        full_reductions=full_reductions_running(now=now))
    skus = []
    for line in lines:
        # One run per SKU (the coupon stage keeps its choice on the run), sharing what was read.
        run = PricingRun(now=now, flash_offers=shared.flash_offers, full_reductions=shared.full_reductions,
                         coupons=shared.coupons, member=shared.member)
        (priced,), _ = price_goods([line], ctx, run)
        shared.coupons, shared.member = run.coupons, run.member
        before_coupon = line.unit_price_fen + sum(a.amount_fen for a in priced.adjustments if a.stage in PRICE_STAGES)
        member_label = next((a.label for a in priced.adjustments if a.stage == "member"), "")
        skus.append(SkuOffer(
            sku_id=line.sku_id, list_price_fen=line.unit_price_fen, price_fen=before_coupon,
            final_price_fen=priced.payable_fen, flash_item_id=line.flash_item_id, member_price_label=member_label,
            coupon_id=run.goods_coupon.coupon.coupon_id if run.goods_coupon is not None else None,
            adjustments=list(priced.adjustments)))
    facts = shared.member_for(ctx) if member_id is not None else None
    templates: list[CouponTemplate] = coupon_templates_for_product(product_id=product_id, category_ids=category_ids,
                                                                   now=now)
    return ProductOffers(
        product_id=product_id, now=now, logged_in=member is not None,
        tier_name=facts.tier_name if facts else "",
        card_active=bool(facts and facts.pricing.card_percent < 100),
        skus=skus, flash=[running[s] for s in sku_ids if s in running],
        full_reductions=full_reductions_covering(shared.full_reductions or [], product_id=product_id,
                                                 category_ids=category_ids),
        coupons=coupon_centre_entries(templates=templates, member=member, now=now),
        favourite_id=favourite_id_for(member=member, product_id=product_id),
    )
