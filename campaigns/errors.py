"""Error codes of campaigns the mini-program can branch on (stable; the messages are for people)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"
    message = "优惠券不存在"


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    message = "优惠券不存在"


class CouponSoldOut(Conflict):
    code = "coupon_sold_out"
    message = "优惠券已抢光"


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"
    message = "已达领取上限"


class CouponDailyLimitReached(Conflict):
    code = "coupon_daily_limit_reached"
    message = "今日领取已达上限，明天再来"


class CouponBudgetExhausted(Conflict):
    code = "coupon_budget_exhausted"
    message = "活动补贴已发完"


class CouponNotClaimable(DomainError):
    """The member may not claim this template (window, new customers only, tier, segment…).

    `code` says which rule: coupon_inactive, coupon_claim_not_started, coupon_claim_ended,
    coupon_new_customer_only, coupon_tier_restricted, coupon_segment_restricted.
    """

    status = 403
    code = "coupon_not_claimable"
    message = "不符合领取条件"


class FlashNotActive(Conflict):
    code = "flash_not_active"
    message = "秒杀活动未开始或已结束"


class FlashSoldOut(Conflict):
    code = "flash_sold_out"
    message = "已抢光"


class FlashLimitExceeded(Conflict):
    code = "flash_limit_exceeded"
    message = "超出每人限购数量"


class FlashBudgetExhausted(Conflict):
    code = "flash_budget_exhausted"
    message = "活动补贴已用完"


class FlashItemNotFound(NotFound):
    code = "flash_item_not_found"
    message = "秒杀商品不存在"


class FlashSessionNotFound(NotFound):
    code = "flash_session_not_found"
    message = "秒杀场次不存在"
