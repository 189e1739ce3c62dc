"""The poster's Chinese text: the shipped CJK font draws real glyphs, never the .notdef box (tofu)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pylopdf_fonts_zh_cn
from PIL import Image, ImageChops

from campaigns import posters
from campaigns.posters import PosterContent, PosterCoupon, drawable, font, font_path, has_glyph, poster_render

NOTDEF = "\U0010fffd"


def _mask(text: str) -> tuple[tuple[int, int], bytes]:
    mask = font(48).getmask(text)
    return mask.size, bytes(mask)


def test_the_font_is_the_noto_sans_sc_the_project_installs():
    assert Path(font_path()) == Path(pylopdf_fonts_zh_cn.sans_path())
    assert font(32).getname() == ("Noto Sans SC", "Regular")


def test_chinese_renders_as_glyphs_not_tofu():
    tofu = _mask(NOTDEF)
    glyphs = {ch: _mask(ch) for ch in "生日快乐周年优惠券有效期至"}

    assert all(mask != tofu for mask in glyphs.values())
    # Each character is its own shape (a font drawing boxes would draw the same one for all).
    assert len({mask for mask in glyphs.values()}) == len(glyphs)
    assert font(48).getlength("生日快乐") > 3 * 48 * 0.9  # four full-width characters


def test_characters_the_font_lacks_are_left_out_of_nicknames():
    assert has_glyph("鱼") and has_glyph("A")
    assert not has_glyph("🐟")
    assert drawable("小鱼🐟Fish\u0007") == "小鱼Fish"


def test_the_poster_draws_the_greeting_in_chinese():
    code = io.BytesIO()
    Image.new("RGB", (430, 430), (0, 0, 0)).save(code, "PNG")
    content = PosterContent(kind="birthday", nickname="小鱼", headline="生日快乐", message="愿你的每一天都闪闪发光",
                            coupon=PosterCoupon(face="¥20", condition="满100可用", name="生日专享券",
                                                valid_until=dt.date(2026, 11, 29)),
                            code_png=code.getvalue(), code_caption=("长按识别小程序码", "查看你的生日礼券"),
                            brand="小程序商城")

    png = poster_render(content)
    other = poster_render(PosterContent(**{**content.__dict__, "headline": "周年快乐"}))

    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (posters.WIDTH, posters.HEIGHT))
    assert png == poster_render(content)  # reproducible
    # Another headline changes the pixels where the headline is, and only there.
    box = ImageChops.difference(image.convert("RGB"), Image.open(io.BytesIO(other)).convert("RGB")).getbbox()
    assert box is not None and box[1] >= 80 and box[3] <= 200
