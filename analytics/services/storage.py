"""Getting events into the partitioned event table: the buffer, the flush, the partitions.

The request path (the events API, track()'s recorder) only appends to a plain buffer table with
one statement per batch: no lookups, no partition routing, no uniqueness check, so it stays fast and
never waits on the big table. A worker (events_flush, every minute and on demand) moves the
buffer into `analytics_event` in chunks: it keeps one row per event id, skips ids already
stored (a retried batch), links devices to members, and deletes what it moved, in one
transaction per chunk. One flusher runs at a time (an advisory lock), which is what makes the
id check sound without a unique index across partitions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from analytics import partitions
from analytics.routers import analytics_db

logger = logging.getLogger(__name__)

# The columns a buffered row has, in order, with their types.
COLUMN_TYPES = {
    "event_id": "uuid", "name": "text", "member_id": "bigint", "anonymous_id": "text", "properties": "jsonb",
    "occurred_at": "timestamptz", "received_at": "timestamptz", "client_time": "timestamptz", "source": "text",
    "platform": "text", "context": "jsonb",
}
COLUMNS = tuple(COLUMN_TYPES)
_RECORD = ", ".join(f"{column} {kind}" for column, kind in COLUMN_TYPES.items())
_APPEND = (f"INSERT INTO analytics_eventbuffer ({', '.join(COLUMNS)}) "
           f"SELECT {', '.join(COLUMNS)} FROM jsonb_to_recordset(%s::jsonb) AS row ({_RECORD})")
# The same as a transaction of its own whose commit does not wait for the WAL to reach the disk.
_APPEND_NO_WAIT = (f"WITH no_wait AS (SELECT set_config('synchronous_commit', 'off', true)) "
                   f"INSERT INTO analytics_eventbuffer ({', '.join(COLUMNS)}) "
                   f"SELECT {', '.join(COLUMNS)} FROM no_wait, jsonb_to_recordset(%s::jsonb) AS row ({_RECORD})")
# pg_advisory_xact_lock key for the flush: "an-flush" in ASCII.
FLUSH_LOCK = 0x616E2D666C757368


@dataclass(frozen=True)
class BufferedRow:
    """One event ready to store (occurred_at already clamped)."""

    event_id: Any
    name: str
    member_id: int | None
    anonymous_id: str
    properties: dict[str, Any]
    occurred_at: dt.datetime
    received_at: dt.datetime
    client_time: dt.datetime | None
    source: str
    platform: str
    context: dict[str, Any]


def buffer_append(rows: Sequence[BufferedRow]) -> None:
    """Append `rows` to the buffer with one statement on the analytics database: the rows travel
    as one JSON array that PostgreSQL unpacks (jsonb_to_recordset), so a batch is one round trip.

    Raises what the database raises (the caller decides whether that is a 503 or a counted loss);
    either all rows are buffered or none. Outside a transaction the statement commits at once,
    without waiting for the WAL flush (see below); inside one, that transaction's commit decides.
    """
    if not rows:
        return
    alias = analytics_db()
    database = connections[alias]
    data = json.dumps([{
        "event_id": str(row.event_id), "name": row.name, "member_id": row.member_id,
        "anonymous_id": row.anonymous_id, "properties": row.properties, "occurred_at": row.occurred_at.isoformat(),
        "received_at": row.received_at.isoformat(),
        "client_time": row.client_time.isoformat() if row.client_time is not None else None,
        "source": row.source, "platform": row.platform, "context": row.context,
    } for row in rows], ensure_ascii=False)
    # The buffer's commits need not wait for the disk: a crash of the database server may lose
    # the last fraction of a second of events (never corrupt anything, never touch an order),
    # and the request path stops paying a WAL flush per batch. One statement rather than COPY
    # in a transaction: COPY takes five round trips to the server (BEGIN, SET LOCAL, the COPY's
    # two, COMMIT) where this takes one, and the Python side encodes one JSON array instead of
    # formatting each row; measured by bench/analytics.py.
    if database.in_atomic_block:
        # A savepoint, so that a failure leaves the caller's transaction usable.
        with transaction.atomic(using=alias), database.cursor() as cursor:
            cursor.execute(_APPEND, [data])
    else:
        with database.cursor() as cursor:
            cursor.execute(_APPEND_NO_WAIT, [data])


_FLUSH_SQL = f"""
WITH batch AS (
    DELETE FROM analytics_eventbuffer
    WHERE id IN (SELECT id FROM analytics_eventbuffer ORDER BY id LIMIT %(chunk)s)
    RETURNING *
), fresh AS (
    SELECT DISTINCT ON (event_id) * FROM batch ORDER BY event_id, id
), linked AS (
    INSERT INTO analytics_devicemember (anonymous_id, member_id, linked_at)
    SELECT DISTINCT ON (anonymous_id) anonymous_id, member_id, occurred_at FROM fresh
    WHERE member_id IS NOT NULL AND anonymous_id <> ''
    ORDER BY anonymous_id, occurred_at
    ON CONFLICT (anonymous_id) DO NOTHING
), stored AS (
    INSERT INTO analytics_event ({", ".join(COLUMNS)})
    SELECT {", ".join(COLUMNS)} FROM fresh
    WHERE NOT EXISTS (SELECT 1 FROM analytics_event seen WHERE seen.event_id = fresh.event_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM stored)
"""


@dataclass(frozen=True)
class FlushResult:
    taken: int  # rows taken from the buffer
    stored: int  # new events stored (taken less the repeats)


def events_flush(*, chunk: int | None = None, max_chunks: int = 1000) -> FlushResult:
    """Move the buffered events into the event table until the buffer is empty.

    Each event id is stored once: repeats within the buffer and ids already in the table are
    dropped. A device seen with a member is linked to that member (the first member wins; a
    link is never moved). One transaction per chunk, so a crash loses nothing (the rows stay
    buffered) and stores nothing twice. If another flush holds the lock this returns at once
    with zeros: that one will take the rows. Idempotent.
    """
    chunk = chunk or settings.ANALYTICS_FLUSH_CHUNK
    alias = analytics_db()
    taken = stored = 0
    for _ in range(max_chunks):
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [FLUSH_LOCK])
            if not cursor.fetchone()[0]:
                break
            cursor.execute(_FLUSH_SQL, {"chunk": chunk})
            batch, fresh = cursor.fetchone()
        taken += batch
        stored += fresh
        if batch < chunk:
            break
    return FlushResult(taken=taken, stored=stored)


@dataclass(frozen=True)
class PartitionsResult:
    created: list[str]
    dropped: list[str]


def events_partitions_maintain(*, today: dt.date | None = None) -> PartitionsResult:
    """Create the monthly partitions from this month to ANALYTICS_PARTITIONS_AHEAD months ahead
    (and for any month whose rows sit in the default partition), and drop the partitions wholly
    older than ANALYTICS_EVENT_RETENTION_MONTHS, with the default partition's rows that old.
    Idempotent; a nightly job. The current month always stays, whatever the setting says.
    """
    today = today or timezone.localdate()
    current = partitions.month_start(today)
    keep_from = partitions.month_add(current, -max(settings.ANALYTICS_EVENT_RETENTION_MONTHS - 1, 0))
    alias = analytics_db()
    created: list[str] = []
    dropped: list[str] = []
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        wanted = {partitions.month_add(current, n) for n in range(settings.ANALYTICS_PARTITIONS_AHEAD + 1)}
        wanted |= {month for month in partitions.months_in_default(cursor) if month >= keep_from}
        for month in sorted(wanted):
            if partitions.partition_create(cursor, month):
                created.append(partitions.partition_name(month))
        for month in partitions.partitions_existing(cursor):
            if month < keep_from:
                partitions.partition_drop(cursor, month)
                dropped.append(partitions.partition_name(month))
        start = dt.datetime.combine(keep_from, dt.time(), tzinfo=partitions.SHANGHAI)
        cursor.execute(f"DELETE FROM {partitions.DEFAULT_PARTITION} WHERE occurred_at < %s", [start])
    if created or dropped:
        logger.info("event partitions: created %s, dropped %s", created, dropped)
    return PartitionsResult(created=created, dropped=dropped)
