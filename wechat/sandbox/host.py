"""The project's Django settings, as the sandbox reads them when it runs inside the project.

The sandbox also runs on its own, where Django is not installed or not configured: then every
read answers its default.
"""

from __future__ import annotations

from typing import Any

try:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
except ImportError:  # the sandbox also runs where Django is not installed
    settings = None  # type: ignore[assignment]


def host_setting(name: str, default: Any = None) -> Any:
    """settings.<name> when Django is installed and configured and names it, else `default`."""
    if settings is None:
        return default
    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:
        return default
