"""Image URLs in API responses: one field name (`image_url`, `image_urls` for a gallery) and always
absolute, so a mini-program's <image src> works as given whatever host serves the media.

A value may be a stored file (an ImageField's FieldFile), a storage URL, or a URL copied onto a
row earlier (an order line's snapshot). A relative URL is made absolute with the request's host
when the serializer has the request in its context, else with settings.SITE_URL; an absolute one
(media on object storage or a CDN) is returned as it is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request


def absolute_url(url: str, *, request: Request | None) -> str:
    """`url` as an absolute http(s) URL (see the module docstring)."""
    if url.startswith(("http://", "https://")):
        return url
    if request is not None:
        return request.build_absolute_uri(url)
    return urljoin(settings.SITE_URL.rstrip("/") + "/", url.lstrip("/"))


def media_url(value: Any, *, request: Request | None) -> str | None:
    """The absolute URL of a stored file or a (relative) URL; None for no file or an empty URL."""
    if not value:
        return None
    url = value.url if hasattr(value, "url") else str(value)
    return absolute_url(url, request=request)


@extend_schema_field({"type": "string", "format": "uri", "nullable": True,
                      "description": "图片的绝对地址；没有图片为 null"})
class ImageUrlField(serializers.Field):
    """An image as its absolute URL (read-only): see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        return media_url(value, request=self.context.get("request"))


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "uri"},
                      "description": "图片的绝对地址，按顺序"})
class ImageUrlListField(serializers.Field):
    """Several images (FieldFiles or URLs) as absolute URLs, empty ones left out."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> list[str]:
        request = self.context.get("request")
        return [url for item in value if (url := media_url(item, request=request))]
