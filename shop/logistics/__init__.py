"""Tracking parcels: a provider port, a Kuaidi100-style HTTP adapter and a sandbox adapter.

`get_provider()` returns the adapter named by settings.LOGISTICS_PROVIDER ("sandbox" by
default, "kuaidi100" in production). Only the refresh job calls it; shoppers read the cache.
"""

from __future__ import annotations

from django.conf import settings

from shop.logistics.kuaidi100 import Kuaidi100
from shop.logistics.port import Checkpoint, LogisticsProvider, TrackingResult, TrackingUnavailable
from shop.logistics.sandbox import SandboxLogistics


def get_provider() -> LogisticsProvider:
    name = settings.LOGISTICS_PROVIDER
    if name == "sandbox":
        return SandboxLogistics()
    if name == "kuaidi100":
        return Kuaidi100.from_settings()
    raise ValueError(f"unknown LOGISTICS_PROVIDER {name!r} (sandbox | kuaidi100)")


__all__ = ["Checkpoint", "LogisticsProvider", "TrackingResult", "TrackingUnavailable", "get_provider"]
