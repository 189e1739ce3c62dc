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

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wechat.sandbox.server import SandboxServer

_OVERRIDDEN = ("WECHAT_API_BASE", "WECHAT_PAY_API_BASE", "WECHAT_PAY_SECURE_API_BASE", "WECHAT_PAY_MCH_CERT",
               "WECHAT_PAY_MCH_KEY", "WECHAT_PAY_CA_BUNDLE", "WECHAT_PAY_MCH_CERT_SERIAL", "WECHAT_PAY_PUBLIC_KEY")


@contextmanager
def sandbox_for_settings(settings: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
    """Start a SandboxServer with the credentials in `settings`; set WECHAT_API_BASE and
    WECHAT_PAY_API_BASE to it for the duration — and, for refunds, WECHAT_PAY_SECURE_API_BASE
    (its HTTPS listener), the merchant certificate and key it issued (WECHAT_PAY_MCH_CERT/KEY)
    and its CA (WECHAT_PAY_CA_BUNDLE) — and, for Pay v3, WeChat Pay's public key it generated
    (WECHAT_PAY_PUBLIC_KEY; the merchant certificate's serial is read from the certificate); stop
    it and restore them all on exit. The certificates live in a temporary directory of this
    server's own."""
    certificates = tempfile.TemporaryDirectory(prefix="wechat-sandbox-tls-")
    server = SandboxServer(
        host,
        port,
        app_id=settings.WECHAT_APP_ID,
        app_secret=settings.WECHAT_APP_SECRET,
        mch_id=settings.WECHAT_MCH_ID,
        api_key=settings.WECHAT_PAY_API_KEY,
        apiv3_key=settings.WECHAT_PAY_APIV3_KEY,
        public_key_id=settings.WECHAT_PAY_PUBLIC_KEY_ID,
        secure_port=0,
        cert_dir=certificates.name,
    ).start()
    saved = {name: getattr(settings, name, None) for name in _OVERRIDDEN}
    try:
        settings.WECHAT_API_BASE = server.base_url
        settings.WECHAT_PAY_API_BASE = server.pay_base_url
        settings.WECHAT_PAY_SECURE_API_BASE = server.secure_pay_base_url
        settings.WECHAT_PAY_MCH_CERT = str(server.certificates.client_cert)
        settings.WECHAT_PAY_MCH_KEY = str(server.certificates.client_key)
        settings.WECHAT_PAY_CA_BUNDLE = str(server.certificates.ca_cert)
        settings.WECHAT_PAY_MCH_CERT_SERIAL = ""
        settings.WECHAT_PAY_PUBLIC_KEY = str(server.certificates.wechatpay_public_key)
        yield server
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        server.stop()
        certificates.cleanup()
