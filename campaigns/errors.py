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


class ActivityPriceBelowCost(DomainError):
    """An activity price under the SKU's cost × CAMPAIGN_PRICE_FLOOR, not confirmed (console)."""

    status = 400
    code = "activity_price_below_cost"
    message = "活动价低于成本价"


class BelowCostPermissionRequired(DomainError):
    """A below-cost confirmation by an operator without campaigns.approve_below_cost."""

    status = 403
    code = "below_cost_permission_required"
    message = "没有确认低于成本价的权限"


class FlashStockBelowSold(Conflict):
    code = "flash_stock_below_sold"
    message = "活动库存不能少于已售出及待支付的数量"


class FlashItemInUse(Conflict):
    code = "flash_item_in_use"
    message = "该秒杀商品已有订单"


class CouponUnavailable(Conflict):
    """The coupon is locked by another order, used, or no longer valid (a lost race included)."""

    code = "coupon_unavailable"
    message = "优惠券已被使用或已失效"


class CouponNotUsable(Conflict):
    """A chosen coupon cannot be used on this cart. `code` says why (campaigns.pricing.COUPON_REASONS):
    coupon_threshold_not_met, coupon_not_applicable, coupon_not_started, coupon_expired,
    coupon_not_stackable, coupon_no_freight."""

    code = "coupon_not_usable"
    message = "该优惠券不可用于本订单"


class CouponCombinationInvalid(DomainError):
    status = 400
    code = "coupon_combination_invalid"
    message = "每单最多使用一张商品券和一张运费券"


class ChannelNotFound(NotFound):
    """No active channel has this scene (a code of a channel since disabled, or a made-up scene)."""

    code = "channel_not_found"
    message = "渠道码不存在或已停用"


class CodeInvalid(DomainError):
    status = 400
    code = "invalid_code"
    message = "兑换码格式不正确"


class CodeNotFound(NotFound):
    code = "code_not_found"
    message = "兑换码不存在"


class CodeAlreadyRedeemed(Conflict):
    code = "code_already_redeemed"
    message = "兑换码已被使用"


class CodeImportInvalid(DomainError):
    """An import refused as a whole: `detail["rows"]` lists the offending rows (1-based) and why."""

    status = 400
    code = "code_import_invalid"
    message = "兑换码导入失败，请修改后重新导入"


class CodeQuantityInvalid(DomainError):
    status = 400
    code = "code_quantity_invalid"
    message = "兑换码数量须在 1 到 100000 之间"


class TargetedIssueNotFound(NotFound):
    code = "targeted_issue_not_found"
    message = "定向发放任务不存在"


class TargetedIssueInvalid(DomainError):
    """The target of a 定向发放 is missing or unknown (no segment / tag / member list)."""

    status = 400
    code = "targeted_issue_invalid"
    message = "请选择发放对象"


# --- points mall (积分商城) ---------------------------------------------------------------------------


class PointsMallItemNotFound(NotFound):
    code = "points_mall_item_not_found"
    message = "积分商品不存在"


class PointsMallNotAvailable(Conflict):
    """Off the shelf or outside its window; `detail.reason` says which: inactive, not_started, ended."""

    code = "points_mall_not_available"
    message = "该商品当前不可兑换"


class PointsMallSoldOut(Conflict):
    code = "points_mall_sold_out"
    message = "该商品已兑完"


class PointsMallLimitReached(Conflict):
    code = "points_mall_limit_reached"
    message = "已达每人兑换上限"
