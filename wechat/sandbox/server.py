"""The sandbox's HTTP server: routes WeChat's paths and the control paths to plain handlers.

    server = SandboxServer(port=0).start()   # credentials default to Django settings
    server.base_url       # "http://127.0.0.1:54123/"      -> settings.WECHAT_API_BASE
    server.pay_base_url   # "http://127.0.0.1:54123/pay/"  -> settings.WECHAT_PAY_API_BASE
    server.secure_pay_base_url  # "https://127.0.0.1:54124/pay/" -> WECHAT_PAY_SECURE_API_BASE
    server.certificates   # CA (-> WECHAT_PAY_CA_BUNDLE), merchant cert and key (-> WECHAT_PAY_MCH_*),
                          # WeChat Pay's public key (-> WECHAT_PAY_PUBLIC_KEY)
    server.stop()

The HTTPS listener serves the same routes but completes a TLS handshake only with a client
certificate signed by the sandbox's CA (wechat.sandbox.tls): the certificate-only APIs
(refunds) answer only there, as WeChat's secapi does.

Served by `http.server.ThreadingHTTPServer` (a thread per request, so a notify delivery that
calls back into a server which calls the sandbox again cannot deadlock).
"""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wechat.sandbox import (
    control,
    faults,
    message_api,
    miniprogram_api,
    page,
    pay_api,
    push,
    refund_api,
    security_api,
    shipping_api,
    shop,
    transfer_api,
    wxacode_api,
)
from wechat.sandbox.host import host_setting
from wechat.sandbox.state import SandboxState
from wechat.sandbox.tls import (
    CLIENT_CERT_HEADER,
    HANDSHAKE_TIMEOUT_SECONDS,
    SandboxCertificates,
    issue_certificates,
    peer_common_name,
    server_context,
)
from wechat.sandbox.v3wire import V3Keys
from wechat.sandbox.web import Request, Response, json_response, redirect

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20

Handler = Callable[[SandboxState, Request], Response]
WECHAT_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/sns/jscode2session"): miniprogram_api.jscode2session,
    ("POST", "/cgi-bin/stable_token"): miniprogram_api.stable_token,
    ("GET", "/cgi-bin/token"): miniprogram_api.plain_token,
    ("POST", "/wxa/business/getuserphonenumber"): miniprogram_api.getuserphonenumber,
    ("POST", "/pay/pay/unifiedorder"): pay_api.unifiedorder,
    ("POST", "/pay/pay/orderquery"): pay_api.orderquery,
    ("POST", "/pay/pay/closeorder"): pay_api.closeorder,
    # Feature modules add their WeChat paths through their own ROUTES.
    **refund_api.ROUTES,
    **shipping_api.ROUTES,
    **security_api.ROUTES,
    **message_api.ROUTES,
    **wxacode_api.ROUTES,
    **transfer_api.ROUTES,
}
# WeChat's REST paths that carry a parameter (Pay v3: the bill number): method, whole-path pattern,
# handler (which reads the parameter from the path).
WECHAT_PATH_ROUTES = (*transfer_api.PATH_ROUTES,)
FEATURE_CONTROLS = (refund_api.control, shipping_api.control, security_api.control, message_api.control,
                    wxacode_api.control, transfer_api.control, push.control, faults.control)


def dispatch(state: SandboxState, request: Request) -> Response:
    """The one entry point from HTTP: WeChat's APIs, then the page, then control endpoints."""
    if request.path in ("", "/"):
        return redirect("/sandbox/")
    handler = WECHAT_ROUTES.get((request.method, request.path))
    if handler is not None:
        # Faults injected on purpose (wechat.sandbox.faults) reach WeChat's paths only.
        return faults.serve(state, request, handler)
    for method, pattern, path_handler in WECHAT_PATH_ROUTES:
        if method == request.method and pattern.fullmatch(request.path):
            return faults.serve(state, request, path_handler)
    answer = shop.handle(state, request) or page.handle(state, request) or control.handle(state, request)
    for feature_control in FEATURE_CONTROLS:
        answer = answer or feature_control(state, request)
    if answer is not None:
        return answer
    return json_response({"errcode": 404, "errmsg": f"no such sandbox endpoint: {request.method} {request.path}"}, 404)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    # The phone's shop passes the mall API's other methods through (wechat.sandbox.shop).
    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(json_response({"errcode": 413, "errmsg": "body too large"}, 413))
            return
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        # Only the TLS layer may say who the caller is: never a header the caller sent.
        headers.pop(CLIENT_CERT_HEADER, None)
        if isinstance(self.connection, ssl.SSLSocket):
            headers[CLIENT_CERT_HEADER] = peer_common_name(self.connection)
        request = Request(
            method=method,
            path=url.path,
            query=query,
            body=body,
            headers=headers,
            raw_query=url.query,
        )
        try:
            response = dispatch(self.server.state, request)
        except Exception:  # a sandbox bug must answer 500, not leave the caller hanging
            logger.exception("sandbox failed on %s %s", method, url.path)
            response = json_response({"errcode": -1, "errmsg": "sandbox internal error"}, 500)
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s - %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        super().__init__(address, _RequestHandler)


class _TLSHTTPServer(_HTTPServer):
    """The secure listener: the handshake (client certificate required) runs in the request's
    own thread, so a slow or certificate-less client never holds up the accept loop."""

    def __init__(self, address: tuple[str, int], state: SandboxState, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, state)

    def finish_request(self, request: Any, client_address: Any) -> None:
        assert isinstance(request, socket.socket)
        request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:  # no or an untrusted client certificate
            logger.debug("sandbox TLS handshake refused from %s: %s", client_address, exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            tls.close()


class SandboxServer:
    """A WeChat sandbox on `host:port` (port 0 picks a free one), started in a daemon thread.

    Credentials not given are read from Django settings (WECHAT_APP_ID, WECHAT_APP_SECRET,
    WECHAT_MCH_ID, WECHAT_PAY_API_KEY, WECHAT_PAY_APIV3_KEY, WECHAT_PAY_PUBLIC_KEY_ID) when Django
    is configured. `state` is the live in-memory state, for tests that want to look inside.

    The HTTPS listener is on `secure_port` (None: the port after `port`, or a free one when
    `port` is 0). Its certificates are issued into `cert_dir` (None: settings'
    WECHAT_SANDBOX_CERT_DIR when `port` is fixed, else a temporary directory removed by stop()).
    `message_url` is where events (image-check verdicts) are pushed (wechat.sandbox.push).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        mch_id: str | None = None,
        api_key: str | None = None,
        apiv3_key: str | None = None,
        public_key_id: str | None = None,
        secure_port: int | None = None,
        cert_dir: str | Path | None = None,
        message_url: str = "",
    ) -> None:
        defaults = _settings_credentials()
        self.state = SandboxState(
            app_id=app_id or defaults["app_id"],
            app_secret=app_secret or defaults["app_secret"],
            mch_id=mch_id or defaults["mch_id"],
            api_key=api_key or defaults["api_key"],
            apiv3_key=apiv3_key or defaults["apiv3_key"],
            public_key_id=public_key_id or defaults["public_key_id"],
        )
        self._httpd = _HTTPServer((host, port), self.state)
        self._thread: threading.Thread | None = None
        # A fixed port is the served sandbox of a local run: its certificates persist where the
        # settings point. Port 0 (tests) gets throwaway ones, so parallel runs never share files.
        directory = cert_dir or (defaults.get("cert_dir") if port else None)
        self._temporary_cert_dir = None if directory else Path(tempfile.mkdtemp(prefix="wechat-sandbox-tls-"))
        self.certificates: SandboxCertificates = issue_certificates(
            Path(directory) if directory else self._temporary_cert_dir,  # type: ignore[arg-type]
            mch_id=self.state.mch_id)
        self.state.pay_v3 = V3Keys.load(self.certificates)
        if secure_port is None:
            secure_port = port + 1 if port else 0
        if port:
            # The served demo sandbox settles refunds by itself a moment after accepting them, as
            # WeChat does; tests (port 0) settle them explicitly through the control endpoints.
            self.state.extras["refunds"] = refund_api.RefundBook(auto_settle=True, settle_delay_seconds=2)
        if message_url:
            # As saved in the mini-program admin (消息推送) before this run: no URL check now, the
            # mall may not be listening yet.
            push.push_config(self.state).url = message_url
        self._httpsd = _TLSHTTPServer((host, secure_port), self.state, server_context(self.certificates))
        self._secure_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{host}:{self.port}/"

    @property
    def pay_base_url(self) -> str:
        return self.base_url + "pay/"

    @property
    def secure_port(self) -> int:
        return int(self._httpsd.server_address[1])

    @property
    def secure_pay_base_url(self) -> str:
        """Pay's base on the HTTPS listener (client certificate required): secapi lives here."""
        host = str(self._httpsd.server_address[0])
        return f"https://{host}:{self.secure_port}/pay/"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self. The socket is already listening."""
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick: tests start and stop one per case.
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wechat-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._start_secure()
        return self

    def _start_secure(self) -> None:
        self._secure_thread = threading.Thread(
            target=self._httpsd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wechat-sandbox-tls-{self.secure_port}",
            daemon=True,
        )
        self._secure_thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the management command)."""
        self._start_secure()
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the sockets. Safe to call twice."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        if self._secure_thread is not None:
            self._httpsd.shutdown()
            self._secure_thread.join()
            self._secure_thread = None
        self._httpd.server_close()
        self._httpsd.server_close()
        if self._temporary_cert_dir is not None:
            shutil.rmtree(self._temporary_cert_dir, ignore_errors=True)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _settings_credentials() -> dict[str, str]:
    """Credentials from Django settings when there are any, else the sandbox defaults.

    "cert_dir" (where the TLS certificates go) is there only when settings name one."""
    defaults = {
        "app_id": "wxsandbox0000000001",
        "app_secret": "sandbox-app-secret",
        "mch_id": "1900000001",
        "api_key": "sandboxpaykey0000000000000000001",
        "apiv3_key": "sandboxapiv3key00000000000000001",
        "public_key_id": "PUB_KEY_ID_0119000000012025010100000001",
    }
    found = {
        "app_id": host_setting("WECHAT_APP_ID"),
        "app_secret": host_setting("WECHAT_APP_SECRET"),
        "mch_id": host_setting("WECHAT_MCH_ID"),
        "api_key": host_setting("WECHAT_PAY_API_KEY"),
        "apiv3_key": host_setting("WECHAT_PAY_APIV3_KEY"),
        "public_key_id": host_setting("WECHAT_PAY_PUBLIC_KEY_ID"),
    }
    if any(value is None for value in found.values()):
        return defaults
    cert_dir = host_setting("WECHAT_SANDBOX_CERT_DIR", "")
    return {**found, "cert_dir": str(cert_dir)} if cert_dir else found
