"""PostgreSQL only: `DATABASE_URL`, or the embedded server (core.embedded_pg) when unset."""

from __future__ import annotations

import dj_database_url

from .env import env, env_int

EMBEDDED_DATABASE = not env("DATABASE_URL")
if EMBEDDED_DATABASE:
    from core.embedded_pg import database_url

    DATABASE_URL = database_url("mall")
else:
    DATABASE_URL = env("DATABASE_URL")

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # the service owns the transaction
DATABASES["default"]["TEST"] = {"NAME": "test_mall"}

REDIS_URL = env("REDIS_URL")
# Public catalog responses, cached for a few seconds (core.api.cache); 0 turns it off.
CATALOG_CACHE_SECONDS = env_int("CATALOG_CACHE_SECONDS", 10)
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "catalog": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                    "KEY_PREFIX": "catalog"},
    }
else:
    # Shared by every process (web, worker, beat), unlike a local-memory cache: the WeChat
    # access token must be one value for all of them.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "core_cache"},
        # Per process: a few seconds of staleness per worker is all it can cause.
        "catalog": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "catalog"},
    }
