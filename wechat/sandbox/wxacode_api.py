"""WeChat's unlimited mini-program codes (`getwxacodeunlimit`, 小程序码) as the sandbox serves them.

Exposes `ROUTES` (WeChat's own path → handler) and `control(state, request)` for its `/sandbox/...`
control endpoints (None when the path is not one of them). Its state lives in
`state.extras["wxacode"]`.

    POST /wxa/getwxacodeunlimit?access_token=…  {scene, page?, check_path?, env_version?, width?,
                                                 auto_color?, line_color?, is_hyaline?}

It checks what WeChat checks, in this order: the access token (40001 unknown / 42001 expired); a
JSON object body with fields of the right types (47001 data format error); `scene` — required,
1–32 visible characters of [0-9A-Za-z!#$&'()*+,/:;=?@-._~] (40169 longer than 32, 40129 anything
else wrong); `page` — optional (empty: the home page), a path like pages/index/index with no
leading "/" and no query string (41030 invalid page), and with `check_path` true (WeChat's
default) one of the released version's pages (41030 too); `env_version` release / trial /
develop (40097 invalid args). `width` is clamped to 280–1280 as WeChat does.

Success is what WeChat answers: HTTP 200, `Content-Type: image/png`, the image itself — here a
real PNG drawn with Pillow in the round "sunflower" look of a mini-program code, the scene
printed small under it. Unlike WeChat's, the PNG also carries the scene (and page) in tEXt
chunks named "scene" and "page", so a test or the demo can "scan" it: `scan(png)` below, or
`POST /sandbox/wxacode/scan` with the PNG as the body, reads what a phone's camera would.

Control endpoints:

    GET  /sandbox/wxacodes[?scene=]            -> {"codes": [Code…]} every code generated, oldest first
    POST /sandbox/wxacode/fail_next            {"count": n, "errcode"?: -1} -> {"pending_failures": n}
                                               (the next n requests answer errcode: -1 busy, 45009 quota…)
    POST /sandbox/wxacode/pages                {"pages": ["pages/index/index", …]} -> {"pages": [...]}
                                               the released version's pages, which check_path checks
    POST /sandbox/wxacode/scan                 body: the PNG -> {"scene", "page"}, or 400 NOT_A_WXACODE

Code = {"scene", "page", "width", "env_version", "check_path", "is_hyaline", "size_bytes",
"sha256", "generated_at"}.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from wechat.sandbox.state import SandboxState
from wechat.sandbox.web import Request, Response, json_response
from wechat.sandbox.wire import shanghai_now

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40097: "invalid args",
    40129: "invalid scene",
    40169: "invalid length for scene, or the data is not json string",
    41030: "invalid page",
    42001: "access_token expired",
    45009: "reach max api minute quota limit",
    47001: "data format error",
}

# Written from WeChat's documentation, independently of wechat.miniprogram, so the sandbox checks
# our client instead of sharing its bugs.
SCENE_MAX = 32
SCENE_CHARS = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+")
PAGE_PATH = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")
ENV_VERSIONS = ("release", "trial", "develop")
WIDTH_MIN, WIDTH_MAX, WIDTH_DEFAULT = 280, 1280, 430
DEFAULT_RELEASED_PAGES = ("pages/index/index",)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BRAND_GREEN = (7, 193, 96)


def _store(state: SandboxState) -> dict[str, Any]:
    with state.lock:
        return state.extras.setdefault(
            "wxacode", {"codes": [], "fail_next": [], "pages": list(DEFAULT_RELEASED_PAGES)})


def _error(errcode: int) -> Response:
    # WeChat answers errors with HTTP 200 and a JSON errcode (and an rid in the message).
    message = ERRMSG.get(errcode, "error")
    return json_response({"errcode": errcode, "errmsg": f"{message} rid: sandbox-{int(time.time() * 1000)}"})


# --- WeChat's endpoint ----------------------------------------------------------------------------


def getwxacodeunlimit(state: SandboxState, request: Request) -> Response:
    """POST /wxa/getwxacodeunlimit?access_token=… — a PNG, or WeChat's JSON errcode."""
    state.count("getwxacodeunlimit")
    errcode = state.token_status(request.query.get("access_token", ""))
    if errcode:
        return _error(errcode)
    store = _store(state)
    with state.lock:
        if store["fail_next"]:
            return _error(int(store["fail_next"].pop(0)))
        released = set(store["pages"])
    body = request.json()
    if body is None:
        return _error(47001)
    checked = _check(body, released)
    if isinstance(checked, int):
        return _error(checked)
    png = render(**checked)
    with state.lock:
        store["codes"].append({
            **{k: checked[k] for k in ("scene", "page", "width", "env_version", "check_path", "is_hyaline")},
            "size_bytes": len(png),
            "sha256": hashlib.sha256(png).hexdigest(),
            "generated_at": shanghai_now().isoformat(timespec="seconds"),
        })
    return Response(200, png, "image/png")


def _check(body: dict[str, Any], released: set[str]) -> dict[str, Any] | int:
    """The request's parameters with WeChat's defaults, or the errcode WeChat would answer."""
    scene, page = body.get("scene"), body.get("page", "")
    check_path, env_version = body.get("check_path", True), body.get("env_version", "release")
    width, is_hyaline = body.get("width", WIDTH_DEFAULT), body.get("is_hyaline", False)
    auto_color, line_color = body.get("auto_color", False), body.get("line_color")
    if not isinstance(page, str) or not isinstance(check_path, bool) or not isinstance(is_hyaline, bool):
        return 47001
    if not isinstance(auto_color, bool) or not isinstance(env_version, str):
        return 47001
    if isinstance(width, bool) or not isinstance(width, int | float):
        return 47001
    colour = _colour(line_color)
    if colour is None:
        return 47001
    if not isinstance(scene, str) or not scene:
        return 40129
    if len(scene) > SCENE_MAX:
        return 40169
    if not SCENE_CHARS.fullmatch(scene):
        return 40129
    if page and not PAGE_PATH.fullmatch(page):
        return 41030
    if page and check_path and page not in released:
        return 41030
    if env_version not in ENV_VERSIONS:
        return 40097
    return {"scene": scene, "page": page, "width": min(max(int(width), WIDTH_MIN), WIDTH_MAX),
            "env_version": env_version, "check_path": check_path, "is_hyaline": is_hyaline,
            "colour": BRAND_GREEN if auto_color else colour}


def _colour(value: Any) -> tuple[int, int, int] | None:
    if value is None:
        return (0, 0, 0)
    if not isinstance(value, dict):
        return None
    channels = []
    for name in ("r", "g", "b"):
        raw = value.get(name, 0)
        try:  # WeChat's own example sends them as strings: {"r":"xxx","g":"xxx","b":"xxx"}
            number = int(raw)
        except (TypeError, ValueError):
            return None
        if not 0 <= number <= 255:
            return None
        channels.append(number)
    return channels[0], channels[1], channels[2]


# --- the picture ----------------------------------------------------------------------------------


def render(*, scene: str, page: str, width: int, env_version: str = "release", check_path: bool = True,
           is_hyaline: bool = False, colour: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """A width×width PNG that looks like a mini-program code: dots on rings around a round logo,
    three "eyes", the scene printed small under it; the scene and page in tEXt chunks."""
    del check_path  # part of the request, not of the picture
    image = Image.new("RGBA", (width, width), (255, 255, 255, 0 if is_hyaline else 255))
    draw = ImageDraw.Draw(image)
    ink = (*colour, 255)
    cx, cy, radius = width / 2, width * 0.46, width * 0.42
    bits = _bits(f"{env_version}|{page}|{scene}", 4096)
    eyes = [(cx + radius * 0.68 * math.cos(a), cy + radius * 0.68 * math.sin(a))
            for a in (math.radians(-135), math.radians(-45), math.radians(135))]
    eye_radius = radius * 0.2

    def near_eye(x: float, y: float) -> bool:
        return any(math.hypot(x - ex, y - ey) < eye_radius * 1.25 for ex, ey in eyes)

    dot = max(1.5, width / 160)
    position = 0
    for ring in range(7):
        r = radius * (0.42 + ring * 0.09)
        count = int(2 * math.pi * r / (dot * 3.2))
        for k in range(count):
            position += 1
            if not bits[position % len(bits)]:
                continue
            angle = 2 * math.pi * k / count
            x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
            if near_eye(x, y):
                continue
            # A short radial stroke: the "sunflower" petals of a mini-program code.
            dx, dy = math.cos(angle) * dot * 1.4, math.sin(angle) * dot * 1.4
            draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=ink, width=max(1, round(dot * 1.6)))
    for ex, ey in eyes:
        _disc(draw, ex, ey, eye_radius, ink)
        _disc(draw, ex, ey, eye_radius * 0.72, (255, 255, 255, 0 if is_hyaline else 255))
        _disc(draw, ex, ey, eye_radius * 0.42, ink)
    # The centre, where WeChat puts the mini-program's avatar.
    _disc(draw, cx, cy, radius * 0.33, (*BRAND_GREEN, 255))
    _disc(draw, cx, cy, radius * 0.27, (255, 255, 255, 255))
    _disc(draw, cx, cy, radius * 0.16, (*BRAND_GREEN, 255))

    font = ImageFont.load_default(size=max(10, width // 34))
    label = f"scene={scene}"
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    draw.text(((width - (right - left)) / 2, width * 0.93 - (bottom - top) / 2), label, fill=(120, 120, 120, 255),
              font=font)

    info = PngInfo()
    info.add_text("scene", scene)
    info.add_text("page", page)
    info.add_text("Software", "WeChat sandbox getwxacodeunlimit")
    out = io.BytesIO()
    (image if is_hyaline else image.convert("RGB")).save(out, format="PNG", pnginfo=info, optimize=False)
    return out.getvalue()


def _disc(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: tuple[int, ...]) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def _bits(seed: str, count: int) -> list[int]:
    raw = hashlib.shake_256(seed.encode("utf-8")).digest(count // 8)
    return [(byte >> i) & 1 for byte in raw for i in range(8)]


def scan(png: bytes) -> dict[str, str] | None:
    """What a phone reads from a sandbox code: {"scene", "page"} from its tEXt chunks, or None
    when `png` is not a PNG carrying a scene. Needs no Pillow: it walks the chunks and checks
    each CRC, as a decoder would."""
    if not png.startswith(PNG_SIGNATURE):
        return None
    texts: dict[str, str] = {}
    offset = len(PNG_SIGNATURE)
    while offset + 12 <= len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        kind = png[offset + 4:offset + 8]
        data = png[offset + 8:offset + 8 + length]
        crc_bytes = png[offset + 8 + length:offset + 12 + length]
        if len(data) != length or len(crc_bytes) != 4:
            return None
        if zlib.crc32(kind + data) != struct.unpack(">I", crc_bytes)[0]:
            return None
        if kind == b"tEXt" and b"\x00" in data:
            keyword, text = data.split(b"\x00", 1)
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        if kind == b"IEND":
            break
        offset += 12 + length
    if not texts.get("scene"):
        return None
    return {"scene": texts["scene"], "page": texts.get("page", "")}


ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {
    ("POST", "/wxa/getwxacodeunlimit"): getwxacodeunlimit,
}


# --- control --------------------------------------------------------------------------------------


def control(state: SandboxState, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if request.method == "GET" and path == "/sandbox/wxacodes":
        wanted = request.query.get("scene")
        with state.lock:
            codes = [dict(c) for c in _store(state)["codes"] if wanted in (None, c["scene"])]
        return json_response({"codes": codes})
    if request.method != "POST" or not path.startswith("/sandbox/wxacode/"):
        return None
    if path == "/sandbox/wxacode/scan":
        found = scan(request.body)
        if found is None:
            return json_response({"error": "NOT_A_WXACODE", "message": "不是沙箱生成的小程序码图片"}, 400)
        return json_response(found)
    data = request.json()
    if data is None:
        return json_response({"error": "INVALID_JSON", "message": "请求体必须是 JSON 对象"}, 400)
    if path == "/sandbox/wxacode/fail_next":
        count, errcode = data.get("count"), data.get("errcode", -1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0 or not isinstance(errcode, int):
            return json_response({"error": "INVALID_ARGUMENT", "message": "count 须为非负整数，errcode 须为整数"}, 400)
        with state.lock:
            store = _store(state)
            store["fail_next"] = [errcode] * count
            return json_response({"pending_failures": count})
    if path == "/sandbox/wxacode/pages":
        pages = data.get("pages")
        if not isinstance(pages, list) or not all(isinstance(p, str) and PAGE_PATH.fullmatch(p) for p in pages):
            return json_response({"error": "INVALID_ARGUMENT", "message": "pages 须为页面路径列表"}, 400)
        with state.lock:
            _store(state)["pages"] = list(pages)
        return json_response({"pages": pages})
    return None
