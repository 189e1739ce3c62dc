"""The shop's operator console, one module per area; importing them registers the admins."""

from shop.admin import catalog, dashboard, freight, orders, payments

__all__ = ["catalog", "dashboard", "freight", "orders", "payments"]
