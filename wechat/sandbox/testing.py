"""Start a sandbox for a test run and point the Django settings at it.

    # tests/conftest.py — one sandbox for the whole suite
    @pytest.fixture(scope="session")
    def wechat_sandbox():
        from django.conf import settings
        with sandbox_for_settings(settings) as server:
            yield server

Pytest-agnostic: `settings` is django.conf.settings or pytest-django's `settings` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wechat.sandbox.server import SandboxServer

_OVERRIDDEN = ("WECHAT_API_BASE", "WECHAT_PAY_API_BASE")


@contextmanager
def sandbox_for_settings(settings: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
    """Start a SandboxServer with the credentials in `settings`; set WECHAT_API_BASE and
    WECHAT_PAY_API_BASE to it for the duration; stop it and restore both on exit."""
    server = SandboxServer(
        host,
        port,
        app_id=settings.WECHAT_APP_ID,
        app_secret=settings.WECHAT_APP_SECRET,
        mch_id=settings.WECHAT_MCH_ID,
        api_key=settings.WECHAT_PAY_API_KEY,
    ).start()
    saved = {name: getattr(settings, name) for name in _OVERRIDDEN}
    try:
        settings.WECHAT_API_BASE = server.base_url
        settings.WECHAT_PAY_API_BASE = server.pay_base_url
        yield server
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        server.stop()
