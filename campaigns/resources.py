"""Exports: redemption codes (兑换码) for a partner (the code, its batch, whether it was redeemed), and
the distribution console's distributors, commission records and withdrawals.

A CSV starts with a BOM so Excel opens the Chinese correctly; an XLSX keeps every code as text.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from import_export import resources
from import_export.fields import Field

from campaigns.models import Commission, Distributor, RedeemCode, Withdrawal
from core.privacy import console_phone
from core.resources import YuanWidget


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


# --- distribution (分销) exports ----------------------------------------------------------------------


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class DistributorExportResource(resources.ModelResource):
    id = Field(attribute="id", column_name="分销员ID")
    real_name = Field(attribute="real_name", column_name="真实姓名")
    phone = Field(column_name="手机号")
    member = Field(column_name="会员")
    status = Field(column_name="状态")
    grade = Field(column_name="等级")
    pending = Field(attribute="pending_fen", column_name="待收货佣金（元）", widget=YuanWidget())
    frozen = Field(attribute="frozen_fen", column_name="冻结佣金（元）", widget=YuanWidget())
    available = Field(attribute="available_fen", column_name="可提现（元）", widget=YuanWidget())
    withdrawn = Field(attribute="withdrawn_fen", column_name="已提现（元）", widget=YuanWidget())
    owed = Field(attribute="owed_fen", column_name="待扣回（元）", widget=YuanWidget())
    approved = Field(column_name="成为分销员时间")

    class Meta:
        model = Distributor
        name = "分销员"
        fields = ("id", "real_name", "phone", "member", "status", "grade", "pending", "frozen", "available",
                  "withdrawn", "owed", "approved")
        export_order = fields

    def get_queryset(self) -> Any:
        return Distributor.objects.select_related("member", "grade").order_by("id")

    def dehydrate_phone(self, distributor: Distributor) -> str:
        return console_phone(distributor.phone)

    def dehydrate_member(self, distributor: Distributor) -> str:
        return str(distributor.member)

    def dehydrate_status(self, distributor: Distributor) -> str:
        return distributor.get_status_display()

    def dehydrate_grade(self, distributor: Distributor) -> str:
        return str(distributor.grade or "")

    def dehydrate_approved(self, distributor: Distributor) -> str:
        return _local(distributor.approved_at)


class CommissionExportResource(resources.ModelResource):
    id = Field(attribute="id", column_name="佣金ID")
    distributor = Field(column_name="分销员")
    level = Field(column_name="层级")
    order_ref = Field(attribute="order_ref", column_name="订单号")
    product_name = Field(attribute="product_name", column_name="商品")
    base = Field(attribute="base_fen", column_name="计佣金额（元）", widget=YuanWidget())
    percent = Field(attribute="percent", column_name="佣金比例（%）")
    amount = Field(attribute="amount_fen", column_name="佣金（元）", widget=YuanWidget())
    refunded = Field(attribute="refunded_fen", column_name="已退回（元）", widget=YuanWidget())
    status = Field(column_name="状态")
    created = Field(column_name="产生时间")
    settle = Field(column_name="可提现时间")

    class Meta:
        model = Commission
        name = "佣金记录"
        fields = ("id", "distributor", "level", "order_ref", "product_name", "base", "percent", "amount",
                  "refunded", "status", "created", "settle")
        export_order = fields

    def get_queryset(self) -> Any:
        return Commission.objects.select_related("distributor").order_by("id")

    def dehydrate_distributor(self, commission: Commission) -> str:
        return str(commission.distributor)

    def dehydrate_level(self, commission: Commission) -> str:
        return commission.get_level_display()

    def dehydrate_status(self, commission: Commission) -> str:
        return commission.get_status_display()

    def dehydrate_created(self, commission: Commission) -> str:
        return _local(commission.created_at)

    def dehydrate_settle(self, commission: Commission) -> str:
        return _local(commission.settle_at)


class WithdrawalExportResource(resources.ModelResource):
    withdrawal_no = Field(attribute="withdrawal_no", column_name="提现单号")
    distributor = Field(column_name="分销员")
    amount = Field(attribute="amount_fen", column_name="提现金额（元）", widget=YuanWidget())
    fee = Field(attribute="fee_fen", column_name="手续费（元）", widget=YuanWidget())
    net = Field(attribute="net_fen", column_name="到账金额（元）", widget=YuanWidget())
    status = Field(column_name="状态")
    reason = Field(column_name="驳回/失败原因")
    created = Field(column_name="申请时间")
    paid = Field(column_name="到账时间")

    class Meta:
        model = Withdrawal
        name = "提现"
        fields = ("withdrawal_no", "distributor", "amount", "fee", "net", "status", "reason", "created", "paid")
        export_order = fields

    def get_queryset(self) -> Any:
        return Withdrawal.objects.select_related("distributor").order_by("id")

    def dehydrate_distributor(self, withdrawal: Withdrawal) -> str:
        return str(withdrawal.distributor)

    def dehydrate_status(self, withdrawal: Withdrawal) -> str:
        return withdrawal.get_status_display()

    def dehydrate_reason(self, withdrawal: Withdrawal) -> str:
        return withdrawal.reject_reason or withdrawal.fail_reason

    def dehydrate_created(self, withdrawal: Withdrawal) -> str:
        return _local(withdrawal.created_at)

    def dehydrate_paid(self, withdrawal: Withdrawal) -> str:
        return _local(withdrawal.paid_at)
