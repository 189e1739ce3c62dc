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

from .cards import (  # noqa: E402
    CARD_PURCHASE_PREFIX,
    CARD_PURCHASE_TRANSITIONS,
    CardPlan,
    CardPurchase,
    CardPurchaseEvent,
    CardPurchaseStatus,
    MemberCard,
    MemberCardPeriod,
    MemberPriceSettings,
    StackingPolicy,
)
from .growth import GrowthEntry, GrowthReason, GrowthRule, TierChange  # noqa: E402
from .signin import SignIn, SignInReward  # noqa: E402

__all__ += [
    "CARD_PURCHASE_PREFIX", "CARD_PURCHASE_TRANSITIONS", "CardPlan", "CardPurchase", "CardPurchaseEvent",
    "CardPurchaseStatus", "GrowthEntry", "GrowthReason", "GrowthRule", "MemberCard", "MemberCardPeriod",
    "MemberPriceSettings", "SignIn", "SignInReward", "StackingPolicy", "TierChange",
]
from .segmentation import MemberAudit, MemberAuditAction, MemberCategoryPurchase, RfmThresholds  # noqa: E402

__all__ += ["MemberAudit", "MemberAuditAction", "MemberCategoryPurchase", "RfmThresholds"]
