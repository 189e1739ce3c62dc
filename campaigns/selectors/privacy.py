"""Campaigns' part of a member's privacy rights: their copy of the data, what holds a deletion up."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from campaigns.models import (
    Commission,
    Coupon,
    Distributor,
    DistributorApplication,
    Greeting,
    PointsExchange,
    PointsExchangeStatus,
    Withdrawal,
)
from campaigns.models.withdrawals import WithdrawalStatus
from core.money import yuan

# Withdrawals whose money is on its way: the member must still be there to confirm and receive it.
WITHDRAWALS_IN_FLIGHT = [WithdrawalStatus.REQUESTED, WithdrawalStatus.AWAITING_SECOND_APPROVAL,
                         WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING]


def campaign_export_sections(*, member_id: int) -> dict[str, Any]:
    """The member's coupons, points-mall exchanges (with the address a gift went to), birthday or
    anniversary greetings and distribution (the distributor row with its balances, applications,
    commissions earned, withdrawals), as JSON-ready sections, oldest first. Only this member's rows;
    seven queries whatever the history.
    """
    return {
        "distribution": _distribution_section(member_id),
        "coupons": list(Coupon.objects.filter(member_id=member_id).order_by("id").values(
            "status", "source", "valid_from", "valid_until", "discount_fen", "claimed_at", "used_at",
            name=F("template__name"), kind=F("template__kind"))),
        "points_exchanges": list(PointsExchange.objects.filter(member_id=member_id).order_by("id").values(
            "item_name", "points", "status", "receiver_name", "receiver_phone", "address", "tracking_no",
            "created_at", "shipped_at")),
        "greetings": list(Greeting.objects.filter(member_id=member_id).order_by("id").values(
            "kind", "year", "day", "years", "created_at")),
    }


def points_exchange_deletion_blockers(*, member_id: int) -> list[str]:
    """The member's points-mall gifts not shipped yet ("待发货的积分兑换 1 笔"): the address is needed
    until the gift leaves. A settings.MEMBER_DELETION_BLOCKERS reader. One query."""
    waiting = PointsExchange.objects.filter(member_id=member_id,
                                            status=PointsExchangeStatus.AWAITING_SHIPMENT).count()
    return [f"待发货的积分兑换 {waiting} 笔"] if waiting else []


def _distribution_section(member_id: int) -> dict[str, Any]:
    row = (Distributor.objects.filter(member_id=member_id).values(
        "id", "status", "real_name", "phone", "pending_fen", "frozen_fen", "available_fen", "withdrawing_fen",
        "withdrawn_fen", "owed_fen", "created_at", "approved_at").first())
    if row is None:
        return {}
    distributor: dict[str, Any] = dict(row)
    distributor_id: int = distributor.pop("id")
    return {
        "distributor": distributor,
        "applications": list(DistributorApplication.objects.filter(member_id=member_id).order_by("id").values(
            "real_name", "phone", "reason", "extra", "outcome", "reject_reason", "created_at", "decided_at")),
        "commissions": list(Commission.objects.filter(distributor_id=distributor_id).order_by("id").values(
            "level", "order_ref", "product_name", "base_fen", "percent", "amount_fen", "refunded_fen", "status",
            "created_at")),
        "withdrawals": list(Withdrawal.objects.filter(member_id=member_id).order_by("id").values(
            "withdrawal_no", "amount_fen", "fee_fen", "net_fen", "status", "created_at", "paid_at")),
    }


def distribution_deletion_blockers(*, member_id: int) -> list[str]:
    """A withdrawal on its way, or commission the member can still withdraw ("可提现佣金 ¥12.30"): the
    money is theirs and needs them to receive it. Commission still pending or frozen is given up by
    a deletion. A settings.MEMBER_DELETION_BLOCKERS reader. Two queries."""
    blockers = []
    flying = Withdrawal.objects.filter(member_id=member_id, status__in=WITHDRAWALS_IN_FLIGHT).count()
    if flying:
        blockers.append(f"处理中的佣金提现 {flying} 笔")
    available = Distributor.objects.filter(member_id=member_id).values_list("available_fen", flat=True).first()
    if available:
        blockers.append(f"可提现佣金 ¥{yuan(available)}，请先提现")
    return blockers
