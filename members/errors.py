"""Error codes of members the mini-program and the console can branch on (stable; messages are for people).

Shared by topic: append a section, never rename a code.
"""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, ValidationFailed

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


# --- growth, sign-in, paid cards (成长值 / 签到 / 付费会员卡) -----------------------------------------


class AlreadySignedIn(Conflict):
    code = "already_signed_in"
    message = "今天已经签到过了，明天再来"


class CardPlanNotFound(NotFound):
    code = "card_plan_not_found"
    message = "会员卡方案不存在或已下架"


class CardPurchaseNotFound(NotFound):
    code = "card_purchase_not_found"
    message = "购卡订单不存在"


class CardPurchaseNotPayable(Conflict):
    code = "card_purchase_not_payable"
    message = "购卡订单当前状态不能支付"


class CardPurchaseExpired(Conflict):
    code = "card_purchase_expired"
    message = "购卡订单已超时，请重新下单"


class CardPurchaseAmountMismatch(DomainError):
    status = 400
    code = "card_purchase_amount_mismatch"
    message = "支付金额与购卡订单金额不一致"


# --- profile, account deletion, tags and segments (资料 / 注销 / 标签 / 人群) ------------------------


class BirthdayLocked(Conflict):
    code = "birthday_locked"
    message = "生日设置后不可修改，如需修改请联系客服"


class InvalidBirthday(ValidationFailed):
    code = "invalid_birthday"
    message = "生日有误：不能晚于今天，也不能早于 1900 年"


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "会员不存在"


class MemberDeleted(Conflict):
    code = "member_deleted"
    message = "该会员已注销"


class MemberDeletionBlocked(Conflict):
    """Something the member started is not finished; `detail.unfinished` lists it in people's words."""

    code = "member_deletion_blocked"
    message = "还有未完成的订单或售后，暂不能注销"


class TagNotFound(NotFound):
    code = "tag_not_found"
    message = "标签不存在"


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    message = "人群不存在"


class SegmentRulesInvalid(ValidationFailed):
    code = "invalid_segment_rules"
    message = "人群规则有误"
