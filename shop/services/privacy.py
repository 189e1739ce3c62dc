"""What account deletion (注销) means for the shop's rows, and the retention job after it.

Orders are transaction records the law makes us keep: the E-Commerce Law (电子商务法 art. 31)
requires transaction information to be kept at least three years from the transaction's completion.
So a deleted member's orders stay, with the receiver masked (张** / 139****1111 / province and city
only) for ORDER_PII_RETENTION_DAYS after the order's last step; then `orders_anonymise_expired`
erases the receiver, the remarks, the tracking trace and the after-sale evidence for good. What the
law does not require goes at once: review photos, the reviewer's name (the review shows as
anonymous; its stars and words stay with the product).

Files leave storage after the commit that deleted their rows: a rolled-back transaction never loses
a photo, and a storage failure is logged (the row is gone; the object is an orphan to sweep).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Greatest
from django.utils import timezone

from catalog.services import product_review_summary_set
from core.privacy import mask_name, mask_phone
from shop.models import AfterSale, AfterSalePhoto, Order, Review, ReviewPhoto, Shipment
from shop.selectors import review_summary_counts
from wechat.media_checks import media_checks_delete

logger = logging.getLogger(__name__)

_ORDER_MASK_FIELDS = ["receiver_name", "receiver_phone", "district", "address_detail", "buyer_remark"]
_ORDER_ERASE_FIELDS = [*_ORDER_MASK_FIELDS, "province", "city", "operator_remark"]
# An order still carrying more than a masked receiver: its street address.
_NOT_MASKED = ~Q(address_detail="") | ~Q(district="") | ~Q(buyer_remark="")
# An order still carrying anything of the receiver.
_NOT_ANONYMISED = (~Q(receiver_name="") | ~Q(receiver_phone="") | ~Q(province="") | ~Q(city="")
                   | ~Q(address_detail="") | ~Q(operator_remark=""))


def orders_forget_member(*, member_id: int) -> int:
    """A deleted member's orders: receiver masked, street address, remark and tracking trace erased.

    "张三丰 13912341111 广东省深圳市南山区科技园 1 号" becomes "张** 139****1111 广东省深圳市";
    the buyer's remark and the packages' tracking trace (couriers write names and addresses in it)
    are cleared; amounts, lines, packages' numbers and the audit trail stay. Idempotent (masking a
    masked order changes nothing). A member-deleted hook (settings.MEMBER_DELETED_HOOKS), run after
    the deletion committed; if it fails, the nightly `orders_anonymise_expired` masks what it left.
    Outermost transaction; locks the member's orders by id. Returns the number of orders masked.
    """
    with transaction.atomic(durable=True):
        orders = list(Order.objects.select_for_update().filter(member_id=member_id).filter(_NOT_MASKED)
                      .order_by("id"))
        _mask(orders)
    return len(orders)


def reviews_forget_member(*, member_id: int) -> int:
    """A deleted member's reviews: shown as anonymous, their photos (and any unattached uploads of
    review or after-sale photos) deleted, `has_photos` cleared. The stars and the words stay: they
    are about the product and name no one once the author is anonymous.

    Idempotent. A member-deleted hook, after the deletion committed. Outermost transaction; files
    leave storage after it commits. Returns the number of photos deleted.
    """
    with transaction.atomic(durable=True):
        shown = Review.objects.filter(member_id=member_id).filter(Q(is_anonymous=False) | Q(has_photos=True))
        # Reviews with photos no longer count as 有图 on their product pages.
        for product_id in sorted(set(shown.filter(has_photos=True).values_list("product_id", flat=True))):
            transaction.on_commit(partial(_review_summary_refresh, product_id), robust=True)
        shown.update(is_anonymous=True, has_photos=False)
        names = _photos_delete(ReviewPhoto.objects.filter(Q(review__member_id=member_id) | Q(member_id=member_id)))
        upload_names = _photos_delete(AfterSalePhoto.objects.filter(member_id=member_id, after_sale__isnull=True))
        _delete_files_after_commit(_field_storage(ReviewPhoto), names)
        _delete_files_after_commit(_field_storage(AfterSalePhoto), upload_names)
    return len(names) + len(upload_names)


def _review_summary_refresh(product_id: int) -> None:
    # shop.services.reviews.review_summary_refresh, which this layer may not import.
    product_review_summary_set(product_id=product_id, values=review_summary_counts(product_id=product_id))


def orders_anonymise_expired(*, now: dt.datetime | None = None, batch_size: int = 200) -> dict[str, int]:
    """The nightly retention job: deleted members' orders past ORDER_PII_RETENTION_DAYS anonymised.

    An order's retention runs from its last step (placed, paid, shipped, received or cancelled).
    Past it, the receiver's name, phone and whole address, both remarks, the tracking trace, the
    after-sales' descriptions and their photos are erased; what is left is a sale with no person.
    Orders of deleted members not yet masked (a failed member-deleted hook) are masked on the way.
    Active members' orders are never touched.

    Claims orders with `select_for_update(skip_locked=True)` in chunks of `batch_size`, one
    transaction per chunk, so it never waits for a checkout and two runs never do the same order;
    safe to run twice (an anonymised order no longer matches). Returns {"masked", "anonymised"}.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ORDER_PII_RETENTION_DAYS)
    deleted = Order.objects.filter(member__deleted_at__isnull=False)
    expired = (deleted.alias(last_step=Greatest("created_at", "paid_at", "shipped_at", "received_at",
                                                "cancelled_at"))
               .filter(last_step__lt=cutoff).filter(_NOT_ANONYMISED))
    anonymised = _in_chunks(expired, batch_size, _anonymise)
    masked = _in_chunks(deleted.filter(_NOT_MASKED), batch_size, _mask)
    if masked or anonymised:
        logger.info("orders retention: %s masked, %s anonymised", masked, anonymised)
    return {"masked": masked, "anonymised": anonymised}


def _in_chunks(queryset: Any, batch_size: int, apply: Any) -> int:
    done = 0
    while True:
        with transaction.atomic(durable=True):
            chunk = list(queryset.select_for_update(skip_locked=True, of=("self",)).order_by("id")[:batch_size])
            apply(chunk)
        done += len(chunk)
        if len(chunk) < batch_size:
            return done


def _mask(orders: list[Order]) -> None:
    """Under the orders' locks: receiver masked, street address and remark gone, trace cleared."""
    for order in orders:
        order.receiver_name = mask_name(order.receiver_name)
        order.receiver_phone = mask_phone(order.receiver_phone)
        order.district = order.address_detail = order.buyer_remark = ""
    Order.objects.bulk_update(orders, _ORDER_MASK_FIELDS)
    Shipment.objects.filter(order__in=orders).exclude(checkpoints=[]).update(checkpoints=[])


def _anonymise(orders: list[Order]) -> None:
    """Under the orders' locks: nothing of the receiver left; after-sale evidence deleted."""
    for order in orders:
        for name in _ORDER_ERASE_FIELDS:
            setattr(order, name, "")
    Order.objects.bulk_update(orders, _ORDER_ERASE_FIELDS)
    Shipment.objects.filter(order__in=orders).exclude(checkpoints=[]).update(checkpoints=[])
    AfterSale.objects.filter(order__in=orders).exclude(description="").update(description="")
    names = _photos_delete(AfterSalePhoto.objects.filter(after_sale__order__in=orders))
    _delete_files_after_commit(_field_storage(AfterSalePhoto), names)


def _photos_delete(photos: Any) -> list[str]:
    """Delete member photos with their WeChat image checks (which hold the openid they were checked
    under), checks first as a verdict locks them; returns the photos' file names."""
    rows = list(photos.values_list("image", "media_check_id"))
    media_checks_delete(ids=[check_id for _, check_id in rows if check_id])
    photos.delete()
    return [name for name, _ in rows]


def _field_storage(model: Any) -> Storage:
    storage = model._meta.get_field("image").storage
    return storage if storage is not None else default_storage


def _delete_files_after_commit(storage: Storage, names: Iterable[str]) -> None:
    names = [name for name in names if name]

    def delete() -> None:
        for name in names:
            try:
                storage.delete(name)
            except Exception:  # storage trouble (logged) must not undo the erasure of the rows
                logger.warning("privacy: file %s not deleted", name, exc_info=True)

    if names:
        transaction.on_commit(delete)
