"""Members: identity and profile, addresses, loyalty (tiers), tags and segments."""

from .identity import Address, Gender, Member, MemberToken
from .segments import MemberTag, Segment, SegmentMember, Tag
from .tiers import Tier

__all__ = ["Address", "Gender", "Member", "MemberTag", "MemberToken", "Segment", "SegmentMember", "Tag", "Tier"]

from .points import (
    AdjustmentStatus,
    PointsAdjustment,
    PointsAllocation,
    PointsEntry,
    PointsKind,
    PointsLot,
)

__all__ += ["AdjustmentStatus", "PointsAdjustment", "PointsAllocation", "PointsEntry", "PointsKind", "PointsLot"]
from .segmentation import MemberAudit, MemberAuditAction, MemberCategoryPurchase, RfmThresholds  # noqa: E402

__all__ += ["MemberAudit", "MemberAuditAction", "MemberCategoryPurchase", "RfmThresholds"]
