"""Where uploaded media lives: local files by default, an S3-compatible bucket when configured.

`MEDIA_STORAGE=local` (default): FileSystemStorage under MEDIA_ROOT, served at MEDIA_URL.
`MEDIA_STORAGE=s3`: django-storages' S3 backend, for any S3-compatible bucket (AWS S3, Aliyun
OSS, Tencent COS, MinIO) with `S3_BUCKET`, `S3_ENDPOINT_URL`, `S3_ACCESS_KEY_ID`,
`S3_SECRET_ACCESS_KEY`, optionally `S3_REGION` and `S3_CUSTOM_DOMAIN` (a CDN host; URLs are
then plain public links, otherwise signed links that expire).

This module owns STORAGES: "default" as configured here; static files keep their own backend.
Upload names are random (core.images) under each model's dated folder, so a URL shows neither
the shopper's file name nor a server path.

Member-owned files (after-sale evidence, review photos, greeting posters) live in
STORAGES["private"], never under MEDIA_URL, and every URL to one is signed and expires after
`PRIVATE_MEDIA_URL_MAX_AGE` seconds (core.media): locally a directory outside MEDIA_ROOT
(`PRIVATE_MEDIA_ROOT`, default var/private) served by a view that checks the signature; on S3
the `private/` prefix of the bucket (or `S3_PRIVATE_BUCKET`), always with presigned URLs, even
when `S3_CUSTOM_DOMAIN` makes the public media plain CDN links.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .env import VAR_DIR, env, env_int

__all__ = [
    "IMAGE_UPLOAD_MAX_MB", "IMAGE_UPLOAD_MAX_PIXELS", "MEDIA_STORAGE", "PRIVATE_MEDIA_ACCEL_PREFIX",
    "PRIVATE_MEDIA_ROOT", "PRIVATE_MEDIA_URL_MAX_AGE", "STORAGES", "media_storage", "private_media_storage",
]

S3_BACKEND = "storages.backends.s3.S3Storage"
LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
PRIVATE_LOCAL_BACKEND = "core.media.PrivateFileSystemStorage"
PRIVATE_S3_PREFIX = "private"

# Member-owned files: where they live locally, how long a signed link to one works, and (behind
# nginx) the internal location that serves them once the view has checked the signature.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT") or VAR_DIR / "private")
PRIVATE_MEDIA_URL_MAX_AGE = env_int("PRIVATE_MEDIA_URL_MAX_AGE", 3600)
PRIVATE_MEDIA_ACCEL_PREFIX = env("PRIVATE_MEDIA_ACCEL_PREFIX")

# Uploaded images (core.images.image_clean): bytes and pixels; the pixel limit is checked from
# the header before decoding (decompression bombs).
IMAGE_UPLOAD_MAX_MB = env_int("IMAGE_UPLOAD_MAX_MB", 5)
IMAGE_UPLOAD_MAX_PIXELS = env_int("IMAGE_UPLOAD_MAX_PIXELS", 40_000_000)


def media_storage(environ: Mapping[str, str]) -> dict[str, Any]:
    """The STORAGES["default"] entry for these environment variables.

    Raises ValueError for an unknown MEDIA_STORAGE or an S3 configuration without a bucket, so
    a production deploy with a typo fails at start instead of writing to the container's disk.
    """
    kind = (environ.get("MEDIA_STORAGE") or "local").strip().lower()
    if kind == "local":
        return {"BACKEND": LOCAL_BACKEND}
    if kind != "s3":
        raise ValueError(f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}")
    bucket = environ.get("S3_BUCKET", "")
    if not bucket:
        raise ValueError("MEDIA_STORAGE=s3 needs S3_BUCKET")
    custom_domain = environ.get("S3_CUSTOM_DOMAIN") or None
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": environ.get("S3_ENDPOINT_URL") or None,
        "access_key": environ.get("S3_ACCESS_KEY_ID") or None,
        "secret_key": environ.get("S3_SECRET_ACCESS_KEY") or None,
        "region_name": environ.get("S3_REGION") or None,
        "custom_domain": custom_domain,
        # A CDN domain serves a public-read prefix; without one, links are signed and expire.
        "querystring_auth": custom_domain is None,
        "querystring_expire": 3600,
        # Names are random already; never silently replace an existing object.
        "file_overwrite": False,
        "default_acl": None,
        "url_protocol": "https:",
    }
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}


def private_media_storage(environ: Mapping[str, str]) -> dict[str, Any]:
    """The STORAGES["private"] entry: member-owned files, reachable only through signed, expiring URLs.

    Locally: core.media.PrivateFileSystemStorage (PRIVATE_MEDIA_ROOT, signed links to its view).
    On S3: the same bucket under `private/` (or S3_PRIVATE_BUCKET), presigned URLs that expire
    after PRIVATE_MEDIA_URL_MAX_AGE, never the public CDN domain. Same errors as media_storage().
    """
    public = media_storage(environ)
    if public["BACKEND"] != S3_BACKEND:
        return {"BACKEND": PRIVATE_LOCAL_BACKEND}
    options = {
        **public["OPTIONS"],
        "bucket_name": environ.get("S3_PRIVATE_BUCKET") or public["OPTIONS"]["bucket_name"],
        "location": PRIVATE_S3_PREFIX,
        "custom_domain": None,
        "querystring_auth": True,
        "querystring_expire": int(environ.get("PRIVATE_MEDIA_URL_MAX_AGE") or 3600),
    }
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}


# The static files keep whitenoise's backend whatever MEDIA_STORAGE says.
STORAGES = {
    "default": media_storage(os.environ),
    "private": private_media_storage(os.environ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_STORAGE = "s3" if STORAGES["default"]["BACKEND"] == S3_BACKEND else "local"
