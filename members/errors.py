"""Error codes of members the mini-program and the console can branch on (stable; messages are for people).

Shared by topic: append a section, never rename a code.
"""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound

# --- points (积分) ---------------------------------------------------------------------------------


class PointsInsufficient(Conflict):
    code = "points_insufficient"
    message = "积分不足"


class PointsReferenceReused(Conflict):
    """The same (kind, reference) was already used for a different number of points."""

    code = "points_reference_reused"
    message = "该单号已用于另一笔积分变动"


class PointsAdjustmentNotFound(NotFound):
    code = "points_adjustment_not_found"
    message = "积分调整不存在"


class PointsAdjustmentNotPending(Conflict):
    code = "points_adjustment_not_pending"
    message = "该积分调整已处理，不能再审批或驳回"


class PointsAdjustmentSelfApproval(DomainError):
    status = 403
    code = "points_adjustment_self_approval"
    message = "发起人不能审批自己的积分调整，请由另一位运营审批"
