"""Operator point adjustments (后台调整) with maker-checker: above POINTS_ADJUST_APPROVAL_ABOVE points
either way, a second operator approves before the ledger row is written.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.operators import operator_id
from members.errors import (
    PointsAdjustmentNotFound,
    PointsAdjustmentNotPending,
    PointsAdjustmentSelfApproval,
    PointsInsufficient,
)
from members.models import AdjustmentStatus, Member, PointsAdjustment, PointsEntry, PointsKind
from members.services.points import MAX_POINTS, PointsLedgerDrift, points_award, points_operator_deduct


def points_adjustment_needs_approval(*, delta: int) -> bool:
    """More than POINTS_ADJUST_APPROVAL_ABOVE points either way needs a second operator."""
    return abs(delta) > settings.POINTS_ADJUST_APPROVAL_ABOVE


def points_adjustment_create(*, member_id: int, delta: int, reason: str, operator: AbstractBaseUser | None,
                             now: dt.datetime | None = None) -> PointsAdjustment:
    """An operator adds (delta > 0) or deducts (delta < 0) points, with a reason.

    At or below the threshold it applies at once (后台调整 row, operator recorded). Above it the
    request waits (待审批) for another operator: points_adjustment_approve. A deduction the
    balance cannot cover now raises PointsInsufficient and nothing is saved (approval checks
    again). Outermost transaction.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写调整原因", code="points_adjustment_reason_required")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise ValidationFailed("调整积分须为非零整数", code="invalid_points")
    if abs(delta) > MAX_POINTS:
        raise ValidationFailed("调整积分过大", code="invalid_points")
    current = Member.objects.filter(pk=member_id).values_list("points_balance", flat=True).first()
    if current is None:
        raise NotFound("会员不存在", code="member_not_found")
    if delta < 0 and current < -delta:
        # A courtesy for the maker: the checker would be refused anyway (the approval's
        # conditional UPDATE is what guarantees it).
        raise PointsInsufficient(detail={"required": -delta, "balance": current})
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        adjustment = PointsAdjustment.objects.create(member_id=member_id, delta=delta, reason=reason[:200],
                                                     created_by_id=operator_id(operator))
        if not points_adjustment_needs_approval(delta=delta):
            _adjustment_apply(adjustment, operator=operator, now=now)
    return adjustment


def points_adjustment_approve(*, adjustment_id: int, operator: AbstractBaseUser | None,
                              now: dt.datetime | None = None) -> PointsAdjustment:
    """A second operator approves a pending adjustment: the ledger row is written now.

    The operator who asked cannot approve (PointsAdjustmentSelfApproval, 403). Approving one
    already applied by the same operator returns it unchanged (a double click); anything else
    not pending raises PointsAdjustmentNotPending. A deduction the balance no longer covers
    raises PointsInsufficient and the request stays pending. Outermost transaction; locks the
    request row, then the member.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        adjustment = _adjustment_locked(adjustment_id)
        if (adjustment.status == AdjustmentStatus.APPLIED and operator is not None
                and adjustment.decided_by_id == operator.pk):
            return adjustment
        if adjustment.status != AdjustmentStatus.PENDING:
            raise PointsAdjustmentNotPending(detail={"status": adjustment.status})
        if operator is None or operator.pk == adjustment.created_by_id:
            raise PointsAdjustmentSelfApproval()
        adjustment.decided_by_id = operator.pk
        adjustment.decided_at = now
        _adjustment_apply(adjustment, operator=operator, now=now)
    return adjustment


def points_adjustment_reject(*, adjustment_id: int, operator: AbstractBaseUser | None, reason: str = "",
                             now: dt.datetime | None = None) -> PointsAdjustment:
    """Turn down (or, by its own maker, withdraw) a pending adjustment; no points move.

    Rejecting one already rejected returns it unchanged; an applied one raises
    PointsAdjustmentNotPending. Outermost transaction; locks the request row.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        adjustment = _adjustment_locked(adjustment_id)
        if adjustment.status == AdjustmentStatus.REJECTED:
            return adjustment
        if adjustment.status != AdjustmentStatus.PENDING:
            raise PointsAdjustmentNotPending(detail={"status": adjustment.status})
        adjustment.status = AdjustmentStatus.REJECTED
        adjustment.decided_by_id = operator_id(operator)
        adjustment.decided_at = now
        adjustment.reject_reason = (reason or "").strip()[:200]
        adjustment.save(update_fields=["status", "decided_by", "decided_at", "reject_reason"])
    return adjustment


def _adjustment_locked(adjustment_id: int) -> PointsAdjustment:
    adjustment = PointsAdjustment.objects.select_for_update().filter(pk=adjustment_id).first()
    if adjustment is None:
        raise PointsAdjustmentNotFound()
    return adjustment


def _adjustment_apply(adjustment: PointsAdjustment, *, operator: AbstractBaseUser | None, now: dt.datetime) -> None:
    reference = f"adjust:{adjustment.pk}"
    entry: PointsEntry | None
    if adjustment.delta > 0:
        entry = points_award(member_id=adjustment.member_id, points=adjustment.delta, kind=PointsKind.ADJUSTMENT,
                             reference=reference, operator=operator, note=adjustment.reason, now=now)
    else:
        entry = points_operator_deduct(member_id=adjustment.member_id, points=-adjustment.delta,
                                       reference=reference, note=adjustment.reason, operator=operator, now=now)
    if entry is None:  # cannot happen: the reference is this request's own
        raise PointsLedgerDrift(f"adjustment {adjustment.pk} was already applied")
    adjustment.status = AdjustmentStatus.APPLIED
    adjustment.entry = entry
    adjustment.decided_at = adjustment.decided_at or now
    adjustment.save(update_fields=["status", "entry", "decided_by", "decided_at"])
