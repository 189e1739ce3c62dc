"""Rate limits shared by every process: fixed-window counters with one atomic increment per hit.

A limit ("scope") allows `count` hits per subject (a member, a client address) in each fixed window
of `period` seconds, counted from the epoch. The common throttles (DRF's SimpleRateThrottle) read
a history, append and write it back, so concurrent requests each read the same history and a burst
passes; here the increment and the read of the new count are one operation, so of N concurrent
hits exactly `count` are allowed, whatever the number of processes:

- with `REDIS_URL`: INCR and EXPIRE in one MULTI/EXEC;
- otherwise: `INSERT … ON CONFLICT (key, window) DO UPDATE SET hits = hits + 1 RETURNING hits` on
  core's RateLimitCounter table (Django's database cache is no substitute: its incr() is a get and
  a set). `ratelimit_purge_expired()` deletes finished windows (a nightly job).

A fixed window lets at most 2 × count through across a window boundary; the limits are set with
that in mind. Limits are the `RATE_LIMITS` setting: scope → "<count>/<period>", the period a unit
(s, m, h, d) with an optional multiplier: "20/m", "30/5m", "10/h".
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from core.models import RateLimitCounter

logger = logging.getLogger(__name__)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_FORMAT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
# Subjects come from requests (a forwarded address may be anything): long ones are hashed.
MAX_SUBJECT = 64

# Seconds since the epoch; tests move it to reach the next window.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Rate:
    count: int
    period: int  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    hits: int  # in this window, this hit included
    retry_after: int  # whole seconds until the window ends (at least 1)


def rate_parse(text: str) -> Rate:
    """"20/m" → Rate(20, 60); "30/5m" → Rate(30, 300). Anything else raises ValueError."""
    match = RATE_FORMAT.match(text)
    if match is None or int(match[1]) < 1 or match[2] == "0":
        raise ValueError(f"a rate is '<count>/<period>' like '20/m' or '30/5m', not {text!r}")
    return Rate(count=int(match[1]), period=int(match[2] or 1) * UNITS[match[3]])


def rate_for(scope: str) -> Rate:
    """The configured rate of `scope`; an unknown scope or a malformed rate is a configuration error."""
    limits: dict[str, str] = settings.RATE_LIMITS
    if scope not in limits:
        raise ImproperlyConfigured(f"RATE_LIMITS has no limit named {scope!r}")
    try:
        return rate_parse(limits[scope])
    except ValueError as exc:
        raise ImproperlyConfigured(f"RATE_LIMITS[{scope!r}]: {exc}") from exc


def ratelimit_hit(*, scope: str, subject: str) -> Decision:
    """Count one hit of `subject` on `scope` and say whether it is within the limit.

    Atomic across processes (see the module docstring): of N concurrent hits in one window exactly
    the configured count are allowed. Every hit counts, refused ones included, so hammering on
    does not shorten the wait. With Redis, a Redis that cannot be reached lets the hit through (a
    warning is logged): the limits guard against abuse and must not take the shop down with them.
    """
    (decision,) = ratelimit_hits([(scope, subject)])
    return decision


def ratelimit_hits(hits: Sequence[tuple[str, str]]) -> list[Decision]:
    """Count one hit on each (scope, subject) at once and say, for each, whether it is within its
    limit: what `ratelimit_hit` does for each, in one round trip (one statement, or one Redis
    transaction). The same (scope, subject) twice counts once. The caller decides what to do
    when some are refused; all of them are counted either way.
    """
    now = clock()
    counters: dict[str, tuple[Rate, int, float]] = {}  # key → (rate, window, window's end)
    keys: list[str] = []
    for scope, subject in hits:
        rate = rate_for(scope)
        if len(subject) > MAX_SUBJECT:
            subject = hashlib.sha256(subject.encode()).hexdigest()
        key = f"{scope}:{subject}"
        window = int(now // rate.period)
        counters[key] = (rate, window, (window + 1) * rate.period)
        keys.append(key)
    if settings.REDIS_URL:
        counts = _redis_incr({f"ratelimit:{key}:{window}": math.ceil(ends - now) + 1
                              for key, (_, window, ends) in counters.items()})
        found = dict(zip(counters, counts, strict=True))
    else:
        found = _database_incr({key: (window, dt.datetime.fromtimestamp(ends, tz=dt.UTC))
                                for key, (_, window, ends) in counters.items()})
    decisions = []
    for key in keys:
        rate, _, ends = counters[key]
        decisions.append(Decision(allowed=found[key] <= rate.count, hits=found[key],
                                  retry_after=max(1, math.ceil(ends - now))))
    return decisions


def ratelimit_purge_expired() -> int:
    """Delete the database counters of windows that have ended; returns how many. Safe to run twice."""
    deleted, _ = RateLimitCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


_TABLE = RateLimitCounter._meta.db_table
_UPSERT = f"""
    INSERT INTO {_TABLE} (key, "window", hits, expires_at)
    SELECT key, "window", 1, expires_at FROM (VALUES {{rows}}) AS hit (key, "window", expires_at)
    ORDER BY key
    ON CONFLICT (key, "window") DO UPDATE SET hits = {_TABLE}.hits + 1
    RETURNING key, hits
"""
# The same, as a transaction of its own whose commit does not wait for the WAL to reach the disk.
_UPSERT_ASYNC_COMMIT = f"""
    WITH no_wait AS (SELECT set_config('synchronous_commit', 'off', true))
    INSERT INTO {_TABLE} (key, "window", hits, expires_at)
    SELECT key, "window", 1, expires_at FROM (VALUES {{rows}}) AS hit (key, "window", expires_at), no_wait
    ORDER BY key
    ON CONFLICT (key, "window") DO UPDATE SET hits = {_TABLE}.hits + 1
    RETURNING key, hits
"""


def _database_incr(counters: dict[str, tuple[int, dt.datetime]]) -> dict[str, int]:
    # One statement: PostgreSQL takes the row locks for the update, so concurrent hits queue on
    # them and each reads back its own count; the rows are taken in key order, so two requests
    # counting the same subjects cannot deadlock. Outside a transaction the statement commits at
    # once, without waiting for the disk (a crash of the database server may forget the last
    # fraction of a second of hits: harmless for a limit, and each hit saves a WAL flush, which
    # costs more than everything else a hit does). Inside the caller's transaction, that
    # transaction's commit decides.
    sql = _UPSERT if connection.in_atomic_block else _UPSERT_ASYNC_COMMIT
    rows = ", ".join(["(%s, %s::bigint, %s::timestamptz)"] * len(counters))
    params = [value for key, (window, expires_at) in counters.items() for value in (key, window, expires_at)]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(rows=rows), params)
        return {key: int(hits) for key, hits in cursor.fetchall()}


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _redis_incr(expiring: dict[str, int]) -> list[int]:
    """INCR and EXPIRE each key (key → seconds to live) in one MULTI/EXEC; the counts in order."""
    try:
        pipe = _redis_client(settings.REDIS_URL).pipeline(transaction=True)
        for key, expires_in in expiring.items():
            pipe.incr(key)
            pipe.expire(key, expires_in)
        replies = pipe.execute()
    except redis.RedisError:
        logger.warning("rate limits %s not counted: Redis is unreachable", ", ".join(expiring), exc_info=True)
        return [0] * len(expiring)
    return [int(hits) for hits in replies[::2]]
