"""Export of redemption codes (兑换码) for a partner: the code, its batch, whether it was redeemed.

A CSV starts with a BOM so Excel opens the Chinese correctly; an XLSX keeps every code as text.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from import_export import resources
from import_export.fields import Field

from campaigns.models import RedeemCode


class RedeemCodeResource(resources.ModelResource):
    code = Field(attribute="code", column_name="兑换码")
    batch = Field(attribute="batch__name", column_name="批次")
    partner = Field(attribute="batch__partner", column_name="合作方")
    template = Field(attribute="batch__template__name", column_name="兑换的优惠券")
    status = Field(column_name="状态")
    redeemed_at = Field(column_name="兑换时间")
    member = Field(column_name="兑换会员")

    class Meta:
        model = RedeemCode
        fields = ("code", "batch", "partner", "template", "status", "redeemed_at", "member")
        export_order = fields

    def get_queryset(self) -> Any:
        return RedeemCode.objects.select_related("batch__template", "redeemed_by").order_by("id")

    def dehydrate_status(self, code: RedeemCode) -> str:
        return "已兑换" if code.redeemed_by_id else "未兑换"

    def dehydrate_redeemed_at(self, code: RedeemCode) -> str:
        return timezone.localtime(code.redeemed_at).strftime("%Y-%m-%d %H:%M:%S") if code.redeemed_at else ""

    def dehydrate_member(self, code: RedeemCode) -> str:
        member = code.redeemed_by
        if member is None:
            return ""
        return f"{member}（ID {member.pk}）"


def codes_file(queryset: Any, file_format: str) -> tuple[bytes, str]:
    """The codes of `queryset` as (content, content type): 'csv' (UTF-8 with BOM) or 'xlsx'."""
    dataset = RedeemCodeResource().export(queryset=queryset.select_related("batch__template", "redeemed_by"))
    if file_format == "xlsx":
        return dataset.export("xlsx"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return ("\ufeff" + dataset.export("csv")).encode("utf-8"), "text/csv; charset=utf-8"
