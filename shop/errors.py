"""Error codes the mini-program can branch on (stable; the messages are for people)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, ValidationFailed
from core.idempotency import IdempotencyKeyReused  # noqa: F401 - part of shop's error codes


class InvalidTransition(Conflict):
    code = "invalid_order_status"
    message = "订单当前状态不允许该操作"


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = "订单不存在"


class OrderExpired(Conflict):
    code = "order_expired"
    message = "订单已超时，请重新下单"


class PriceChanged(Conflict):
    code = "price_changed"
    message = "商品价格有变动，请确认后重新提交"


class AddressRequired(DomainError):
    status = 400
    code = "address_required"
    message = "请先填写收货地址"


class EmptyOrder(DomainError):
    status = 400
    code = "empty_order"
    message = "请选择要购买的商品"


# After-sales

class AfterSaleNotFound(NotFound):
    code = "after_sale_not_found"
    message = "售后单不存在"


class AfterSaleInvalidTransition(Conflict):
    code = "invalid_after_sale_status"
    message = "售后单当前状态不允许该操作"


class RefundNotFound(NotFound):
    code = "refund_not_found"
    message = "退款单不存在"


class RefundInvalidTransition(Conflict):
    code = "invalid_refund_status"
    message = "退款单当前状态不允许该操作"


class OrderNotRefundable(Conflict):
    code = "order_not_refundable"
    message = "该订单当前状态不能申请售后"


class AfterSaleWindowClosed(Conflict):
    code = "after_sale_window_closed"
    message = "已超过售后期限"


class MoreThanBought(ValidationFailed):
    code = "after_sale_more_than_bought"
    message = "申请数量超过购买数量"


class MoreThanLeft(Conflict):
    code = "after_sale_more_than_left"
    message = "申请数量超过可售后数量"


class MixedShipment(ValidationFailed):
    code = "after_sale_mixed_shipment"
    message = "未发货与已发货的商品请分别申请"


class NotShippedYet(Conflict):
    code = "after_sale_not_shipped"
    message = "商品尚未发货，无需退货，请申请仅退款"


class RefundExceedsPaid(Conflict):
    code = "refund_exceeds_paid"
    message = "退款总额不能超过实付金额"


class SecondApproverRequired(Conflict):
    code = "second_approval_by_another_operator"
    message = "该退款金额需要另一位运营复核，不能由同一人审核两次"


class SecondApprovalPermissionRequired(DomainError):
    """The second approval of a large refund by an operator without shop.second_approve_aftersale."""

    status = 403
    code = "second_approval_permission_required"
    message = "您没有“可复核大额退款（二审）”权限，请由财务复核"


class UnitsShippedMeanwhile(Conflict):
    code = "after_sale_units_shipped"
    message = "申请退款的商品已发货，请拒绝该申请并让买家申请退货退款"


# Reviews

class OrderLineNotFound(NotFound):
    code = "order_line_not_found"
    message = "订单商品不存在"


class ReviewNotFound(NotFound):
    code = "review_not_found"
    message = "评价不存在"


class ReviewInvalidTransition(Conflict):
    code = "invalid_review_status"
    message = "评价当前状态不允许该操作"


class ReviewNotAllowed(Conflict):
    code = "review_not_allowed"
    message = "确认收货后才能评价"


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    message = "该商品已评价过了"


class FollowupExists(Conflict):
    code = "followup_exists"
    message = "每条评价只能追评一次"


class ContentRisky(ValidationFailed):
    code = "content_risky"
    message = "评价内容包含违规信息，请修改后重新提交"


class ReviewPhotoInvalid(ValidationFailed):
    code = "review_photo_not_found"
    message = "图片不存在或已被使用，请重新上传"


class UploadLimitReached(DomainError):
    status = 429
    code = "upload_limit_reached"
    message = "上传的图片过多，请先提交评价或稍后再试"


# Members & loyalty at checkout

class PointsExceedLimit(Conflict):
    """More points than this order may use (at most POINTS_MAX_PERCENT_OF_GOODS of the goods
    still payable, whole points); detail.max_points says how many it may."""

    code = "points_exceed_limit"
    message = "使用积分超过本单可抵扣上限"


class EarlyAccessOnly(DomainError):
    """A product in its early-access window (新品优先购), for a member whose tier may not buy it yet."""

    status = 403
    code = "early_access_only"
    message = "新品优先购期间仅限指定等级会员购买"


# Browsing: favourites and footprints

class FavouriteNotFound(NotFound):
    code = "favourite_not_found"
    message = "收藏不存在"


class FootprintNotFound(NotFound):
    code = "footprint_not_found"
    message = "浏览记录不存在"


class StorePageNotFound(NotFound):
    code = "page_not_found"
    message = "页面不存在或未启用"
