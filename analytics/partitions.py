"""The event table's monthly partitions, in SQL on a DB-API cursor (migrations use it too).

`analytics_event` is partitioned by RANGE (occurred_at), one partition per Shanghai calendar
month (`analytics_event_y2026m12`), plus a DEFAULT partition that catches an event whose month
has no partition yet, so an insert never fails for want of one. Creating a month whose rows
already sit in the default partition moves them out first (PostgreSQL refuses to attach a
partition whose range the default partition holds rows of).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

TABLE = "analytics_event"
DEFAULT_PARTITION = "analytics_event_default"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PARTITION_NAME = re.compile(r"^analytics_event_y(\d{4})m(\d{2})$")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def _bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(month, dt.time(), tzinfo=SHANGHAI)
    end = dt.datetime.combine(month_add(month, 1), dt.time(), tzinfo=SHANGHAI)
    return start, end


def partitions_existing(cursor: Any) -> list[dt.date]:
    """The months that have a partition, oldest first."""
    cursor.execute(
        "SELECT child.relname FROM pg_inherits JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
        "JOIN pg_class child ON child.oid = pg_inherits.inhrelid WHERE parent.relname = %s", [TABLE])
    months = []
    for (name,) in cursor.fetchall():
        match = PARTITION_NAME.match(name)
        if match:
            months.append(dt.date(int(match[1]), int(match[2]), 1))
    return sorted(months)


def partition_create(cursor: Any, month: dt.date) -> bool:
    """Create `month`'s partition unless it exists, moving its rows out of the default partition.
    Returns whether it was created. Run inside a transaction (the move and the attach are one step)."""
    if month in partitions_existing(cursor):
        return False
    name = partition_name(month)
    start, end = _bounds(month)
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE occurred_at >= %s AND occurred_at < %s "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved", [start, end])
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return True


def months_in_default(cursor: Any) -> list[dt.date]:
    """The months of the rows sitting in the default partition (events older or newer than the
    partitions made so far)."""
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'Asia/Shanghai')::date "
        f"FROM {DEFAULT_PARTITION}")
    return sorted(row[0] for row in cursor.fetchall())


def partition_drop(cursor: Any, month: dt.date) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {partition_name(month)}")
