from .aftersales import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleKind,
    AfterSaleLine,
    AfterSalePhoto,
    AfterSaleStatus,
    Refund,
    RefundNotification,
    RefundStatus,
)
from .browsing import Favourite, Footprint
from .cart import CartItem
from .orders import (
    ORDER_PAYABLE_KIND,
    Order,
    OrderEvent,
    OrderLine,
    OrderLineAdjustment,
    OrderStatus,
    RefundState,
    Shipment,
)
from .pages import BlockKind, LinkKind, PageBlock, PageBlockItem, ProductRule, StorePage
from .reviews import Review, ReviewPhoto, ReviewStatus
from .shipping import Carrier, LogisticsState, ShipmentLine, ShippingInfoUpload, ShippingUploadState

__all__ = [
    "AfterSale", "AfterSaleEvent", "AfterSaleKind", "AfterSaleLine", "AfterSalePhoto", "AfterSaleStatus",
    "Carrier", "LogisticsState", "Refund", "RefundNotification", "RefundState", "RefundStatus", "Review",
    "ReviewPhoto", "ReviewStatus", "ShipmentLine", "ShippingInfoUpload", "ShippingUploadState",
    "CartItem", "Favourite", "Footprint",
    "Order", "OrderEvent", "OrderLine", "ORDER_PAYABLE_KIND", "OrderLineAdjustment", "OrderStatus",
    "Shipment", "BlockKind", "LinkKind", "PageBlock", "PageBlockItem", "ProductRule", "StorePage",
]
