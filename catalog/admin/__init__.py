"""The catalog's operator console; importing the modules registers the admins."""

from catalog.admin import freight, products

__all__ = ["freight", "products"]
