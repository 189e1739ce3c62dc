"""The shop's operator console, one module per area; importing them registers the admins."""

from shop.admin import aftersales, orders, pages

__all__ = ["aftersales", "orders", "pages"]
from shop.admin import reviews  # noqa: F401 (评价管理)
