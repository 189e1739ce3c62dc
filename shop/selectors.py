"""Reads of the shop: carts, orders, after-sales, reviews. Shopper-facing reads are scoped by the
member who asks; the catalog's own reads are in catalog.selectors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Exists, F, JSONField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, JSONObject

from catalog.errors import ProductUnavailable
from catalog.models import Product, Sku, Stock
from core.compiled import CompiledQuery
from members.models import Member
from shop.errors import AfterSaleNotFound, OrderNotFound
from shop.models import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleKind,
    AfterSaleLine,
    AfterSalePhoto,
    CartItem,
    Favourite,
    Footprint,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
    Review,
    ReviewPhoto,
    ReviewStatus,
)
from shop.models.aftersales import AFTER_SALE_CLAIMING, AFTER_SALE_OPEN
from shop.pricing import CartLine
from wechat.models import MediaCheckStatus

# Photos members upload (review photos, after-sale evidence) are checked by WeChat
# (wechat.media_checks): anyone else sees one only once its check passed; its owner sees it unless
# it was found risky. A photo without a check is nobody else's to see.
PHOTO_SHOWN_TO_ALL = Q(media_check__status=MediaCheckStatus.PASS)
PHOTO_SHOWN_TO_OWNER = ~Q(media_check__status=MediaCheckStatus.RISKY)


def cart_snapshot_lines(*, quantities: dict[int, int], flash_items: dict[int, int] | None = None,
                        bargain_launches: dict[int, int] | None = None) -> list[CartLine]:
    """Immutable priced-line inputs for sku_id -> quantity; every SKU must be sellable now.

    `flash_items` (sku_id -> flash item id) marks lines bought through a flash sale,
    `bargain_launches` (sku_id -> launch id) lines bought through a bargain launch. Each line
    carries its category and the category's ancestors (a coupon or 满减 scoped to a parent
    category covers its children). One query. Raises ProductUnavailable naming the SKUs that
    are unknown, inactive or off the shelf. Stock is not checked here: placement takes it
    atomically, preview shows it.
    """
    skus = {row[0]: row for row in _SNAPSHOT_SKUS.rows(sku_ids=sorted(quantities))}
    bad = [sku_id for sku_id in quantities
           if sku_id not in skus or not skus[sku_id][1] or not skus[sku_id][8]]
    if bad:
        raise ProductUnavailable(detail={"sku_ids": sorted(bad)})
    flash_items = flash_items or {}
    bargain_launches = bargain_launches or {}
    storage = _MAIN_IMAGE.storage
    lines = []
    for sku_id in sorted(quantities):
        (_, _, code, specs, price_fen, cost_fen, product_id, product_name, _, main_image, category_id,
         freight_template_id, early_access_until, early_access_min_tier_level, parent_id,
         grandparent_id) = skus[sku_id]
        # Categories are two levels deep; the query reaches a third for safety.
        ancestry = [category_id, parent_id, grandparent_id]
        lines.append(CartLine(
            sku_id=sku_id, product_id=product_id, category_id=category_id,
            product_name=product_name, sku_code=code, spec_text=Sku(specs=specs).spec_text,
            image_url=storage.url(main_image) if main_image else "",
            unit_price_fen=price_fen, cost_fen=cost_fen, quantity=quantities[sku_id],
            freight_template_id=freight_template_id,
            category_ids=tuple(c for c in ancestry if c is not None), flash_item_id=flash_items.get(sku_id),
            bargain_launch_id=bargain_launches.get(sku_id),
            early_access_until=early_access_until,
            early_access_min_tier_level=early_access_min_tier_level,
        ))
    return lines


def _snapshot_skus_query(*, sku_ids: list[int]) -> QuerySet[Any, Any]:
    return Sku.objects.filter(pk__in=sku_ids).order_by().values_list(
        "pk", "is_active", "code", "specs", "price_fen", "cost_fen", "product_id", "product__name",
        "product__is_on_shelf", "product__main_image", "product__category_id", "product__freight_template_id",
        "product__early_access_until", "product__early_access_min_tier_level", "product__category__parent_id",
        "product__category__parent__parent_id")


# Compiled once per cart size: placement's SKU read without paying the ORM's compilation each time.
_SNAPSHOT_SKUS = CompiledQuery(_snapshot_skus_query)
_MAIN_IMAGE: Any = Product._meta.get_field("main_image")


class CartLineState:
    OK = "ok"
    OFF_SHELF = "off_shelf"
    OUT_OF_STOCK = "out_of_stock"
    INSUFFICIENT_STOCK = "insufficient_stock"
    PRICE_CHANGED = "price_changed"


_STATE_REASONS = {
    CartLineState.OK: "",
    CartLineState.OFF_SHELF: "商品已下架",
    CartLineState.OUT_OF_STOCK: "商品已售罄",
    CartLineState.INSUFFICIENT_STOCK: "库存不足",
    CartLineState.PRICE_CHANGED: "价格有变动",
}


# (state, what the shopper reads) for the API's enum.
CART_LINE_STATES = [(state, reason or "正常") for state, reason in _STATE_REASONS.items()]


@dataclass(frozen=True)
class CartLineView:
    item: CartItem
    state: str
    reason: str
    available: int

    @property
    def purchasable(self) -> bool:
        return self.state in {CartLineState.OK, CartLineState.PRICE_CHANGED}


def cart_lines_for_member(*, member: Member) -> list[CartLineView]:
    """The member's cart with each line's state; invalid lines are shown with the reason."""
    items = (CartItem.objects.filter(member=member)
             .select_related("sku__product", "sku__stock").order_by("-updated_at", "-id"))
    views = []
    for item in items:
        sku = item.sku
        available = sku.stock.available if hasattr(sku, "stock") else 0
        if not sku.is_active or not sku.product.is_on_shelf:
            state = CartLineState.OFF_SHELF
        elif available <= 0:
            state = CartLineState.OUT_OF_STOCK
        elif available < item.quantity:
            state = CartLineState.INSUFFICIENT_STOCK
        elif sku.price_fen != item.price_fen_when_added:
            state = CartLineState.PRICE_CHANGED
        else:
            state = CartLineState.OK
        views.append(CartLineView(item=item, state=state, reason=_STATE_REASONS[state], available=available))
    return views


def order_list_for_member(*, member: Member, status: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.filter(member=member).prefetch_related("lines").order_by("-id")
    if status:
        orders = orders.filter(status=status)
    return orders


def order_detail_for_member(*, member: Member, order_no: str) -> Order:
    order = (Order.objects.filter(member=member, order_no=order_no)
             .prefetch_related("lines__adjustments", "shipments").first())
    if order is None:
        raise OrderNotFound()
    return order


def _own_after_sale_photos() -> Prefetch:
    return Prefetch("photos", queryset=AfterSalePhoto.objects.filter(PHOTO_SHOWN_TO_OWNER).order_by("sort", "id"))


def after_sale_list_for_member(*, member: Member, status: str | None = None) -> QuerySet[AfterSale]:
    """The member's after-sales, newest first, with what a list card shows (fixed query count).
    Photos found risky by WeChat's check are left out."""
    lines = AfterSaleLine.objects.select_related("order_line").order_by("id")
    queryset = (AfterSale.objects.filter(member=member).select_related("order")
                .prefetch_related(Prefetch("lines", queryset=lines), _own_after_sale_photos()).order_by("-id"))
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def after_sale_detail_for_member(*, member: Member, after_sale_no: str) -> AfterSale:
    """One of the member's after-sales with lines, photos (not those found risky), refunds and the
    progress trail."""
    lines = AfterSaleLine.objects.select_related("order_line").order_by("id")
    after_sale = (AfterSale.objects.filter(member=member, after_sale_no=after_sale_no).select_related("order")
                  .prefetch_related(Prefetch("lines", queryset=lines), _own_after_sale_photos(),
                                    Prefetch("refunds", queryset=Refund.objects.order_by("-id")),
                                    Prefetch("events", queryset=AfterSaleEvent.objects.order_by("id")))
                  .first())
    if after_sale is None:
        raise AfterSaleNotFound()
    return after_sale


def order_line_units_withheld(*, order_id: int) -> dict[int, int]:
    """Units per order line that shipping no longer owes: approved or pending refunds of units
    that never shipped (refunded or not yet). For shop.services.shipping's "left to ship"."""
    rows = (AfterSaleLine.objects
            .filter(order_line__order_id=order_id, after_sale__status__in=AFTER_SALE_CLAIMING,
                    after_sale__kind=AfterSaleKind.REFUND_ONLY, after_sale__restock=True)
            .values("order_line_id").annotate(units=Sum("quantity")))
    return {r["order_line_id"]: r["units"] for r in rows}


# Reviews


class RatingFilter:
    GOOD = "good"  # 好评: 4–5★
    MEDIUM = "medium"  # 中评: 3★
    BAD = "bad"  # 差评: 1–2★

    RANGES = {GOOD: (4, 5), MEDIUM: (3, 3), BAD: (1, 2)}


def review_list_for_product(*, product_id: int, with_photos: bool = False,
                            rating: str | None = None) -> QuerySet[Review]:
    """A product's published reviews, 精选 first, then newest; member, line and photos loaded
    in a fixed number of queries (page + photos). `with_photos` is the 有图 filter. Only photos
    WeChat's check passed are shown: a review is published whatever its photos' checks say, and a
    photo still being checked simply is not there yet."""
    reviews = (Review.objects.filter(product_id=product_id, status=ReviewStatus.PUBLISHED)
               .select_related("member", "order_line")
               .prefetch_related(Prefetch("photos", queryset=ReviewPhoto.objects.filter(PHOTO_SHOWN_TO_ALL)
                                          .order_by("sort", "id")))
               .order_by("-is_featured", "-id"))
    if with_photos:
        reviews = reviews.filter(has_photos=True)
    if rating in RatingFilter.RANGES:
        low, high = RatingFilter.RANGES[rating]
        reviews = reviews.filter(rating__gte=low, rating__lte=high)
    return reviews


@dataclass(frozen=True)
class RatingSummary:
    count: int
    average: Decimal | None  # one decimal, None without reviews
    with_photos: int
    positive_rate: int | None  # percent of 4–5★, None without reviews


def review_summary_for_product(*, product_id: int) -> RatingSummary:
    """The product page's rating summary over published reviews, in one aggregate query (the page
    itself reads the copy kept on the product row: review_summary_of)."""
    return _rating_summary(*review_summary_counts(product_id=product_id))


def review_summary_of(product: Product) -> RatingSummary:
    """The rating summary kept on the product row (shop.services.reviews.review_summary_refresh):
    the same figures as review_summary_for_product(), without a query."""
    return _rating_summary(product.review_count, product.review_rating_sum, product.review_with_photos,
                           product.review_positive)


def review_summary_counts(*, product_id: int) -> tuple[int, int, int, int]:
    """(published reviews, their stars summed, those with photos shoppers see, those with 4–5★):
    what catalog keeps on the product row (catalog.services.REVIEW_SUMMARY_FIELDS). One query."""
    totals = Review.objects.filter(product_id=product_id, status=ReviewStatus.PUBLISHED).aggregate(
        count=Count("id"), stars=Coalesce(Sum("rating"), 0),
        with_photos=Count("id", filter=Q(has_photos=True)),
        positive=Count("id", filter=Q(rating__gte=4)),
    )
    return totals["count"], totals["stars"], totals["with_photos"], totals["positive"]


def review_summary_expected() -> Subquery:
    """review_summary_counts() for each product of an outer Product query, as one JSON object
    (count, stars, with_photos, positive; NULL without reviews): the reconcile reads a chunk of
    products with their summaries in one statement."""
    published = Review.objects.filter(product_id=OuterRef("pk"), status=ReviewStatus.PUBLISHED).order_by()
    return Subquery(published.values("product_id").annotate(j=JSONObject(
        count=Count("id"), stars=Sum("rating"), with_photos=Count("id", filter=Q(has_photos=True)),
        positive=Count("id", filter=Q(rating__gte=4)))).values("j")[:1], output_field=JSONField())


def _rating_summary(count: int, stars: int, with_photos: int, positive: int) -> RatingSummary:
    if not count:
        return RatingSummary(count=0, average=None, with_photos=0, positive_rate=None)
    average = (Decimal(stars) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    rate = (Decimal(positive * 100) / count).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return RatingSummary(count=count, average=average, with_photos=with_photos, positive_rate=int(rate))


def review_list_for_member(*, member: Member) -> QuerySet[Review]:
    """The member's own reviews, every status (a pending one says so), newest first; their photos
    whatever WeChat's check says, except those it found risky."""
    return (Review.objects.filter(member=member).select_related("order_line")
            .prefetch_related(Prefetch("photos", queryset=ReviewPhoto.objects.filter(PHOTO_SHOWN_TO_OWNER)
                                       .order_by("sort", "id")))
            .order_by("-id"))


def review_lines_awaiting(*, member: Member) -> QuerySet[OrderLine]:
    """待评价: lines of the member's received orders with no review yet, not fully refunded."""
    return (OrderLine.objects.filter(order__member=member, order__status=OrderStatus.RECEIVED,
                                     review__isnull=True, refunded_quantity__lt=F("quantity"))
            .select_related("order").order_by("-order__received_at", "id"))


@dataclass(frozen=True)
class OrderCounts:
    """The 我的 page's badges."""

    pending_payment: int  # 待付款
    paid: int  # 待发货
    shipped: int  # 待收货
    to_review: int  # 待评价: order lines, as review_lines_awaiting
    after_sales_open: int  # 退款/售后 in progress


def order_counts_for_member(*, member: Member) -> OrderCounts:
    """How many of the member's orders wait on each step, lines wait for a review and after-sales
    are open. Three queries, whatever the member's history."""
    by_status = dict(Order.objects.filter(member=member, status__in=[
        OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED]).values("status")
        .annotate(n=Count("id")).values_list("status", "n"))
    return OrderCounts(
        pending_payment=by_status.get(OrderStatus.PENDING_PAYMENT, 0), paid=by_status.get(OrderStatus.PAID, 0),
        shipped=by_status.get(OrderStatus.SHIPPED, 0),
        to_review=review_lines_awaiting(member=member).count(),
        after_sales_open=AfterSale.objects.filter(member=member, status__in=AFTER_SALE_OPEN).count())


# What must finish before a member may delete their account (settings.MEMBER_DELETION_BLOCKERS).
_UNFINISHED_ORDERS = {OrderStatus.PENDING_PAYMENT: "待付款的订单", OrderStatus.PAID: "待发货的订单",
                      OrderStatus.SHIPPED: "已发货未收货的订单"}
_REFUNDS_ON_THEIR_WAY = (RefundStatus.PENDING, RefundStatus.PROCESSING, RefundStatus.FAILED)


def order_deletion_blockers(*, member_id: int) -> list[str]:
    """The member's unfinished orders, open after-sales and refunds not yet back, one line each
    ("待付款的订单 1 笔：202405…"), in the order a shopper would finish them. Three queries.

    The money or goods of these are still moving: deleting now would leave customer service no
    one to reach and the member no way to see the outcome.
    """
    lines: list[str] = []
    orders: dict[str, list[str]] = {}
    for order_no, order_status in (Order.objects.filter(member_id=member_id, status__in=list(_UNFINISHED_ORDERS))
                                   .order_by("id").values_list("order_no", "status")):
        orders.setdefault(order_status, []).append(order_no)
    for order_status, label in _UNFINISHED_ORDERS.items():
        if order_status in orders:
            numbers = orders[order_status]
            lines.append(f"{label} {len(numbers)} 笔：{'、'.join(numbers)}")
    after_sales = list(AfterSale.objects.filter(member_id=member_id, status__in=list(AFTER_SALE_OPEN))
                       .order_by("id").values_list("after_sale_no", flat=True))
    if after_sales:
        lines.append(f"处理中的售后 {len(after_sales)} 笔：{'、'.join(after_sales)}")
    refunds = list(dict.fromkeys(Refund.objects.filter(order__member_id=member_id, status__in=_REFUNDS_ON_THEIR_WAY)
                                 .order_by("id").values_list("order__order_no", flat=True)))
    if refunds:
        lines.append(f"退款未到账的订单 {len(refunds)} 笔：{'、'.join(refunds)}")
    return lines


# --- browsing: favourites and footprints ---------------------------------------------------------


def _product_in_stock() -> Exists:
    return Exists(Stock.objects.filter(sku__product=OuterRef("product_id"), sku__is_active=True, available__gt=0))


def favourite_list_for_member(*, member: Member) -> QuerySet[Favourite]:
    """The member's favourites, newest first, with their products (off-shelf ones included, shown
    as such) and whether any SKU is in stock. Two queries a page (the COUNT and the rows)."""
    return (Favourite.objects.filter(member=member).select_related("product")
            .annotate(in_stock=_product_in_stock()).order_by("-created_at", "-id"))


def footprint_list_for_member(*, member: Member) -> QuerySet[Footprint]:
    """The member's footprints, most recent visit first, like favourite_list_for_member."""
    return (Footprint.objects.filter(member=member).select_related("product")
            .annotate(in_stock=_product_in_stock()).order_by("-viewed_at", "-id"))


def favourite_id_for(*, member: Member | None, product_id: int) -> int | None:
    """The member's favourite row for the product, or None (always None for a guest)."""
    if member is None:
        return None
    return Favourite.objects.filter(member=member, product_id=product_id).values_list("pk", flat=True).first()
