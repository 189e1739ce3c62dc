"""Celery tasks: thin wrappers that call a service. Safe to run twice. One section per topic."""

from __future__ import annotations

from typing import Any

from celery import shared_task

# --- points (积分) ---------------------------------------------------------------------------------


@shared_task(name="members.tasks.expire_points")
def expire_points() -> int:
    """Lots whose time has come: 过期 rows for what they have left. Returns lots expired."""
    from members.services.points import points_expire_due

    return points_expire_due()


@shared_task(name="members.tasks.remind_expiring_points")
def remind_expiring_points() -> int:
    """积分过期提醒 for lots expiring within POINTS_REMIND_DAYS. Returns members messaged."""
    from members.services.points import points_remind_expiring

    return points_remind_expiring()


@shared_task(name="members.tasks.reconcile_points")
def reconcile_points() -> list[dict[str, Any]]:
    """Ledger sum and lots vs the balance for every member; drifts are logged and returned."""
    from dataclasses import asdict

    from members.services.points import points_reconcile

    return [asdict(drift) for drift in points_reconcile()]


# --- segments (人群) --------------------------------------------------------------------------------


@shared_task(name="members.tasks.evaluate_segments")
def evaluate_segments() -> dict[str, int]:
    """Re-evaluate every segment (nightly): {"segments", "failed", "members"}."""
    from members.services.segments import segments_evaluate_all

    return segments_evaluate_all()


@shared_task(name="members.tasks.evaluate_segment")
def evaluate_segment(segment_id: int) -> int:
    """Evaluate one segment now (the console's 立即计算 on a large segment). Returns its count."""
    from members.services.segments import segment_evaluate

    return segment_evaluate(segment_id=segment_id)


# --- paid cards (付费会员卡) -------------------------------------------------------------------------


@shared_task(name="members.tasks.cancel_expired_card_purchases")
def cancel_expired_card_purchases() -> dict[str, int]:
    """Unpaid card purchases past their deadline: settled with WeChat, else closed and cancelled."""
    from members.services.cards import card_purchases_cancel_expired

    return card_purchases_cancel_expired()


# --- growth tiers (成长等级) -------------------------------------------------------------------------


@shared_task(name="members.tasks.recompute_member_tiers")
def recompute_member_tiers() -> int:
    """Re-tier every member after the tier thresholds changed (the console's 重算会员等级)."""
    from members.services.growth import member_tiers_recompute

    return member_tiers_recompute()
