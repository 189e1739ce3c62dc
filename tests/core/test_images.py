"""core.images.image_clean: real Pillow, real bytes; what is refused and what comes out."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

from core.images import ImageRejected, image_clean


def jpeg_bytes(size=(40, 20), *, exif: Image.Exif | None = None, color=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", exif=exif if exif is not None else b"")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming width×height, with a tiny IDAT: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def rejected_code(data: bytes, name: str = "x.jpg", **kwargs) -> tuple[str, int]:
    with pytest.raises(ImageRejected) as info:
        image_clean(SimpleUploadedFile(name, data), **kwargs)
    return info.value.code, info.value.status


def test_jpeg_is_reencoded_with_random_name_and_no_metadata():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[0x8825] = {2: (31.0, 14.0, 0.0)}  # GPS IFD
    upload = SimpleUploadedFile("我的家 IMG_0001.JPG", jpeg_bytes(exif=exif), content_type="image/jpeg")

    clean = image_clean(upload)

    name = clean.file.name or ""
    assert clean.format == "JPEG"
    assert name.endswith(".jpg")
    assert "IMG_0001" not in name and len(name) == 32 + 4
    with Image.open(io.BytesIO(clean.file.read())) as out:
        assert out.format == "JPEG"
        assert out.size == (40, 20)
        assert dict(out.getexif()) == {}
        assert "exif" not in out.info


def test_exif_orientation_is_applied_before_it_is_stripped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    clean = image_clean(io.BytesIO(jpeg_bytes((40, 20), exif=exif)))

    assert (clean.width, clean.height) == (20, 40)
    with Image.open(io.BytesIO(clean.file.read())) as out:
        assert out.size == (20, 40)
        assert out.getexif().get(0x0112) is None


def test_png_text_chunks_are_dropped_and_alpha_kept():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "/home/alice/private/photo.png")
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buf, "PNG", pnginfo=info)

    clean = image_clean(io.BytesIO(buf.getvalue()))

    with Image.open(io.BytesIO(clean.file.read())) as out:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert "Comment" not in out.info
    assert (clean.file.name or "").endswith(".png")


def test_webp_accepted():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "blue").save(buf, "WEBP")
    clean = image_clean(io.BytesIO(buf.getvalue()))
    assert clean.format == "WEBP" and (clean.file.name or "").endswith(".webp")


def test_bytes_appended_after_the_image_are_gone():
    data = jpeg_bytes() + b"PK\x03\x04hidden-zip-payload"
    clean = image_clean(io.BytesIO(data))
    assert b"hidden-zip-payload" not in clean.file.read()


def test_not_an_image_is_refused():
    assert rejected_code(b"%PDF-1.4 not an image at all", "a.jpg") == ("image_invalid", 400)


def test_empty_file_is_refused():
    assert rejected_code(b"", "a.jpg") == ("image_invalid", 400)


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes((200, 200))
    assert rejected_code(data[: len(data) // 2]) == ("image_invalid", 400)


def test_gif_is_an_unsupported_format():
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    assert rejected_code(buf.getvalue(), "a.gif") == ("image_unsupported_format", 400)


@override_settings(IMAGE_UPLOAD_MAX_MB=1)
def test_oversized_file_is_refused_before_decoding():
    data = b"\xff\xd8" + b"\0" * (1024 * 1024)  # 1 MB + 2 bytes, not even read by Pillow
    assert rejected_code(data) == ("image_too_large", 413)


def test_oversized_stream_without_size_is_refused():
    assert rejected_code(jpeg_bytes((64, 64)), max_bytes=100) == ("image_too_large", 413)


def test_decompression_bomb_is_refused_from_its_header():
    # 8000×6000 = 48 MP claimed by a file of ~100 bytes.
    data = png_header_only(8000, 6000)
    assert len(data) < 200
    assert rejected_code(data, "bomb.png") == ("image_too_many_pixels", 400)


def test_huge_bomb_beyond_pillows_own_guard_gets_the_same_code():
    assert rejected_code(png_header_only(60000, 60000), "bomb.png") == ("image_too_many_pixels", 400)


@override_settings(IMAGE_UPLOAD_MAX_PIXELS=1000)
def test_pixel_limit_is_a_setting():
    assert rejected_code(jpeg_bytes((40, 30))) == ("image_too_many_pixels", 400)


# --- Media storage setting (config/settings/storage.py): no network, the real backends ------------


def test_media_storage_defaults_to_local_files():
    from config.settings.storage import media_storage

    assert media_storage({}) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_media_storage_s3_builds_django_storages_s3_backend():
    from django.core.files.storage import StorageHandler
    from storages.backends.s3 import S3Storage

    from config.settings.storage import media_storage

    default = media_storage({
        "MEDIA_STORAGE": "s3", "S3_BUCKET": "mall-media", "S3_ENDPOINT_URL": "https://cos.example.com",
        "S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "SK", "S3_CUSTOM_DOMAIN": "img.example.com",
    })
    # django-stubs types StorageHandler's backends as Storage instances; Django takes their settings.
    storage = StorageHandler({"default": default})["default"]  # type: ignore[dict-item]

    assert isinstance(storage, S3Storage)
    assert storage.bucket_name == "mall-media"
    assert storage.endpoint_url == "https://cos.example.com"
    assert storage.file_overwrite is False
    # A CDN domain gives plain public URLs: no server path, no signature.
    assert storage.url("reviews/2026/11/abc.jpg") == "https://img.example.com/reviews/2026/11/abc.jpg"


def test_media_storage_s3_without_custom_domain_signs_urls():
    from django.core.files.storage import StorageHandler

    from config.settings.storage import media_storage

    default = media_storage({"MEDIA_STORAGE": "s3", "S3_BUCKET": "b", "S3_ENDPOINT_URL": "https://s3.example.com",
                             "S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "SK", "S3_REGION": "us-east-1"})
    # django-stubs types StorageHandler's backends as Storage instances; Django takes their settings.
    url = StorageHandler({"default": default})["default"].url("reviews/2026/11/abc.jpg")  # type: ignore[dict-item]

    assert url.startswith("https://s3.example.com/b/reviews/2026/11/abc.jpg?")
    assert "Signature" in url or "X-Amz-Signature" in url


@pytest.mark.parametrize("environ, message", [
    ({"MEDIA_STORAGE": "s3"}, "S3_BUCKET"),
    ({"MEDIA_STORAGE": "ftp"}, "local' or 's3'"),
])
def test_media_storage_misconfiguration_fails_loudly(environ, message):
    from config.settings.storage import media_storage

    with pytest.raises(ValueError, match=message):
        media_storage(environ)


def test_running_settings_use_the_local_backend_by_default(settings):
    assert settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert settings.STORAGES["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedStaticFilesStorage"
