"""Product pictures drawn locally with Pillow: soft gradients with a simple shape.

No downloads. Deterministic: the same seed gives the same picture. Chinese text is drawn only
when a CJK font is installed (Debian's fonts-noto-cjk); otherwise the pictures carry no text.
"""

from __future__ import annotations

import colorsys
import io
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
Colour = tuple[int, int, int]


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | None:
    for path in CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return None


def _shift(colour: Colour, *, hue: float = 0.0, light: float = 0.0, sat: float = 0.0) -> Colour:
    h, lightness, s = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    h = (h + hue) % 1.0
    lightness = min(1.0, max(0.0, lightness + light))
    s = min(1.0, max(0.0, s + sat))
    r, g, b = colorsys.hls_to_rgb(h, lightness, s)
    return (round(r * 255), round(g * 255), round(b * 255))


def _gradient(size: int, top: Colour, bottom: Colour, angle: float) -> Image.Image:
    # Rotate a larger gradient and keep its centre, so no corner is left unfilled.
    mask = Image.linear_gradient("L").resize((512, 512), Image.Resampling.BICUBIC)
    mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    left = (mask.width - 360) // 2
    mask = mask.crop((left, left, left + 360, left + 360)).resize((size, size), Image.Resampling.BICUBIC)
    return Image.composite(Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), mask)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float],
                main: Colour, accent: Colour, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if shape == "bubble":
        draw.ellipse(box, fill=main)
        r = w * 0.18
        cx, cy = x1 - r * 0.4, y0 + r * 0.9
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=accent)
        r2 = w * 0.1
        draw.ellipse((x0 + w * 0.22 - r2, y0 + h * 0.3 - r2, x0 + w * 0.22 + r2, y0 + h * 0.3 + r2),
                     fill=(255, 255, 255))
    elif shape == "bottle":
        body = (x0 + w * 0.2, y0 + h * 0.3, x1 - w * 0.2, y1)
        draw.rounded_rectangle(body, radius=w * 0.12, fill=main)
        draw.rounded_rectangle((x0 + w * 0.36, y0 + h * 0.12, x1 - w * 0.36, y0 + h * 0.32),
                               radius=w * 0.04, fill=accent)
        draw.rounded_rectangle((x0 + w * 0.3, y0 + h * 0.5, x1 - w * 0.3, y0 + h * 0.72),
                               radius=w * 0.03, fill=(255, 255, 255))
    elif shape == "cookie":
        draw.ellipse(box, fill=main)
        for _ in range(9):
            r = w * rng.uniform(0.04, 0.07)
            cx = x0 + w * rng.uniform(0.22, 0.78)
            cy = y0 + h * rng.uniform(0.22, 0.78)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=accent)
    else:  # house
        draw.polygon([(x0, y0 + h * 0.45), (x0 + w / 2, y0), (x1, y0 + h * 0.45)], fill=accent)
        draw.rectangle((x0 + w * 0.12, y0 + h * 0.44, x1 - w * 0.12, y1), fill=main)
        draw.rounded_rectangle((x0 + w * 0.42, y0 + h * 0.68, x1 - w * 0.42, y1), radius=w * 0.03,
                               fill=accent)
        draw.rectangle((x0 + w * 0.2, y0 + h * 0.55, x0 + w * 0.34, y0 + h * 0.67), fill=(255, 255, 255))


def product_image(*, seed: int, shape: str, palette: tuple[Colour, ...], label: str = "",
                  variant: int = 0, size: int = 800) -> bytes:
    """A square JPEG (quality 80): gradient background, a shadowed shape, and the label if a
    CJK font exists. `variant` > 0 gives a detail shot: other angle, smaller shape."""
    rng = random.Random(seed * 31 + variant)
    base = palette[rng.randrange(len(palette))]
    base = _shift(base, hue=rng.uniform(-0.03, 0.03))
    top = _shift(base, light=0.06)
    bottom = _shift(base, light=-0.06, sat=0.05)
    angle = rng.choice([0, 30, 45, 90, 135]) + variant * 60
    image = _gradient(size, top, bottom, angle)

    main = _shift(base, light=-0.22, sat=0.15)
    accent = _shift(base, hue=0.08 + rng.uniform(0, 0.1), light=-0.32, sat=0.2)
    if shape == "cookie":
        accent = (92, 58, 38)  # chocolate chips
    scale = 0.5 if variant == 0 else 0.36
    side = size * scale
    cx = size / 2 + (0 if variant == 0 else rng.uniform(-0.15, 0.15) * size)
    cy = size * (0.45 if label else 0.5)
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)

    offset = size * 0.025
    shadow_box = (box[0] + offset, box[1] + offset, box[2] + offset, box[3] + offset)
    shadow_rgb = Image.new("RGB", (size, size), (0, 0, 0))
    white = (255, 255, 255)
    _draw_shape(ImageDraw.Draw(shadow_rgb), shape, shadow_box, white, white, random.Random(seed))
    shadow = shadow_rgb.convert("L").point(lambda v: v * 90 // 255)
    shadow = shadow.filter(ImageFilter.GaussianBlur(size * 0.02))
    image.paste(Image.new("RGB", (size, size), _shift(bottom, light=-0.25)), (0, 0), shadow)
    _draw_shape(ImageDraw.Draw(image), shape, box, main, accent, random.Random(seed))

    font = _font(size // 16) if label else None
    if font is not None:
        draw = ImageDraw.Draw(image)
        text = label if len(label) <= 14 else label[:13] + "…"
        width = draw.textlength(text, font=font)
        draw.text(((size - width) / 2, size * 0.82), text, font=font, fill=_shift(base, light=-0.5))

    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()


def category_icon(*, seed: int, shape: str, palette: tuple[Colour, ...]) -> bytes:
    """A small square icon (200 px) for the category grid."""
    return product_image(seed=seed, shape=shape, palette=palette, variant=0, size=200)
