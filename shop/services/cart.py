"""Cart writes. Lines that became invalid stay in the cart and are shown with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.errors import ProductUnavailable
from catalog.models import Sku
from core.errors import DomainError, NotFound, ValidationFailed
from members.models import Member
from shop.errors import EarlyAccessOnly, OrderNotFound
from shop.models import CartItem, Order
from shop.services.orders import early_access_check


def _check_quantity(quantity: int) -> None:
    if quantity < 1 or quantity > settings.ORDER_MAX_LINE_QUANTITY:
        raise ValidationFailed(f"数量须在 1 到 {settings.ORDER_MAX_LINE_QUANTITY} 之间",
                               code="invalid_quantity")


def cart_add(*, member: Member, sku_id: int, quantity: int) -> CartItem:
    """Add units of a sellable SKU; adding a SKU already in the cart increases its quantity.
    A product in its early-access window is refused (403 early_access_only) to a member whose
    tier may not buy it yet (shop.services.orders.early_access_check)."""
    _check_quantity(quantity)
    sku = Sku.objects.filter(pk=sku_id, is_active=True, product__is_on_shelf=True).first()
    if sku is None:
        raise ProductUnavailable(detail={"sku_id": sku_id})
    early_access_check(member_id=member.pk, product_ids={sku.product_id}, now=timezone.now())
    with transaction.atomic(durable=True):
        item = CartItem.objects.select_for_update().filter(member=member, sku=sku).first()
        if item is not None:
            new_quantity = item.quantity + quantity
            _check_quantity(new_quantity)
            CartItem.objects.filter(pk=item.pk).update(quantity=F("quantity") + quantity, selected=True,
                                                       price_fen_when_added=sku.price_fen)
            item.refresh_from_db()
            return item
        if CartItem.objects.filter(member=member).count() >= settings.CART_MAX_ITEMS:
            raise ValidationFailed("购物车已满，请先结算或删除部分商品", code="cart_full")
        try:
            with transaction.atomic():
                return CartItem.objects.create(member=member, sku=sku, quantity=quantity,
                                               price_fen_when_added=sku.price_fen)
        except IntegrityError:  # a double tap raced us: add to the line it created
            CartItem.objects.filter(member=member, sku=sku).update(quantity=F("quantity") + quantity)
            return CartItem.objects.get(member=member, sku=sku)


def _item_for_member(member: Member, item_id: int) -> CartItem:
    item = CartItem.objects.filter(member=member, pk=item_id).first()
    if item is None:
        raise NotFound("购物车中没有该商品", code="cart_item_not_found")
    return item


def cart_update(*, member: Member, item_id: int, quantity: int | None = None,
                selected: bool | None = None) -> CartItem:
    """Change a line's quantity and/or selection. Re-selecting refreshes the price seen."""
    item = _item_for_member(member, item_id)
    fields = []
    if quantity is not None:
        _check_quantity(quantity)
        item.quantity = quantity
        fields.append("quantity")
    if selected is not None:
        item.selected = selected
        fields.append("selected")
    if fields:
        item.save(update_fields=[*fields, "updated_at"])
    return item


def cart_acknowledge_price(*, member: Member, item_id: int) -> CartItem:
    """The shopper saw the new price: stop flagging the line as changed."""
    item = _item_for_member(member, item_id)
    CartItem.objects.filter(pk=item.pk).update(price_fen_when_added=item.sku.price_fen)
    item.refresh_from_db()
    return item


def cart_remove(*, member: Member, item_id: int) -> None:
    deleted, _ = CartItem.objects.filter(member=member, pk=item_id).delete()
    if not deleted:
        raise NotFound("购物车中没有该商品", code="cart_item_not_found")


def cart_select_all(*, member: Member, selected: bool) -> int:
    return CartItem.objects.filter(member=member).update(selected=selected)


@dataclass(frozen=True)
class BuyAgainSkip:
    """A line of the past order that could not go back into the cart, and why."""

    sku_id: int
    product_name: str
    code: str
    reason: str


def cart_add_from_order(*, member: Member, order_no: str) -> tuple[list[int], list[BuyAgainSkip]]:
    """再次购买: put the SKUs of one of the member's orders back into the cart, each with the
    quantity bought (added to what the cart already holds, and selected). Lines that cannot go in
    (off the shelf, early access, the cart full, too many units) are skipped and said why; the
    others still go in, each through cart_add (its own transaction). OrderNotFound (404) for
    anyone else's order or an unknown number. Returns the SKU ids added and the skipped lines."""
    order = Order.objects.filter(member=member, order_no=order_no).first()
    if order is None:
        raise OrderNotFound()
    quantities: dict[int, int] = {}
    names: dict[int, str] = {}
    for sku_id, name, quantity in order.lines.order_by("id").values_list("sku_id", "product_name", "quantity"):
        quantities[sku_id] = quantities.get(sku_id, 0) + quantity
        names.setdefault(sku_id, name)
    added: list[int] = []
    skipped: list[BuyAgainSkip] = []
    for sku_id, quantity in quantities.items():
        try:
            cart_add(member=member, sku_id=sku_id, quantity=min(quantity, settings.ORDER_MAX_LINE_QUANTITY))
        except (ProductUnavailable, EarlyAccessOnly, ValidationFailed) as error:
            skipped.append(_skip(sku_id, names[sku_id], error))
        else:
            added.append(sku_id)
    return added, skipped


def _skip(sku_id: int, name: str, error: DomainError) -> BuyAgainSkip:
    return BuyAgainSkip(sku_id=sku_id, product_name=name, code=error.code, reason=str(error.message))
