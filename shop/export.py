"""A member's copy of their personal information (个人信息副本, PIPL art. 45): one JSON document.

shop is the top selling app, the one that may read every app below it: members (profile, ledgers,
cards, tags, consents), campaigns (coupons, points-mall exchanges, greetings) and its own orders,
after-sales and reviews. Each app lists its own rows (`members.selectors.member_export_sections`,
`campaigns.selectors.privacy.campaign_export_sections`); this module puts them together. Analytics
is not asked: its events are usage records keyed by ids, not information the member gave us, and
they lose the member's ids when the account is deleted.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from campaigns.selectors.privacy import campaign_export_sections
from members.models import Member
from members.selectors import member_export_sections
from shop.models import AfterSale, AfterSaleLine, Order, OrderLine, Review, ReviewPhoto

EXPORT_FORMAT = 1
_ORDER_FIELDS = ("order_no", "status", "receiver_name", "receiver_phone", "province", "city", "district",
                 "address_detail", "goods_total_fen", "discount_fen", "freight_fen", "freight_discount_fen",
                 "points_used", "payable_fen", "paid_fen", "refunded_fen", "refund_state", "buyer_remark",
                 "applied_coupons", "created_at", "paid_at", "shipped_at", "received_at", "cancelled_at",
                 "cancel_reason")
_LINE_FIELDS = ("product_name", "sku_code", "spec_text", "unit_price_fen", "quantity", "goods_total_fen",
                "discount_fen", "payable_fen", "refunded_quantity", "refunded_fen")
_AFTER_SALE_FIELDS = ("after_sale_no", "kind", "status", "reason", "description", "amount_fen", "reject_reason",
                      "return_carrier", "return_tracking_no", "created_at")


def member_data_export(*, member: Member) -> dict[str, Any]:
    """Everything the mall holds about `member`, as plain JSON-ready values, and nothing of anyone else.

    Sections: the profile and the members sections, the campaigns sections, then orders (with their
    lines and packages' numbers), after-sales (with lines and photo URLs) and reviews (with photo
    URLs). A fixed number of queries whatever the member's history (the test holds it to a budget).
    """
    orders = (Order.objects.filter(member_id=member.pk).order_by("id")
              .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")), "shipments"))
    after_sales = (AfterSale.objects.filter(member_id=member.pk).select_related("order").order_by("id")
                   .prefetch_related(Prefetch("lines", queryset=AfterSaleLine.objects.select_related("order_line")
                                              .order_by("id")), "photos"))
    reviews = (Review.objects.filter(member_id=member.pk).select_related("order_line").order_by("id")
               .prefetch_related(Prefetch("photos", queryset=ReviewPhoto.objects.order_by("sort", "id"))))
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        **member_export_sections(member=member),
        **campaign_export_sections(member_id=member.pk),
        "orders": [{**_fields(order, _ORDER_FIELDS),
                    "lines": [_fields(line, _LINE_FIELDS) for line in order.lines.all()],
                    "packages": [{"carrier": shipment.carrier, "tracking_no": shipment.tracking_no}
                                 for shipment in order.shipments.all()]}
                   for order in orders],
        "after_sales": [{**_fields(after_sale, _AFTER_SALE_FIELDS), "order_no": after_sale.order.order_no,
                         "lines": [{"product_name": line.order_line.product_name, "quantity": line.quantity,
                                    "amount_fen": line.amount_fen} for line in after_sale.lines.all()],
                         "photos": [photo.image.url for photo in after_sale.photos.all()]}
                        for after_sale in after_sales],
        "reviews": [{"product_name": review.order_line.product_name, "rating": review.rating, "content": review.content,
                     "is_anonymous": review.is_anonymous, "followup_content": review.followup_content,
                     "reply": review.reply, "created_at": review.created_at,
                     "photos": [photo.image.url for photo in review.photos.all()]}
                    for review in reviews],
    }


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}
