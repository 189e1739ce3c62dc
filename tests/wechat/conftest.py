"""Fixtures for the WeChat tests: a real sandbox over HTTP and a notify target that records.

Nothing of ours is mocked: the code under test talks HTTP to the sandbox, and the sandbox
POSTs notifications to NotifyTarget, a tiny HTTP server standing in for our notify endpoint.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from wechat.pay_v2 import NOTIFY_ACK, WeChatPayV2Gateway, get_gateway
from wechat.sandbox.client import SandboxControl
from wechat.sandbox.server import SandboxServer
from wechat.sandbox.testing import sandbox_for_settings


class NotifyTarget:
    """An HTTP server that records every POSTed body and answers `answer` (the ACK by default)."""

    def __init__(self, answer: bytes = NOTIFY_ACK) -> None:
        self.answer = answer
        self.bodies: list[bytes] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target.bodies.append(body)  # list.append is atomic: concurrent deliveries are safe
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(target.answer)))
                self.end_headers()
                self.wfile.write(target.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api/v1/payments/wechat/notify"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def sandbox_server(settings: Any) -> Iterator[SandboxServer]:
    with sandbox_for_settings(settings) as server:
        yield server


@pytest.fixture
def control(sandbox_server: SandboxServer) -> SandboxControl:
    return SandboxControl(sandbox_server.base_url)


@pytest.fixture
def gateway(sandbox_server: SandboxServer) -> WeChatPayV2Gateway:
    gateway = get_gateway()
    assert isinstance(gateway, WeChatPayV2Gateway)
    return gateway


@pytest.fixture
def notify_target() -> Iterator[NotifyTarget]:
    target = NotifyTarget()
    yield target
    target.stop()


@pytest.fixture
def prepaid(gateway: WeChatPayV2Gateway, notify_target: NotifyTarget) -> Any:
    """A function that prepays a trade of `amount_fen` and returns its out_trade_no."""

    def prepay(out_trade_no: str = "M20261123000001", amount_fen: int = 1999, openid: str = "o-buyer") -> str:
        gateway.prepay(
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            description="婴儿湿巾 80抽×3",
            openid=openid,
            client_ip="203.0.113.7",
            notify_url=notify_target.url,
            expires_at=timezone.now() + dt.timedelta(minutes=30),
        )
        return out_trade_no

    return prepay
