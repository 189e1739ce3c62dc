"""Posters drawn with Pillow, no database, no network: greetings (生日 / 注册纪念日海报) and the
distributors' share poster (分销海报, share_poster_render).

    png = poster_render(PosterContent(kind="birthday", nickname="小鱼", headline="生日快乐", …,
                                      coupon=PosterCoupon(face="¥20", condition="满¥100可用", …),
                                      code_png=<getwxacodeunlimit PNG>))

The font is Noto Sans SC (SIL Open Font License), the full simplified-Chinese font, installed
from PyPI with the requirements (`pylopdf-fonts-zh-cn`), so every machine renders Chinese the
same way whatever fonts its system has; `settings.GREETING_POSTER_FONT` may name another file.
Nicknames are arbitrary: characters the font has no glyph for (emoji, rare scripts) are left
out rather than drawn as empty boxes (tofu).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import random
from dataclasses import dataclass

import pylopdf_fonts_zh_cn
from django.conf import settings
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

WIDTH, HEIGHT = 750, 1200
CODE_SIZE = 220
MARGIN = 60

PALETTES = {
    # top colour, bottom colour, accent (face value), confetti colours
    "birthday": ((255, 112, 118), (255, 200, 170), (226, 54, 66),
                 ((255, 236, 140), (255, 255, 255), (255, 170, 190), (255, 214, 102))),
    "anniversary": ((86, 101, 196), (170, 190, 250), (64, 80, 180),
                    ((255, 226, 140), (255, 255, 255), (200, 214, 255), (255, 200, 120))),
}


@dataclass(frozen=True)
class PosterCoupon:
    face: str  # "¥20", "8.5折", "免运费"
    condition: str  # "满¥100可用", "无门槛"
    name: str
    valid_until: dt.date  # the last day it can be used (Shanghai)


@dataclass(frozen=True)
class PosterContent:
    kind: str  # "birthday" | "anniversary"
    nickname: str
    headline: str  # 生日快乐 / 注册 3 周年快乐
    message: str
    coupon: PosterCoupon | None
    code_png: bytes
    code_caption: tuple[str, ...]  # lines: ("长按识别小程序码", "查看你的生日礼券")
    brand: str


def font_path() -> str:
    """The CJK font file posters are set in (settings.GREETING_POSTER_FONT, or the shipped one)."""
    configured = getattr(settings, "GREETING_POSTER_FONT", "")
    if configured:
        return str(configured)
    return str(pylopdf_fonts_zh_cn.sans_path())


@functools.lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def font(size: int) -> ImageFont.FreeTypeFont:
    return _font(font_path(), size)


# A code point no font maps: what the font draws for a character it lacks (.notdef, the "tofu").
_NOTDEF_PROBE = "\U0010fffd"


@functools.lru_cache(maxsize=1)
def _notdef_signature(path: str) -> tuple[tuple[int, int], bytes]:
    return _glyph_signature(path, _NOTDEF_PROBE)


def _glyph_signature(path: str, char: str) -> tuple[tuple[int, int], bytes]:
    mask = _font(path, 32).getmask(char)
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=8192)
def _has_glyph(path: str, char: str) -> bool:
    if char.isspace():
        return True
    return _glyph_signature(path, char) != _notdef_signature(path)


def has_glyph(char: str) -> bool:
    """Whether the poster font draws `char` (not its .notdef box)."""
    return _has_glyph(font_path(), char)


def drawable(text: str) -> str:
    """`text` without the characters the font cannot draw, and without control characters."""
    path = font_path()
    return "".join(ch for ch in text if ch.isprintable() and _has_glyph(path, ch)).strip()


def _fit(text: str, size: int, max_width: int) -> str:
    """`text` cut with "…" so it fits `max_width` pixels at `size`."""
    face = font(size)
    if face.getlength(text) <= max_width:
        return text
    while text and face.getlength(text + "…") > max_width:
        text = text[:-1]
    return text + "…"


def _gradient(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.new("RGB", (1, 256))
    for y in range(256):
        t = y / 255
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)


def _centered(draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: tuple[int, ...],
              *, stroke: int = 0, x_center: int = WIDTH // 2) -> None:
    draw.text((x_center, y), text, font=font(size), fill=fill, anchor="mt", stroke_width=stroke, stroke_fill=fill)


def poster_render(content: PosterContent) -> bytes:
    """The poster as PNG bytes (750×1200). Pure: same content, same image."""
    top, bottom, accent, confetti = PALETTES.get(content.kind, PALETTES["birthday"])
    image = _gradient(top, bottom)
    draw = ImageDraw.Draw(image)

    # Confetti along the sides and above the headline, never behind the text: a fixed pattern,
    # so posters are reproducible.
    rng = random.Random(content.kind)
    for i in range(30):
        x = rng.randrange(10, 130) if i % 2 else rng.randrange(WIDTH - 130, WIDTH - 10)
        y = rng.randrange(10, 215)
        r = rng.randrange(4, 12)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=confetti[i % len(confetti)])

    white = (255, 255, 255)
    _centered(draw, 90, _fit(content.headline, 92, WIDTH - 2 * MARGIN), 92, white, stroke=2)
    nickname = drawable(content.nickname) or "会员"
    _centered(draw, 230, _fit(f"亲爱的 {nickname}", 40, WIDTH - 2 * MARGIN), 40, white)
    for i, line in enumerate(_wrap(content.message, 30, WIDTH - 2 * MARGIN)[:2]):
        _centered(draw, 300 + i * 46, line, 30, white)

    # The coupon (or, without one, a plain greeting card).
    card = (MARGIN, 420, WIDTH - MARGIN, 690)
    draw.rounded_rectangle(card, radius=28, fill=white)
    if content.coupon is not None:
        coupon = content.coupon
        split = MARGIN + 250
        draw.line((split, card[1] + 36, split, card[3] - 36), fill=(235, 220, 220), width=3)
        face_size = 96 if len(coupon.face) <= 4 else 64
        draw.text(((MARGIN + split) // 2, (card[1] + card[3]) // 2 - 20), _fit(coupon.face, face_size, 220),
                  font=font(face_size), fill=accent, anchor="mm", stroke_width=1, stroke_fill=accent)
        draw.text(((MARGIN + split) // 2, card[3] - 60), _fit(coupon.condition, 26, 220), font=font(26),
                  fill=(120, 120, 120), anchor="mm")
        text_x = split + 36
        text_width = card[2] - text_x - 30
        draw.text((text_x, card[1] + 60), _fit(coupon.name, 36, text_width), font=font(36), fill=(40, 40, 40))
        draw.text((text_x, card[1] + 130), "已放入你的券包", font=font(28), fill=(110, 110, 110))
        draw.text((text_x, card[1] + 180), f"有效期至 {coupon.valid_until:%Y-%m-%d}", font=font(28),
                  fill=(110, 110, 110))
    else:
        _centered(draw, card[1] + 80, "专属祝福", 44, accent, stroke=1)
        _centered(draw, card[1] + 160, "谢谢你一直都在", 30, (110, 110, 110))

    # The mini-program code and what scanning it does.
    panel = (MARGIN, 740, WIDTH - MARGIN, 1110)
    draw.rounded_rectangle(panel, radius=28, fill=(255, 255, 255, 235))
    code = Image.open(io.BytesIO(content.code_png)).convert("RGBA")
    code.thumbnail((CODE_SIZE, CODE_SIZE), Image.Resampling.LANCZOS)
    code_xy = (panel[0] + 40, panel[1] + (panel[3] - panel[1] - code.height) // 2)
    image.paste(code, code_xy, code)
    caption_x = code_xy[0] + CODE_SIZE + 36
    caption_width = panel[2] - caption_x - 24
    lines = content.code_caption[:3]
    first_y = (panel[1] + panel[3]) // 2 - len(lines) * 46 // 2
    for i, line in enumerate(lines):
        size = 32 if i == 0 else 28
        draw.text((caption_x, first_y + i * 50), _fit(drawable(line), size, caption_width), font=font(size),
                  fill=(50, 50, 50) if i == 0 else (120, 120, 120))
    _centered(draw, 1135, _fit(content.brand, 26, WIDTH - 2 * MARGIN), 26, white)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3)  # a little larger, twice as fast
    return out.getvalue()


def _wrap(text: str, size: int, max_width: int) -> list[str]:
    """Break Chinese text into lines of at most `max_width` pixels (any character may end a line)."""
    face = font(size)
    lines, line = [], ""
    for ch in drawable(text):
        if ch == "\n" or (line and face.getlength(line + ch) > max_width):
            lines.append(line)
            line = "" if ch == "\n" else ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


# --- the distributor's share poster (分销海报) ---------------------------------------------------------

SHARE_PALETTE = ((255, 138, 76), (255, 214, 170), (214, 84, 30))


@dataclass(frozen=True)
class SharePosterContent:
    nickname: str
    headline: str  # "好物分享"
    message: str
    code_png: bytes  # the distributor's mini-program code (scene "d=<id>")
    code_caption: tuple[str, ...]
    brand: str


def share_poster_render(content: SharePosterContent) -> bytes:
    """A distributor's share poster as PNG bytes (750×1200): who invites, why, and the code whose
    scene binds whoever scans it. Pure: same content, same image."""
    top, bottom, accent = SHARE_PALETTE
    image = _gradient(top, bottom)
    draw = ImageDraw.Draw(image)
    white = (255, 255, 255)
    _centered(draw, 110, _fit(content.headline, 96, WIDTH - 2 * MARGIN), 96, white, stroke=2)
    nickname = drawable(content.nickname) or "好友"
    _centered(draw, 260, _fit(f"{nickname} 邀你一起逛", 44, WIDTH - 2 * MARGIN), 44, white)
    card = (MARGIN, 360, WIDTH - MARGIN, 640)
    draw.rounded_rectangle(card, radius=28, fill=white)
    for i, line in enumerate(_wrap(content.message, 34, card[2] - card[0] - 80)[:4]):
        _centered(draw, card[1] + 50 + i * 52, line, 34, accent if i == 0 else (90, 90, 90))

    panel = (MARGIN, 700, WIDTH - MARGIN, 1090)
    draw.rounded_rectangle(panel, radius=28, fill=white)
    code = Image.open(io.BytesIO(content.code_png)).convert("RGBA")
    code.thumbnail((CODE_SIZE + 40, CODE_SIZE + 40), Image.Resampling.LANCZOS)
    code_xy = (panel[0] + 40, panel[1] + (panel[3] - panel[1] - code.height) // 2)
    image.paste(code, code_xy, code)
    caption_x = code_xy[0] + code.width + 36
    caption_width = panel[2] - caption_x - 24
    lines = content.code_caption[:3]
    first_y = (panel[1] + panel[3]) // 2 - len(lines) * 46 // 2
    for i, line in enumerate(lines):
        size = 32 if i == 0 else 28
        draw.text((caption_x, first_y + i * 50), _fit(drawable(line), size, caption_width), font=font(size),
                  fill=(50, 50, 50) if i == 0 else (120, 120, 120))
    _centered(draw, 1125, _fit(content.brand, 26, WIDTH - 2 * MARGIN), 26, white)

    # What the code says in text chunks (the WeChat sandbox's codes carry their scene and page there)
    # goes into the poster too: a phone scanning the poster reads the code printed on it.
    info = PngInfo()
    for key, value in getattr(Image.open(io.BytesIO(content.code_png)), "text", {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3, pnginfo=info)
    return out.getvalue()


# --- a product's share poster (商品分享海报) ---------------------------------------------------------

PRODUCT_ACCENT = (226, 54, 66)
PRODUCT_IMAGE_BOX = (MARGIN, MARGIN, WIDTH - MARGIN, MARGIN + 560)


@dataclass(frozen=True)
class ProductPosterContent:
    product_name: str
    subtitle: str
    price: str  # "¥89" or "¥89.9"
    price_note: str  # "起" when SKUs differ in price, else ""
    original_price: str  # the struck-through 划线价 ("¥129"), or ""
    image_png: bytes | None  # the product's main image (any format Pillow reads), or None
    sharer: str  # the sharer's nickname ("" for none)
    code_png: bytes  # the mini-program code whose scene carries the product and the sharer
    code_caption: tuple[str, ...]
    brand: str


def _product_image(image_bytes: bytes | None, box: tuple[int, int, int, int], name: str) -> Image.Image:
    """The product photo cropped to fill `box` (centre crop), or a soft panel with the name."""
    width, height = box[2] - box[0], box[3] - box[1]
    if image_bytes:
        try:
            photo = Image.open(io.BytesIO(image_bytes)).convert("RGB")
        except OSError:
            photo = None
        if photo is not None:
            scale = max(width / photo.width, height / photo.height)
            photo = photo.resize((max(width, round(photo.width * scale)), max(height, round(photo.height * scale))),
                                 Image.Resampling.LANCZOS)
            left, top = (photo.width - width) // 2, (photo.height - height) // 2
            return photo.crop((left, top, left + width, top + height))
    panel = Image.new("RGB", (width, height), (255, 236, 228))
    ImageDraw.Draw(panel).text((width // 2, height // 2), _fit(drawable(name) or "好物", 56, width - 60),
                               font=font(56), fill=(214, 84, 30), anchor="mm")
    return panel


def product_poster_render(content: ProductPosterContent) -> bytes:
    """A product's share poster as PNG bytes (750×1200): the photo, the name, the price, who
    recommends it and the code that opens the product with the sharer attached. Pure: same
    content, same image. The code's text chunks (the sandbox's codes carry their scene there) are
    copied into the poster, as the distributor's poster does."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    mask = Image.new("L", (PRODUCT_IMAGE_BOX[2] - PRODUCT_IMAGE_BOX[0], PRODUCT_IMAGE_BOX[3] - PRODUCT_IMAGE_BOX[1]), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, mask.width - 1, mask.height - 1), radius=24, fill=255)
    image.paste(_product_image(content.image_png, PRODUCT_IMAGE_BOX, content.product_name),
                PRODUCT_IMAGE_BOX[:2], mask)

    text_width = WIDTH - 2 * MARGIN
    y = PRODUCT_IMAGE_BOX[3] + 30
    price_font = font(64)
    draw.text((MARGIN, y), content.price, font=price_font, fill=PRODUCT_ACCENT, stroke_width=1,
              stroke_fill=PRODUCT_ACCENT)
    x = MARGIN + int(price_font.getlength(content.price)) + 10
    if content.price_note:
        draw.text((x, y + 28), content.price_note, font=font(30), fill=PRODUCT_ACCENT)
        x += int(font(30).getlength(content.price_note)) + 16
    if content.original_price:
        draw.text((x, y + 28), content.original_price, font=font(30), fill=(160, 160, 160))
        strike_y = y + 28 + 20
        draw.line((x, strike_y, x + font(30).getlength(content.original_price), strike_y), fill=(160, 160, 160),
                  width=2)
    y += 92
    for i, line in enumerate(_wrap(content.product_name, 36, text_width)[:2]):
        draw.text((MARGIN, y + i * 48), line, font=font(36), fill=(40, 40, 40))
    y += 108
    subtitle = drawable(content.subtitle)
    if subtitle:
        draw.text((MARGIN, y), _fit(subtitle, 26, text_width), font=font(26), fill=(130, 130, 130))

    panel_top = 950
    draw.line((MARGIN, panel_top - 24, WIDTH - MARGIN, panel_top - 24), fill=(238, 238, 238), width=2)
    code = Image.open(io.BytesIO(content.code_png)).convert("RGBA")
    code.thumbnail((200, 200), Image.Resampling.LANCZOS)
    code_xy = (WIDTH - MARGIN - code.width, panel_top)
    image.paste(code, code_xy, code)
    sharer = drawable(content.sharer)
    lines = [f"{sharer} 推荐给你" if sharer else "好物推荐", *content.code_caption[:2]]
    caption_width = code_xy[0] - MARGIN - 24
    for i, line in enumerate(lines):
        size = 34 if i == 0 else 28
        draw.text((MARGIN, panel_top + 24 + i * 54), _fit(drawable(line), size, caption_width), font=font(size),
                  fill=(50, 50, 50) if i == 0 else (120, 120, 120))
    _centered(draw, 1160, _fit(content.brand, 22, text_width), 22, (170, 170, 170))

    info = PngInfo()
    for key, value in getattr(Image.open(io.BytesIO(content.code_png)), "text", {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3, pnginfo=info)
    return out.getvalue()
