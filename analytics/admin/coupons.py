"""The coupon template page (优惠券) with the GMV of the orders that used each template's coupons.

campaigns' CouponTemplateAdmin shows what campaigns knows (issued, used, expired, cost, budget);
the GMV needs shop's orders, which campaigns cannot read. So analytics registers the page in its
place, the same page with that column and that cell added (Django's unregister / register, the
way a project swaps in its own UserAdmin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from analytics.selectors.coupons import coupon_templates_with_gmv
from campaigns.admin.coupons import CouponTemplateAdmin
from campaigns.models import CouponTemplate
from core.admin import money_display, yuan_text

GMV = "使用订单 GMV"


def _before(items: list[Any], anchor: Any, item: Any) -> list[Any]:
    at = items.index(anchor)
    return [*items[:at], item, *items[at:]]


class CouponTemplateReportAdmin(CouponTemplateAdmin):
    list_display = _before(CouponTemplateAdmin.list_display, "cost", "gmv")

    gmv = money_display("stat_gmv_fen", GMV)

    def get_queryset(self, request: HttpRequest) -> Any:
        return coupon_templates_with_gmv(super().get_queryset(request))

    def number_cells(self, template: CouponTemplate) -> list[tuple[str, Any]]:
        cells = super().number_cells(template)
        gmv = (GMV, yuan_text(template.stat_gmv_fen))  # type: ignore[attr-defined]
        return _before(cells, next(cell for cell in cells if cell[0] == "成本"), gmv)


admin.site.unregister(CouponTemplate)
admin.site.register(CouponTemplate, CouponTemplateReportAdmin)
