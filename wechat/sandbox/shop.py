"""The phone's shop at `/sandbox/shop/`: a small H5 shop, 390 px wide, built only on the mall's
public API — the demo a newcomer opens after `make run`, and the proof that the API is enough.

It plays the mini-program on the sandbox's phone: wx.login() is the sandbox's own login code
(POST /sandbox/login_code), wx.requestPayment is POST /sandbox/request_payment with the mall's
prepay answer, and wx.request is `/sandbox/shop/api/…`, which the sandbox passes to the mall's
`/api/…` unchanged (method, body, Authorization, Content-Type, Idempotency-Key), as WeChat's
client carries a mini-program's requests: so the mall needs no CORS, and the page sees exactly
the status and body the API gives. The mall is settings.SITE_URL (or `MALL_URL` when the sandbox
runs on its own). Static files only (shop_static/): no CDN, no build step.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from wechat.sandbox.host import host_setting
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.web import Request, Response, json_response

STATIC = Path(__file__).resolve().parent / "shop_static"
FILES = {"": ("index.html", "text/html; charset=utf-8"), "app.js": ("app.js", "text/javascript; charset=utf-8"),
         "app.css": ("app.css", "text/css; charset=utf-8")}
PREFIX = "/sandbox/shop/"
API_PREFIX = PREFIX + "api/"
FORWARDED = ("authorization", "content-type", "idempotency-key", "accept")
PROXY_TIMEOUT_SECONDS = 30


def mall_url() -> str:
    """Where the mall's API is: settings.SITE_URL, read at each request (tests point it at their
    live server after the sandbox started)."""
    return str(host_setting("SITE_URL", os.environ.get("MALL_URL", "http://127.0.0.1:8000"))).rstrip("/")


def handle(state: State, request: Request) -> Response | None:
    if request.path == PREFIX.rstrip("/"):
        return Response(303, b"", "text/plain; charset=utf-8", {"Location": PREFIX})
    if not request.path.startswith(PREFIX):
        return None
    if request.path.startswith(API_PREFIX):
        return _forward(request)
    found = FILES.get(request.path.removeprefix(PREFIX))
    if found is None or request.method != "GET":
        return None
    name, content_type = found
    return Response(200, (STATIC / name).read_bytes(), content_type, {"Cache-Control": "no-cache"})


def _forward(request: Request) -> Response:
    """wx.request: the same request to the mall's /api/…, and its answer as it came."""
    url = f"{mall_url()}/api/{request.path.removeprefix(API_PREFIX)}"
    if request.raw_query:
        url += f"?{request.raw_query}"
    headers = {name: value for name, value in request.headers.items() if name in FORWARDED}
    outgoing = urllib.request.Request(url, data=request.body if request.method not in ("GET", "DELETE") else None,
                                      headers=headers, method=request.method)
    try:
        with urllib.request.urlopen(outgoing, timeout=PROXY_TIMEOUT_SECONDS) as answer:
            return Response(answer.status, answer.read(), answer.headers.get("Content-Type", "application/json"))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), error.headers.get("Content-Type", "application/json"))
    except OSError as error:
        body = {"code": "mall_unreachable", "message": "商城服务未启动", "detail": {"error": str(error)}}
        return json_response(body, 502)
