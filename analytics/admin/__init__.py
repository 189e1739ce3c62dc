"""The analytics console, one module per area; importing them registers the admins."""

from analytics.admin import coupons, dashboard, events, funnels, kpis, search

__all__ = ["coupons", "dashboard", "events", "funnels", "kpis", "search"]
