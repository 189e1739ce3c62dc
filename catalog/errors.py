"""Error codes of the catalog the mini-program can branch on (stable; the messages are for people)."""

from __future__ import annotations

from core.errors import Conflict, DomainError


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    message = "库存不足"


class ProductUnavailable(Conflict):
    code = "product_unavailable"
    message = "商品已下架或不存在"


class NotDeliverable(DomainError):
    status = 400
    code = "not_deliverable"
    message = "该地区暂不支持配送"
