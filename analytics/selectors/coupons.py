"""Coupon reports that need orders: what the orders that used a template's coupons paid.

campaigns counts its own rows (campaigns.selectors.stats); the money of the orders is shop's, so
the report that joins the two lives here, above both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from campaigns.models import Coupon, CouponStatus, CouponTemplate
from campaigns.selectors.stats import coupon_templates_with_stats
from shop.models import Order


def coupon_templates_with_gmv(queryset: QuerySet[CouponTemplate]) -> QuerySet[CouponTemplate]:
    """Templates annotated with stat_gmv_fen: what the orders that used their coupons paid, each
    order once. One correlated subquery, so a page of templates is still one query."""
    used_on = Coupon.objects.filter(template=OuterRef(OuterRef("pk")), status=CouponStatus.USED).values("order_id")
    gmv = (Order.objects.filter(pk__in=used_on).order_by().annotate(one=Value(1)).values("one")
           .annotate(total=Sum("paid_fen")).values("total"))
    return queryset.annotate(stat_gmv_fen=Coalesce(Subquery(gmv, output_field=IntegerField()), Value(0)))


@dataclass(frozen=True)
class TemplateStats:
    issued: int
    used: int
    expired: int
    gmv_fen: int
    cost_fen: int
    budget_exhausted: bool


def coupon_template_stats(*, template_id: int, now: dt.datetime | None = None) -> TemplateStats:
    """The numbers of one template, as its console page shows them."""
    templates = coupon_templates_with_stats(CouponTemplate.objects.filter(pk=template_id), now=now)
    row: Any = coupon_templates_with_gmv(templates).get()
    return TemplateStats(issued=row.stat_issued, used=row.stat_used, expired=row.stat_expired,
                         gmv_fen=row.stat_gmv_fen, cost_fen=row.stat_cost_fen,
                         budget_exhausted=bool(row.budget_exhausted))
