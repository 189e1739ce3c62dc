"""Writes of the shop: one function per use case, grouped by topic module."""
