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


# --- distribution (分销) -----------------------------------------------------------------------------


class DistributionDisabled(Conflict):
    code = "distribution_disabled"
    message = "分销功能未开启"


class DistributionSettingsInvalid(DomainError):
    """Settings the rules refuse: three levels (三级分销 is illegal), a rate out of range…;
    `detail.field` names the field."""

    status = 400
    code = "distribution_settings_invalid"
    message = "分销设置有误"


class DistributorNotFound(NotFound):
    code = "distributor_not_found"
    message = "分销员不存在"


class NotADistributor(DomainError):
    status = 403
    code = "not_a_distributor"
    message = "您还不是分销员"


class DistributorInvalidTransition(Conflict):
    code = "distributor_invalid_transition"
    message = "分销员当前状态不允许该操作"


class DistributorAlreadyActive(Conflict):
    code = "distributor_already_active"
    message = "您已经是分销员"


class DistributorApplicationPending(Conflict):
    code = "distributor_application_pending"
    message = "申请审核中，请耐心等待"


class DistributorFrozen(Conflict):
    code = "distributor_frozen"
    message = "分销员账户已冻结"


class DistributionThresholdNotMet(Conflict):
    """满额分销: the member's paid total is below the threshold; `detail.threshold_fen`, `detail.paid_total_fen`."""

    code = "distribution_threshold_not_met"
    message = "累计消费未达到分销门槛"


class DistributorApplicationInvalid(DomainError):
    """A missing or malformed answer on the application form; `detail.field` names it."""

    status = 400
    code = "distributor_application_invalid"
    message = "申请信息填写有误"


class ReasonRequired(DomainError):
    status = 400
    code = "reason_required"
    message = "请填写原因"


class BindingRefused(Conflict):
    """A share did not bind the member. `code` says why: binding_self, binding_cycle,
    binding_distributor_inactive, binding_not_new, binding_has_upline."""

    code = "binding_refused"
    message = "未能绑定分销关系"


class BindingNotFound(NotFound):
    code = "binding_not_found"
    message = "分销关系不存在"


class BindingInvalidTransition(Conflict):
    code = "binding_invalid_transition"
    message = "分销关系当前状态不允许该操作"


class ShareSceneInvalid(DomainError):
    status = 400
    code = "share_scene_invalid"
    message = "分享码无效"


class CommissionNotFound(NotFound):
    code = "commission_not_found"
    message = "佣金记录不存在"


class CommissionInvalidTransition(Conflict):
    code = "commission_invalid_transition"
    message = "佣金当前状态不允许该操作"


class ClawbackInvalidTransition(Conflict):
    code = "clawback_invalid_transition"
    message = "佣金追回当前状态不允许该操作"


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"
    message = "提现记录不存在"


class WithdrawalInvalidTransition(Conflict):
    code = "withdrawal_invalid_transition"
    message = "提现当前状态不允许该操作"


class WithdrawalAmountInvalid(DomainError):
    """Below the minimum, not a whole number of fen, or nothing left after the fee;
    `detail.min_fen` gives the minimum."""

    status = 400
    code = "withdrawal_amount_invalid"
    message = "提现金额有误"


class WithdrawalExceedsAvailable(Conflict):
    """More than the available balance (also: another withdrawal took it first); `detail.available_fen`."""

    code = "withdrawal_exceeds_available"
    message = "可提现余额不足"


class WithdrawalDailyLimitReached(Conflict):
    """Today's withdrawals would pass the daily maximum; `detail.daily_max_fen`, `detail.left_fen`."""

    code = "withdrawal_daily_limit_reached"
    message = "已超过今日提现额度"


class WithdrawalSecondApproverRequired(Conflict):
    code = "second_approval_by_another_operator"
    message = "该提现需由另一位运营复核"



# --- 拼团 ----------------------------------------------------------------------------------------------


class GroupBuyItemNotFound(NotFound):
    code = "group_buy_item_not_found"
    message = "拼团商品不存在"


class GroupBuyActivityNotFound(NotFound):
    code = "group_buy_activity_not_found"
    message = "拼团活动不存在"


class GroupBuyNotFound(NotFound):
    """No such group, or (for "my" reads) not one of the member's."""

    code = "group_buy_not_found"
    message = "拼团不存在"


class GroupBuyNotActive(Conflict):
    code = "group_buy_not_active"
    message = "拼团活动未开始或已结束"


class GroupBuyFull(Conflict):
    code = "group_buy_full"
    message = "该团已满员，可以自己开一个新团"


class GroupBuyClosed(Conflict):
    """The group succeeded, failed or expired: it takes nobody any more."""

    code = "group_buy_closed"
    message = "该团已结束，可以自己开一个新团"


class GroupBuyAlreadyJoined(Conflict):
    code = "group_buy_already_joined"
    message = "你已在这个团中，快邀请好友参团吧"


class GroupBuyNewMembersOnly(DomainError):
    status = 403
    code = "group_buy_new_members_only"
    message = "该团仅限新用户参与"


class GroupBuySoldOut(Conflict):
    code = "group_buy_sold_out"
    message = "拼团商品已抢光"


class GroupBuyLimitExceeded(Conflict):
    code = "group_buy_limit_exceeded"
    message = "超出每人限购数量"


class GroupBuyJoinLimitReached(Conflict):
    """A daily join cap is used up: `detail.limit` names which (per member, per device)."""

    code = "group_buy_join_limit_reached"
    message = "今日参团次数已达上限"


class GroupBuyInvalidTransition(Conflict):
    code = "group_buy_invalid_transition"
    message = "拼团当前状态不允许该操作"


class GroupBuyStockBelowSold(Conflict):
    code = "group_buy_stock_below_sold"
    message = "活动库存不能少于已售出及待支付的数量"


# --- 砍价 (bargain) ---------------------------------------------------------------------------------


class BargainActivityNotFound(NotFound):
    code = "bargain_activity_not_found"
    message = "砍价活动不存在"


class BargainNotActive(Conflict):
    code = "bargain_not_active"
    message = "砍价活动未开始或已结束"


class BargainSoldOut(Conflict):
    code = "bargain_sold_out"
    message = "砍价商品已抢光"


class BargainLaunchNotFound(NotFound):
    code = "bargain_launch_not_found"
    message = "砍价记录不存在"


class BargainInvalidTransition(Conflict):
    code = "bargain_invalid_transition"
    message = "砍价当前状态不允许该操作"


class BargainFinished(Conflict):
    """The launch takes no more help: it reached the floor, was bought, expired or was closed;
    `detail.status` says which."""

    code = "bargain_finished"
    message = "该砍价已结束，不能再帮砍"


class BargainOwnLaunch(Conflict):
    code = "bargain_own_launch"
    message = "不能给自己砍价"


class BargainAlreadyHelped(Conflict):
    code = "bargain_already_helped"
    message = "你已经帮 TA 砍过了"


class BargainHelpLimitReached(Conflict):
    """A help cap is used up: `detail.limit` names which (daily per member, daily per device, per
    helper in this activity)."""

    code = "bargain_help_limit_reached"
    message = "帮砍次数已用完"


class BargainNotBuyable(Conflict):
    """The launch cannot be bought now (not the member's, not at the floor when the activity needs
    it, already ordered, expired); `detail.status` is the launch's status."""

    code = "bargain_not_buyable"
    message = "该砍价当前不能购买"


class BargainPriceChanged(Conflict):
    """A friend cut the price after the preview: preview again; `detail.current_price_fen`."""

    code = "bargain_price_changed"
    message = "砍价价格已变化，请重新确认"


class MemberBlockedFromCampaigns(DomainError):
    """An operator blocked this member from launching, helping, inviting and earning rewards."""

    status = 403
    code = "member_blocked"
    message = "账号存在异常，暂不能参与该活动"


class BargainStockBelowTaken(Conflict):
    code = "bargain_stock_below_taken"
    message = "活动库存不能少于已下单的数量"


class ShareNotFound(NotFound):
    code = "share_not_found"
    message = "分享不存在"
