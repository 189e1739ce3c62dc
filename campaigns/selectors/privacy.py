"""Campaigns' part of a member's privacy rights: their copy of the data, what holds a deletion up."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from campaigns.models import Coupon, Greeting, PointsExchange, PointsExchangeStatus


def campaign_export_sections(*, member_id: int) -> dict[str, Any]:
    """The member's coupons, points-mall exchanges (with the address a gift went to) and birthday or
    anniversary greetings, as JSON-ready sections, oldest first. Only this member's rows; three
    queries whatever the history.
    """
    return {
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
