"""The catalog's operator console; importing the modules registers the admins."""

from catalog.admin import freight, products, search

__all__ = ["freight", "products", "search"]
