"""The shop's operator console, one module per area; importing them registers the admins."""

from shop.admin import aftersales, dashboard, orders, payments

__all__ = ["aftersales", "dashboard", "orders", "payments"]
from shop.admin import reviews  # noqa: F401 (评价管理)
