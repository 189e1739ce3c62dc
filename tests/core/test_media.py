"""Member-owned media (core.media, core.views.private_media): stored outside MEDIA_ROOT, served only
for a valid, unexpired signature; a guessed, edited or stale link gets nothing."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, StorageHandler
from django.test import Client
from PIL import Image
from storages.backends.s3 import S3Storage

from config.settings.storage import private_media_storage
from core.media import LinkCheck, media_move, private_media_check, private_media_url, private_storage
from shop.models import AfterSalePhoto, ReviewPhoto

NAME = "aftersales/2026/11/0123456789abcdef.png"


@pytest.fixture
def private(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def stored(private) -> str:
    return private_storage().save(NAME, ContentFile(b"\x89PNG evidence"))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, format="PNG")
    out.name = "IMG_0001.png"
    out.seek(0)
    return out


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return parts.path + "?" + "&".join(f"{key}={value}" for key, value in query.items() if value)


# --- the link -----------------------------------------------------------------------------------


def test_the_storage_links_are_signed_and_the_file_is_served_for_them(client, stored, private):
    url = private_storage().url(stored)

    response = client.get(url)

    assert url.startswith(f"/private-media/{NAME}?expires=")
    assert response.status_code == 200
    assert body(response) == b"\x89PNG evidence"
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private, max-age=")
    assert (private / NAME).is_file()


def test_the_file_is_not_under_media_url(client, stored):
    assert client.get(f"/media/{NAME}").status_code == 404


@pytest.mark.parametrize("edit", [
    {"signature": ""},                                   # no signature at all
    {"expires": "", "signature": ""},                    # the bare path, guessed
    {"signature": "A" * 27},                             # a made-up signature
    {"expires": str(int(time.time()) + 10 ** 6)},       # the expiry pushed back
])
def test_a_guessed_or_edited_link_is_a_404(client, stored, edit):
    response = client.get(with_query(private_storage().url(stored), **edit))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_signature_for_one_file_does_not_open_another(client, private):
    storage = private_storage()
    mine = storage.save("reviews/2026/11/mine.png", ContentFile(b"mine"))
    theirs = storage.save("reviews/2026/11/theirs.png", ContentFile(b"theirs"))
    query = urlsplit(storage.url(mine)).query

    response = client.get(f"/private-media/{theirs}?{query}")

    assert response.status_code == 404


def test_an_expired_link_is_refused(client, stored, settings):
    url = private_media_url(stored, max_age=60, now=time.time() - 61)

    response = client.get(url)

    assert response.status_code == 403
    assert response.json()["code"] == "media_link_expired"
    assert private_media_check(stored, expires=parse_qs(urlsplit(url).query)["expires"][0],
                               signature=parse_qs(urlsplit(url).query)["signature"][0]).state is LinkCheck.EXPIRED


def test_the_expiry_is_a_setting(client, stored, settings):
    settings.PRIVATE_MEDIA_URL_MAX_AGE = 0

    assert client.get(private_storage().url(stored)).status_code == 403


def test_a_signed_link_to_a_missing_file_is_a_404(client, private):
    response = client.get(private_media_url("reviews/2026/11/gone.png"))

    assert response.status_code == 404


def test_only_get_and_head(client, stored):
    url = private_storage().url(stored)

    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


def test_behind_nginx_the_file_is_handed_to_an_internal_location(client, stored, settings):
    settings.PRIVATE_MEDIA_ACCEL_PREFIX = "/_private/"

    response = client.get(private_storage().url(stored))

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_private/{NAME}"
    assert response.content == b""
    assert client.get(f"/private-media/{NAME}").status_code == 404  # nginx sees no header for a bad link


# --- shoppers' uploads -------------------------------------------------------------------------


@pytest.mark.parametrize("path, model", [
    ("/api/v1/uploads/after-sale-photos", AfterSalePhoto),
    ("/api/v1/uploads/review-photos", ReviewPhoto),
])
def test_an_uploaded_photo_link_works_without_the_token_and_only_while_signed(shopper, private, path, model):
    response = shopper.client.post(path, {"file": png()}, format="multipart")

    assert response.status_code == 201
    url = response.json()["url"]
    photo = model.objects.get(pk=response.json()["id"])
    assert (private / photo.image.name).is_file()
    anonymous = Client()
    assert anonymous.get(url).status_code == 200
    assert anonymous.get(urlsplit(url).path).status_code == 404
    assert anonymous.get(f"/media/{photo.image.name}").status_code == 404


# --- moving existing files, object storage ---------------------------------------------------------


def test_existing_files_move_to_the_private_storage_once(private, tmp_path):
    public = FileSystemStorage(location=tmp_path / "media")
    public.save(NAME, ContentFile(b"old evidence"))

    assert media_move([NAME, "reviews/2026/11/missing.jpg", ""], source=public, target=private_storage()) == 1
    assert media_move([NAME], source=public, target=private_storage()) == 0
    assert not public.exists(NAME)
    assert (private / NAME).read_bytes() == b"old evidence"


def test_local_private_storage_by_default():
    assert private_media_storage({}) == {"BACKEND": "core.media.PrivateFileSystemStorage"}


def test_on_s3_private_files_get_presigned_links_even_with_a_cdn_domain():
    entry = private_media_storage({
        "MEDIA_STORAGE": "s3", "S3_BUCKET": "mall-media", "S3_ENDPOINT_URL": "https://cos.example.com",
        "S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "SK", "S3_REGION": "us-east-1",
        "S3_CUSTOM_DOMAIN": "img.example.com", "PRIVATE_MEDIA_URL_MAX_AGE": "600",
    })
    # django-stubs types StorageHandler's backends as Storage instances; Django takes their settings.
    storage = StorageHandler({"private": entry})["private"]  # type: ignore[dict-item]

    before = int(time.time())
    url = storage.url(NAME)

    assert isinstance(storage, S3Storage)
    assert url.startswith(f"https://cos.example.com/mall-media/private/{NAME}?")
    query = parse_qs(urlsplit(url).query)
    assert query["Signature"] and before + 600 <= int(query["Expires"][0]) <= int(time.time()) + 600


def test_on_s3_a_separate_private_bucket_can_be_named():
    entry = private_media_storage({"MEDIA_STORAGE": "s3", "S3_BUCKET": "public", "S3_PRIVATE_BUCKET": "secret"})

    assert entry["OPTIONS"]["bucket_name"] == "secret"
    assert entry["OPTIONS"]["location"] == "private"
