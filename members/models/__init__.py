"""Members: identity and profile, addresses, tiers and growth, points, sign-in, paid cards, tags and segments."""

from .cards import (
    CARD_PAYABLE_KIND,
    CARD_PURCHASE_MACHINE,
    CARD_PURCHASE_PREFIX,
    CARD_PURCHASE_TRANSITIONS,
    CardPlan,
    CardPurchase,
    CardPurchaseAction,
    CardPurchaseEvent,
    CardPurchaseStatus,
    MemberCard,
    MemberCardPeriod,
    MemberPriceSettings,
    StackingPolicy,
)
from .growth import GrowthEntry, GrowthReason, GrowthRule, TierChange
from .identity import Address, DeletedIdentity, Gender, Member, MemberToken
from .points import AdjustmentStatus, PointsAdjustment, PointsAllocation, PointsEntry, PointsKind, PointsLot
from .searches import RecentSearch
from .segmentation import MemberAudit, MemberAuditAction, MemberCategoryPurchase, MemberPurchaseRefund, RfmThresholds
from .segments import MemberTag, Segment, SegmentMember, Tag
from .signin import SignIn, SignInReward
from .tiers import Tier

__all__ = [
    "CARD_PAYABLE_KIND", "CARD_PURCHASE_MACHINE", "CARD_PURCHASE_PREFIX", "CARD_PURCHASE_TRANSITIONS", "Address",
    "DeletedIdentity",
    "AdjustmentStatus", "CardPlan", "CardPurchase", "CardPurchaseAction", "CardPurchaseEvent", "CardPurchaseStatus",
    "Gender", "GrowthEntry", "GrowthReason", "GrowthRule", "Member", "MemberAudit", "MemberAuditAction", "MemberCard",
    "MemberCardPeriod", "MemberCategoryPurchase", "MemberPurchaseRefund",
    "MemberPriceSettings", "MemberTag", "MemberToken", "PointsAdjustment", "PointsAllocation", "PointsEntry",
    "PointsKind", "PointsLot", "RecentSearch", "RfmThresholds", "Segment", "SegmentMember", "SignIn", "SignInReward",
    "StackingPolicy", "Tag", "Tier", "TierChange",
]
