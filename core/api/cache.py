"""A short-lived cache for public, anonymous GET responses (the catalog).

The mini-program's most frequent requests are the same product pages for everyone. Caching the
serialised data for a few seconds (settings.CATALOG_CACHE_SECONDS; 0 turns it off) takes them
off the database. What it may show stale for that long is harmless: stock shown on a card is
informational, and placing an order takes stock atomically and re-checks the shelf.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.response import Response

CACHE_ALIAS = "catalog"


def cached_public_get(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's `get` whose answer depends only on the URL (no member, no auth)."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        ttl = settings.CATALOG_CACHE_SECONDS
        if ttl <= 0:
            return view(self, request, *args, **kwargs)
        raw = f"{request.get_host()}|{request.get_full_path()}".encode()
        key = "public-get:" + hashlib.sha256(raw).hexdigest()
        cache = caches[CACHE_ALIAS]
        data = cache.get(key)
        if data is not None:
            return Response(data)
        response = view(self, request, *args, **kwargs)
        if response.status_code == 200:
            cache.set(key, response.data, ttl)
        return response

    return wrapper
