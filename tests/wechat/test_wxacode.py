"""getwxacodeunlimit: the sandbox checks what WeChat checks and draws a scannable PNG; wechat.miniprogram speaks it."""

from __future__ import annotations

import io
import socket

import pytest
import requests
from PIL import Image, PngImagePlugin

from core.errors import ValidationFailed
from wechat import miniprogram
from wechat.errors import WechatApiError
from wechat.sandbox.client import SandboxRefused
from wechat.sandbox.wxacode_api import scan

pytestmark = pytest.mark.django_db  # the access token lives in Django's (database) cache


def post(sandbox_server, body, *, token: str | None = None, raw: bytes | None = None) -> requests.Response:
    token = token if token is not None else miniprogram.get_access_token()
    url = f"{sandbox_server.base_url}wxa/getwxacodeunlimit"
    if raw is not None:
        return requests.post(url, params={"access_token": token}, data=raw, timeout=10)
    return requests.post(url, params={"access_token": token}, json=body, timeout=10)


def errcode_of(response: requests.Response) -> int:
    assert response.status_code == 200  # WeChat answers errors with 200 and a JSON errcode
    assert response.headers["Content-Type"].startswith("application/json")
    return int(response.json()["errcode"])


# --- the client ---------------------------------------------------------------------------------


def test_a_code_is_a_png_of_the_asked_width_that_scans_back_to_its_scene(sandbox_server, control):
    png = miniprogram.get_wxacode_unlimit(scene="ch=A7x_2", page="pages/coupon/scan")

    image = Image.open(io.BytesIO(png))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    assert (image.format, image.size) == ("PNG", (430, 430))
    assert image.text["scene"] == "ch=A7x_2"
    assert scan(png) == {"scene": "ch=A7x_2", "page": "pages/coupon/scan"}
    assert control.scan_wxacode(png) == {"scene": "ch=A7x_2", "page": "pages/coupon/scan"}
    [code] = control.wxacodes()
    assert {k: code[k] for k in ("scene", "page", "width", "check_path", "env_version")} == {
        "scene": "ch=A7x_2", "page": "pages/coupon/scan", "width": 430, "check_path": False,
        "env_version": "release"}


def test_the_width_and_env_version_are_sent_as_asked(sandbox_server, control, settings):
    settings.WECHAT_WXACODE_ENV_VERSION = "trial"

    png = miniprogram.get_wxacode_unlimit(scene="x", page="pages/index/index", width=600)

    assert Image.open(io.BytesIO(png)).size == (600, 600)
    [code] = control.wxacodes()
    assert (code["width"], code["env_version"]) == (600, "trial")


def test_every_allowed_scene_character_is_accepted(sandbox_server, control):
    scene = "09azAZ!#$&'()*+,/:;=?@-._~"

    png = miniprogram.get_wxacode_unlimit(scene=scene, page="pages/index/index")

    assert control.scan_wxacode(png)["scene"] == scene


@pytest.mark.parametrize(("scene", "page", "width", "code"), [
    ("x" * 33, "pages/index/index", 430, "invalid_wxacode_scene"),
    ("", "pages/index/index", 430, "invalid_wxacode_scene"),
    ("渠道1", "pages/index/index", 430, "invalid_wxacode_scene"),
    ("a%20b", "pages/index/index", 430, "invalid_wxacode_scene"),
    ("a b", "pages/index/index", 430, "invalid_wxacode_scene"),
    ("ok", "/pages/index/index", 430, "invalid_wxacode_page"),
    ("ok", "pages/index/index?id=1", 430, "invalid_wxacode_page"),
    ("ok", "", 430, "invalid_wxacode_page"),
    ("ok", "pages/index/index", 279, "invalid_wxacode_width"),
    ("ok", "pages/index/index", 1281, "invalid_wxacode_width"),
])
def test_input_wechat_would_refuse_is_refused_before_calling_out(sandbox_server, control, scene, page, width, code):
    with pytest.raises(ValidationFailed) as refused:
        miniprogram.get_wxacode_unlimit(scene=scene, page=page, width=width)

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert control.stats().get("getwxacodeunlimit", 0) == 0


def test_an_expired_token_is_refreshed_once_and_the_call_retried(sandbox_server, control):
    miniprogram.get_access_token()
    control.expire_tokens()

    png = miniprogram.get_wxacode_unlimit(scene="again", page="pages/index/index")

    assert scan(png) == {"scene": "again", "page": "pages/index/index"}
    assert control.stats()["getwxacodeunlimit"] == 2
    assert len(control.wxacodes()) == 1


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_wechat_failing_is_an_upstream_error(sandbox_server, control, errcode):
    control.wxacode_fail_next(1, errcode=errcode)

    with pytest.raises(WechatApiError) as failed:
        miniprogram.get_wxacode_unlimit(scene="busy", page="pages/index/index")

    assert (failed.value.errcode, failed.value.status, failed.value.code) == (errcode, 502, "upstream_error")
    assert control.wxacodes() == []


@pytest.mark.parametrize(("errcode", "code"), [
    (40129, "invalid_wxacode_scene"), (40169, "invalid_wxacode_scene"), (41030, "invalid_wxacode_page")])
def test_wechat_refusing_the_input_is_a_validation_error(sandbox_server, control, errcode, code):
    control.wxacode_fail_next(1, errcode=errcode)

    with pytest.raises(ValidationFailed) as refused:
        miniprogram.get_wxacode_unlimit(scene="fine", page="pages/index/index")

    assert (refused.value.code, refused.value.detail["errcode"]) == (code, errcode)


def test_an_unreachable_wechat_is_a_network_error(settings, db):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    settings.WECHAT_API_BASE = f"http://127.0.0.1:{sock.getsockname()[1]}/"  # bound, never listening
    try:
        with pytest.raises(WechatApiError) as failed:
            miniprogram.get_wxacode_unlimit(scene="x", page="pages/index/index")
    finally:
        sock.close()

    assert failed.value.errcode == "NETWORK_ERROR"


# --- the sandbox, over raw HTTP ----------------------------------------------------------------


def test_the_sandbox_answers_a_png_with_the_image_content_type(sandbox_server):
    response = post(sandbox_server, {"scene": "s1", "page": "pages/index/index"})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert scan(response.content) == {"scene": "s1", "page": "pages/index/index"}


@pytest.mark.parametrize(("body", "errcode"), [
    ({"scene": "x" * 33, "check_path": False}, 40169),
    ({"scene": "a%b", "check_path": False}, 40129),
    ({"scene": "", "check_path": False}, 40129),
    ({"page": "pages/index/index"}, 40129),
    ({"scene": 12, "page": "pages/index/index"}, 40129),
    ({"scene": "ok", "page": "/pages/index/index", "check_path": False}, 41030),
    ({"scene": "ok", "page": "pages/index/index?x=1", "check_path": False}, 41030),
    ({"scene": "ok", "page": "pages/unreleased/new"}, 41030),  # check_path defaults to true
    ({"scene": "ok", "page": "pages/index/index", "env_version": "beta"}, 40097),
    ({"scene": "ok", "page": "pages/index/index", "width": "430"}, 47001),
    ({"scene": "ok", "page": "pages/index/index", "check_path": "false"}, 47001),
    ({"scene": "ok", "page": "pages/index/index", "line_color": {"r": 300}}, 47001),
])
def test_the_sandbox_refuses_what_wechat_refuses(sandbox_server, control, body, errcode):
    assert errcode_of(post(sandbox_server, body)) == errcode
    assert control.wxacodes() == []


def test_an_unreleased_page_is_fine_without_check_path_or_once_released(sandbox_server, control):
    page = "pages/unreleased/new"
    assert (scan(post(sandbox_server, {"scene": "a", "page": page, "check_path": False}).content) or {})["scene"] == "a"

    control.wxacode_released_pages(["pages/index/index", page])

    assert (scan(post(sandbox_server, {"scene": "b", "page": page}).content) or {})["scene"] == "b"
    assert [c["check_path"] for c in control.wxacodes()] == [False, True]


def test_the_sandbox_checks_the_access_token_and_the_body(sandbox_server, control):
    assert errcode_of(post(sandbox_server, {"scene": "ok"}, token="not-a-token")) == 40001
    assert errcode_of(post(sandbox_server, None, raw=b"scene=ok")) == 47001
    miniprogram.get_access_token()
    control.expire_tokens()
    assert errcode_of(post(sandbox_server, {"scene": "ok"}, token=miniprogram.get_access_token())) == 42001


def test_the_sandbox_clamps_the_width_and_draws_a_transparent_code_when_asked(sandbox_server):
    small = post(sandbox_server, {"scene": "w", "page": "pages/index/index", "width": 100}).content
    big = post(sandbox_server, {"scene": "w", "page": "pages/index/index", "width": 5000}).content
    clear = post(sandbox_server, {"scene": "w", "page": "pages/index/index", "is_hyaline": True}).content

    assert Image.open(io.BytesIO(small)).size == (280, 280)
    assert Image.open(io.BytesIO(big)).size == (1280, 1280)
    clear_image = Image.open(io.BytesIO(clear))
    assert clear_image.mode == "RGBA"
    corner = clear_image.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0


def test_different_scenes_draw_different_codes(sandbox_server):
    first = Image.open(io.BytesIO(post(sandbox_server, {"scene": "one"}).content)).convert("L")
    second = Image.open(io.BytesIO(post(sandbox_server, {"scene": "two"}).content)).convert("L")

    different = sum(1 for a, b in zip(first.tobytes(), second.tobytes(), strict=True) if a != b)
    assert different > 1000
    dark = sum(1 for value in first.tobytes() if value < 128)
    assert 0.05 < dark / (430 * 430) < 0.6  # a code, not a blank or a black square


def test_scanning_anything_but_a_sandbox_code_is_refused(sandbox_server, control):
    plain = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(plain, format="PNG")
    code = post(sandbox_server, {"scene": "s"}).content
    tampered = code[:60] + bytes([code[60] ^ 0xFF]) + code[61:]

    assert scan(plain.getvalue()) is None
    assert scan(b"not a png") is None
    assert scan(tampered) is None
    with pytest.raises(SandboxRefused) as refused:
        control.scan_wxacode(plain.getvalue())
    assert (refused.value.status, refused.value.code) == (400, "NOT_A_WXACODE")
