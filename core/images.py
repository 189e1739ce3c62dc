"""Uploaded images from shoppers and operators: checked, re-encoded, renamed.

One entry point, `image_clean()`, used by every upload (review photos, after-sales photos,
product images): it refuses anything that is not a real JPEG/PNG/WebP, is larger than
`IMAGE_UPLOAD_MAX_MB`, or has more than `IMAGE_UPLOAD_MAX_PIXELS` pixels, and returns a new file
decoded and encoded again by Pillow.

Why each step:

- The byte size is checked before Pillow sees the file, and the pixel count is read from the
  header before anything is decoded, so a decompression bomb (a small file that claims
  30000×30000 pixels) is refused without allocating its pixels.
- Re-encoding drops everything but the pixels: EXIF (GPS position, phone model), XMP, text
  chunks, ICC-embedded payloads and anything appended after the image data. The EXIF
  orientation is applied first, so a portrait photo stays upright without its EXIF tag.
- The returned file has a random name (`<uuid>.jpg`): the storage puts it under the model's
  dated `upload_to` folder, so served URLs never carry the shopper's file name or our paths.

Errors are `ImageRejected` (a `ValidationFailed`), each with a stable code the API and the
mini-program can branch on; the admin shows the Chinese message.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ValidationFailed

DEFAULT_MAX_MB = 5
DEFAULT_MAX_PIXELS = 40_000_000

# Pillow's format name -> (file extension, save options). Output keeps the input's format: a PNG
# screenshot stays sharp, a photo stays a JPEG.
_OUTPUT = {
    "JPEG": ("jpg", {"format": "JPEG", "quality": 85, "optimize": True}),
    "PNG": ("png", {"format": "PNG", "optimize": True}),
    "WEBP": ("webp", {"format": "WEBP", "quality": 85}),
}


class ImageRejected(ValidationFailed):
    """An upload refused by `image_clean()`; `code` says why (stable, snake_case)."""

    code = "image_invalid"
    message = "请上传有效的图片文件"


@dataclass(frozen=True)
class CleanImage:
    """A re-encoded image ready to assign to an ImageField (`file` has a random name)."""

    file: ContentFile
    format: str
    width: int
    height: int

    @property
    def size(self) -> int:
        return int(self.file.size)


def image_limits() -> tuple[int, int]:
    """(max bytes, max pixels) from settings: IMAGE_UPLOAD_MAX_MB, IMAGE_UPLOAD_MAX_PIXELS."""
    max_mb = getattr(settings, "IMAGE_UPLOAD_MAX_MB", DEFAULT_MAX_MB)
    max_pixels = getattr(settings, "IMAGE_UPLOAD_MAX_PIXELS", DEFAULT_MAX_PIXELS)
    return int(max_mb * 1024 * 1024), int(max_pixels)


def image_clean(upload: IO[bytes] | Any, *, max_bytes: int | None = None,
                max_pixels: int | None = None) -> CleanImage:
    """Validate an uploaded image and return it re-encoded, metadata-free, randomly named.

    `upload` is any binary file object (a Django UploadedFile, an open file, BytesIO).
    Raises ImageRejected with code `image_too_large` (413), `image_too_many_pixels`,
    `image_unsupported_format` or `image_invalid` (400). Reads at most max_bytes + 1 bytes;
    pure (no database, no storage): the caller saves the returned file.
    """
    default_bytes, default_pixels = image_limits()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    max_pixels = default_pixels if max_pixels is None else max_pixels

    data = _read_capped(upload, max_bytes)
    try:
        with Image.open(io.BytesIO(data)) as image:  # lazy: parses the header only
            image_format = image.format or ""
            width, height = image.size
            if image_format not in _OUTPUT:
                raise ImageRejected("仅支持 JPEG、PNG、WebP 格式的图片", code="image_unsupported_format",
                                    detail={"format": image_format.lower()})
            if width * height > max_pixels:
                raise ImageRejected(f"图片尺寸过大（不能超过 {max_pixels // 1_000_000} 百万像素）",
                                    code="image_too_many_pixels",
                                    detail={"width": width, "height": height, "max_pixels": max_pixels})
            image.load()  # decodes the first frame only; animated images become still
            upright = ImageOps.exif_transpose(image)
            clean = _pixels_only(upright, image_format)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard (far above ours) fired while parsing the header.
        raise ImageRejected(f"图片尺寸过大（不能超过 {max_pixels // 1_000_000} 百万像素）",
                            code="image_too_many_pixels", detail={"max_pixels": max_pixels}) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            EOFError) as exc:
        # Not an image, truncated, or corrupt in a way Pillow notices while decoding.
        raise ImageRejected() from exc

    extension, options = _OUTPUT[image_format]
    out = io.BytesIO()
    clean.save(out, **options)
    return CleanImage(file=ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}"),
                      format=image_format, width=clean.width, height=clean.height)


def _read_capped(upload: Any, max_bytes: int) -> bytes:
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise _too_large(max_bytes)
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if hasattr(upload, "seek"):
        upload.seek(0)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise ImageRejected("图片文件为空", code="image_invalid")
    return bytes(data)


def _too_large(max_bytes: int) -> ImageRejected:
    mb = max_bytes / (1024 * 1024)
    return ImageRejected(f"图片不能超过 {mb:g} MB", code="image_too_large", status=413,
                         detail={"max_bytes": max_bytes})


def _pixels_only(image: Any, image_format: str) -> Any:
    """A fresh image holding only the pixels (no info dict, no EXIF, no ICC, no text chunks)."""
    if image_format == "JPEG":
        mode = "L" if image.mode in {"L", "1"} else "RGB"
    else:
        has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        mode = "RGBA" if has_alpha else "RGB"
    converted = image.convert(mode)
    fresh = Image.new(mode, converted.size)
    fresh.paste(converted)
    return fresh
