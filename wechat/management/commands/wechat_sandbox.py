"""`manage.py wechat_sandbox [--host 127.0.0.1] [--port 8900]`: serve the WeChat sandbox in the
foreground with the credentials in settings (the run script starts it beside the web server)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from wechat.sandbox.server import SandboxServer


class Command(BaseCommand):
    help = "Serve the local WeChat sandbox (mini-program APIs, Pay v2, notifications, /sandbox/ page)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.WECHAT_SANDBOX_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        # Image-check verdicts are pushed to the mall's message URL, as configured at WeChat.
        server = SandboxServer(host, port, message_url=settings.SITE_URL + reverse("wechat-message-push"))
        self.stdout.write(
            f"WeChat sandbox on {server.base_url} (pay: {server.pay_base_url}); "
            f"phone page: {server.base_url}sandbox/  — Ctrl-C to stop"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
