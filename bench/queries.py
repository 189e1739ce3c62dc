"""Queries per request, counted in-process with Django's test client on the bench database."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from bench.load import Target

if TYPE_CHECKING:
    from django.test import Client


def count(target: Target) -> int:
    """SQL statements one request to `target` runs, after a first request has warmed caches.

    The first request is not counted: it pays one-off costs (content types, prepared state) that
    a long-running worker has already paid. Counts the target's first path with its first token;
    a cached read therefore shows 0, and its "uncached" twin what a cache miss costs.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    extra = {"HTTP_AUTHORIZATION": f"Bearer {target.tokens[0]}"} if target.tokens else {}
    # DEBUG is off, so ALLOWED_HOSTS applies: talk to the host the server is bound to.
    client = Client(HTTP_HOST="127.0.0.1", **extra)
    path = target.paths[0]
    # Warm with the last path: for the cache-busting targets that leaves the counted one a miss.
    # Keys of this target's own: two targets posting different bodies with one member's token
    # would otherwise meet as a reused key (409 idempotency_key_reused after two queries).
    tag = hashlib.sha256(target.label.encode()).hexdigest()[:12]
    _request(client, target, target.paths[-1], key=f"bench-queries-{tag}-warm")
    with CaptureQueriesContext(connection) as queries:
        status = _request(client, target, path, key=f"bench-queries-{tag}-counted")
    if status != target.expected_status:
        raise RuntimeError(f"{target.label} {path} answered {status} in-process, "
                           f"expected {target.expected_status}")
    return len(queries.captured_queries)


def _request(client: Client, target: Target, path: str, *, key: str) -> int:
    if target.method == "GET":
        return client.get(path).status_code
    headers = {"Idempotency-Key": key} if target.idempotency_keys else {}
    response = client.generic(target.method, path, data=target.body or b"", content_type="application/json",
                              headers=headers)
    return response.status_code
