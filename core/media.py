"""Member-owned media: stored apart from public media, reachable only through signed, expiring URLs.

After-sale evidence, review photos and greeting posters show a member's home, face or nickname.
Their files live in STORAGES["private"] (config/settings/storage.py), never under MEDIA_URL, and
`storage.url(name)` is the only way to a file:

- locally, `PrivateFileSystemStorage.url()` returns `/private-media/<name>?expires=…&signature=…`,
  an HMAC of the name and the expiry made with the site's secret key (django.core.signing), and
  the `private_media` view (core.views) streams the file only for a valid, unexpired signature;
- on S3, django-storages' presigned URLs, which the bucket itself checks and expires.

So every interface that renders `photo.image.url` (the API, the console) hands out a link that
works for PRIVATE_MEDIA_URL_MAX_AGE seconds, and a guessed or edited link gets nothing. Access
control is the caller's: only the owner's selectors and staff pages render these URLs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signing import Signer
from django.urls import reverse
from django.utils.crypto import constant_time_compare

__all__ = [
    "CheckedLink", "LinkCheck", "PrivateFileSystemStorage", "media_move", "private_media_check", "private_media_url",
    "private_storage",
]

# Separates these signatures from every other use of the secret key (sessions, other signers).
SALT = "core.media.private"
URL_NAME = "private-media"


def private_storage() -> Storage:
    """The storage of member-owned files (a callable, so FileFields resolve it at runtime)."""
    return storages["private"]


def _signature(name: str, expires: int) -> str:
    return Signer(salt=SALT).signature(f"{name}\n{expires}")


def private_media_url(name: str, *, max_age: int | None = None, now: float | None = None) -> str:
    """A site-relative URL to the private file `name`, valid for `max_age` seconds
    (PRIVATE_MEDIA_URL_MAX_AGE by default)."""
    max_age = settings.PRIVATE_MEDIA_URL_MAX_AGE if max_age is None else max_age
    expires = int(time.time() if now is None else now) + max_age
    query = urlencode({"expires": expires, "signature": _signature(name, expires)})
    return f"{reverse(URL_NAME, kwargs={'name': name})}?{query}"


class LinkCheck(Enum):
    """What a link to a private file is worth: VALID, EXPIRED (signed by us, too old) or INVALID."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class CheckedLink:
    state: LinkCheck
    seconds_left: int = 0


def private_media_check(name: str, *, expires: str | None, signature: str | None,
                        now: float | None = None) -> CheckedLink:
    """Check a link made by private_media_url(): the signature first (constant time), then the expiry.

    A link for another name, with an edited expiry or without a signature is INVALID; an intact
    link past its expiry is EXPIRED.
    """
    if not expires or not signature or not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return CheckedLink(LinkCheck.INVALID)
    if not constant_time_compare(signature, _signature(name, int(expires))):
        return CheckedLink(LinkCheck.INVALID)
    left = int(expires) - int(time.time() if now is None else now)
    if left <= 0:
        return CheckedLink(LinkCheck.EXPIRED)
    return CheckedLink(LinkCheck.VALID, seconds_left=left)


class PrivateFileSystemStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT (outside MEDIA_ROOT, so nothing serves them by path) whose
    `url()` is a signed link that expires (private_media_url)."""

    def __init__(self, location: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        kwargs.pop("base_url", None)  # there is no public base URL for these files
        super().__init__(location=location, **kwargs)
        self._private_location = location

    # Read from settings on every access, like FileSystemStorage does for MEDIA_ROOT through its
    # setting_changed hook, so a test (or a bench run) can point it somewhere else.
    @property  # type: ignore[override]
    def base_location(self) -> Any:
        return self._value_or_setting(self._private_location, settings.PRIVATE_MEDIA_ROOT)

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        if not name:
            raise ValueError("A private file needs a name to link to.")
        return private_media_url(name)


def media_move(names: Iterable[str], *, source: Storage, target: Storage) -> int:
    """Move files, keeping their names, from one storage to another; returns how many moved.

    For the migration that put member-owned files into the private storage. Idempotent: a name
    already in `target` or missing from `source` is skipped (a rerun after a crash finishes the job).
    The copy is written before the original is deleted, so a crash loses nothing.
    """
    moved = 0
    for name in names:
        if not name or target.exists(name) or not source.exists(name):
            continue
        with source.open(name, "rb") as content:
            stored = target.save(name, content)
        if stored != name:  # cannot happen after exists(): refuse to leave a row pointing nowhere
            raise RuntimeError(f"{name} was stored as {stored}")
        source.delete(name)
        moved += 1
    return moved
