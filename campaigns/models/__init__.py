"""Campaigns: coupons and how they reach members, 满减 and flash sales, the points mall, greetings,
distribution (分销)."""

from .activities import FlashItem, FlashPurchase, FlashReservation, FlashSession, FullReduction, FullReductionStep
from .bargain import (
    BARGAIN_MACHINE,
    BargainActivity,
    BargainEvent,
    BargainHelp,
    BargainLaunch,
    BargainStatus,
)
from .commissions import Clawback, ClawbackEvent, Commission, CommissionEntry, CommissionEvent, CommissionStatus
from .coupons import (
    Coupon,
    CouponEvent,
    CouponKind,
    CouponQuota,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    GiftRule,
    Validity,
)
from .delivery import Channel, ChannelKind, ChannelScan, CodeBatch, RedeemCode, TargetedIssue
from .distribution import (
    Binding,
    BindingEvent,
    CommissionRate,
    DistributionSettings,
    Distributor,
    DistributorApplication,
    DistributorEvent,
    DistributorGrade,
    DistributorStatus,
)
from .gift_packs import CardGiftPack
from .greetings import Greeting, GreetingKind
from .groupbuy import (
    GROUP_BUY_MACHINE,
    GroupBuy,
    GroupBuyAction,
    GroupBuyActivity,
    GroupBuyAllowance,
    GroupBuyEvent,
    GroupBuyItem,
    GroupBuySeat,
    GroupBuyStatus,
    SeatRole,
    SeatStatus,
)
from .points_mall import PointsExchange, PointsExchangeStatus, PointsMallItem, PointsMallItemKind, PointsMallQuota
from .product_posters import ProductPoster, SharerKind
from .scope import Scope
from .sharing import (
    ActionAllowance,
    DeviceSighting,
    Invitation,
    InviteReward,
    InviteRewardKind,
    InviteRewardOutcome,
    InviteRewardTrigger,
    InviteSettings,
    Share,
    ShareKind,
    ShareOrder,
    ShareSignup,
    ShareVisit,
)
from .withdrawals import Withdrawal, WithdrawalEvent, WithdrawalStatus

__all__ = [
    "BARGAIN_MACHINE", "BargainActivity", "BargainEvent", "BargainHelp", "BargainLaunch", "BargainStatus",
    "ActionAllowance", "DeviceSighting", "Invitation", "InviteReward", "InviteRewardKind", "InviteRewardOutcome",
    "InviteRewardTrigger", "InviteSettings", "Share", "ShareKind", "ShareOrder", "ShareSignup", "ShareVisit",
    "Binding", "BindingEvent", "Clawback", "ClawbackEvent", "Commission", "CommissionEntry", "CommissionEvent",
    "CommissionRate", "CommissionStatus", "DistributionSettings", "Distributor", "DistributorApplication",
    "DistributorEvent", "DistributorGrade", "DistributorStatus", "Withdrawal", "WithdrawalEvent", "WithdrawalStatus",
    "GROUP_BUY_MACHINE", "GroupBuy", "GroupBuyAction", "GroupBuyActivity", "GroupBuyAllowance", "GroupBuyEvent",
    "GroupBuyItem", "GroupBuySeat", "GroupBuyStatus", "SeatRole", "SeatStatus",
    "CardGiftPack", "Channel", "ChannelKind", "ChannelScan", "CodeBatch", "Coupon", "CouponEvent", "CouponKind",
    "CouponQuota", "CouponSource", "CouponStatus", "CouponTemplate", "FlashItem", "FlashPurchase",
    "FlashReservation", "FlashSession", "FullReduction", "FullReductionStep", "GiftRule", "Greeting", "GreetingKind",
    "PointsExchange", "PointsExchangeStatus", "PointsMallItem", "PointsMallItemKind", "PointsMallQuota",
    "ProductPoster", "RedeemCode", "Scope", "SharerKind", "TargetedIssue", "Validity",
]
