"""The analytics console, one module per area; importing them registers the admins."""

from analytics.admin import dashboard, events

__all__ = ["dashboard", "events"]
