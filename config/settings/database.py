"""PostgreSQL only: `DATABASE_URL`, or the embedded server (core.embedded_pg) when unset.

`DATABASE_URL` may take any of libpq's usual URL forms: `postgres://` or `postgresql://`, query
parameters such as `?sslmode=require`, and a Unix socket as the host (`postgresql:///mall`,
`postgresql://mall@/mall?host=/var/run/postgresql`, or the host percent-encoded). The same URL
serves Django and, without Redis, the Celery broker (`broker_url`).
"""

from __future__ import annotations

from typing import Any

import dj_database_url
from sqlalchemy.engine import URL

from .env import env, env_bool, env_int


def database_settings(url: str, *, conn_max_age: int) -> dict[str, Any]:
    """Django's DATABASES entry for `url`; a socket given as `?host=` becomes the entry's HOST."""
    database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=conn_max_age))
    options: dict[str, Any] = dict(database.get("OPTIONS") or {})
    for key in ("host", "port"):
        if key in options and not database.get(key.upper()):
            database[key.upper()] = options.pop(key)
    database["OPTIONS"] = options
    return database


def broker_url(database: dict[str, Any]) -> str:
    """The kombu SQLAlchemy broker URL (`sqla+postgresql+psycopg://…`) for a DATABASES entry.

    Built from the parsed parts, not by editing the URL's text, so the scheme alias, credentials
    with reserved characters, query parameters (sslmode…) and socket hosts all carry over. A
    socket directory goes in `?host=`, the form SQLAlchemy's psycopg dialect reads.
    """
    host = str(database.get("HOST") or "")
    query = {str(key): str(value) for key, value in (database.get("OPTIONS") or {}).items()}
    if host.startswith("/"):
        query["host"], host = host, ""
    port = database.get("PORT")
    url = URL.create(
        "postgresql+psycopg",
        username=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        host=host or None,
        port=int(port) if port else None,
        database=database.get("NAME") or None,
        query=query,
    )
    return "sqla+" + url.render_as_string(hide_password=False)


EMBEDDED_DATABASE = not env("DATABASE_URL")
if EMBEDDED_DATABASE:
    from core.embedded_pg import database_url

    DATABASE_URL = database_url("mall")
else:
    DATABASE_URL = env("DATABASE_URL")

# Seconds a connection is reused; 0 closes it after each request. `make run` sets 0 for runserver,
# whose request threads come and go. A reused connection is checked before each request, so one
# the server dropped (restart, idle timeout) costs no error.
DATABASES = {"default": database_settings(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_CONN_HEALTH_CHECKS", True)
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

# Analytics on a PostgreSQL of its own (docs/analytics.md): the event table, its buffer and the
# rollups go to `ANALYTICS_DATABASE_URL` (migrate it with `manage.py migrate --database analytics`);
# `REPORTS_DATABASE_URL`, a read replica of the default database, serves the rollups' reads of
# orders and refunds. Unset, both are the default database. A short connect timeout: the
# analytics path must never keep a purchase waiting (a lost event is counted instead).
DATABASE_ROUTERS = ["analytics.routers.AnalyticsRouter"]
ANALYTICS_DATABASE_URL = env("ANALYTICS_DATABASE_URL")
if ANALYTICS_DATABASE_URL:
    DATABASES["analytics"] = database_settings(ANALYTICS_DATABASE_URL,
                                               conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    DATABASES["analytics"]["OPTIONS"].setdefault("connect_timeout", env_int("ANALYTICS_DATABASE_CONNECT_TIMEOUT", 2))
    DATABASES["analytics"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["analytics"]["TEST"] = {"NAME": "test_mall_analytics"}
REPORTS_DATABASE_URL = env("REPORTS_DATABASE_URL")
if REPORTS_DATABASE_URL:
    DATABASES["reports"] = database_settings(REPORTS_DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    DATABASES["reports"]["TEST"] = {"MIRROR": "default"}
