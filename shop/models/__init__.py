from .cart import CartItem
from .catalog import Category, Product, ProductImage, ProductTag, Sku, Stock, StockMovement
from .freight import FreightRule, FreightTemplate
from .orders import Order, OrderEvent, OrderLine, OrderLineAdjustment, OrderStatus, Shipment
from .payments import Payment, PaymentNotification, PaymentStatus

__all__ = [
    "CartItem", "Category", "FreightRule", "FreightTemplate", "Order", "OrderEvent", "OrderLine",
    "OrderLineAdjustment", "OrderStatus", "Payment", "PaymentNotification", "PaymentStatus",
    "Product", "ProductImage", "ProductTag", "Shipment", "Sku", "Stock", "StockMovement",
]
