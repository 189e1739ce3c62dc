"""Campaigns: coupons and how they reach members, 满减 activities and flash sales."""

from .activities import FlashItem, FlashPurchase, FlashReservation, FlashSession, FullReduction, FullReductionStep
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
from .distribution import Channel, ChannelKind, ChannelScan, CodeBatch, RedeemCode, TargetedIssue
from .scope import Scope

__all__ = [
    "Channel", "ChannelKind", "ChannelScan", "CodeBatch", "Coupon", "CouponEvent", "CouponKind", "CouponQuota",
    "CouponSource", "CouponStatus", "CouponTemplate", "FlashItem", "FlashPurchase", "FlashReservation",
    "FlashSession", "FullReduction", "FullReductionStep", "GiftRule", "RedeemCode", "Scope", "TargetedIssue",
    "Validity",
]

from .greetings import Greeting, GreetingKind  # noqa: E402

__all__ += ["Greeting", "GreetingKind"]

from .gift_packs import CardGiftPack  # noqa: E402

__all__ += ["CardGiftPack"]

from .points_mall import (  # noqa: E402
    PointsExchange,
    PointsExchangeStatus,
    PointsMallItem,
    PointsMallItemKind,
    PointsMallQuota,
)

__all__ += ["PointsExchange", "PointsExchangeStatus", "PointsMallItem", "PointsMallItemKind", "PointsMallQuota"]
