"""Error codes the mini-program can branch on (stable; the messages are for people)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    message = "库存不足"


class ProductUnavailable(Conflict):
    code = "product_unavailable"
    message = "商品已下架或不存在"


class InvalidTransition(Conflict):
    code = "invalid_order_status"
    message = "订单当前状态不允许该操作"


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = "订单不存在"


class OrderExpired(Conflict):
    code = "order_expired"
    message = "订单已超时，请重新下单"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "该请求标识已用于另一份不同的请求"


class PriceChanged(Conflict):
    code = "price_changed"
    message = "商品价格有变动，请确认后重新提交"


class AddressRequired(DomainError):
    status = 400
    code = "address_required"
    message = "请先填写收货地址"


class NotDeliverable(DomainError):
    status = 400
    code = "not_deliverable"
    message = "该地区暂不支持配送"


class EmptyOrder(DomainError):
    status = 400
    code = "empty_order"
    message = "请选择要购买的商品"
