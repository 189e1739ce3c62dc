"""Who was active on which day: the rows of ActiveDay, as one SQL SELECT over the events.

The KPI rollup inserts what active_days_sql selects for the days it rolls up; retention selects
the same rows straight from the events for the days not rolled up, so both halves of its reading
agree row for row.
"""

from __future__ import annotations

from analytics.channels import ENTRY_EVENTS, UNKNOWN, channel_sql

_ENTRY = "e.name IN (" + ", ".join(f"'{name}'" for name in ENTRY_EVENTS) + ")"
_FIRST_ENTRY = f"ORDER BY e.occurred_at, e.id) FILTER (WHERE {_ENTRY}))[1]"

# ActiveDay's columns, in the order active_days_sql selects them.
COLUMNS = ("day", "member_id", "anonymous_id", "visited", "purchased", "entry_at", "entry_id", "channel")


def active_days_sql(where: str, *, entries: bool = True) -> str:
    """One row per Shanghai day and (member, device) with a mini-program event or a paid order,
    over analytics_event `e` where `where` (SQL, placeholders allowed) holds: whether it visited,
    whether it paid, and its first entry event of the day (by time, then id) with the channel that
    event names (UNKNOWN if none; NULL, NULL and '' when the pair had no entry event that day).
    Without `entries`, those three are left NULL, NULL, '' (cheaper: no properties read)."""
    first_entry = f"""(array_agg(e.occurred_at {_FIRST_ENTRY} AS entry_at,
       (array_agg(e.id {_FIRST_ENTRY} AS entry_id,
       CASE WHEN bool_or({_ENTRY})
            THEN COALESCE((array_agg({channel_sql("e.properties")} {_FIRST_ENTRY}, '{UNKNOWN}') ELSE ''
       END AS channel""" if entries else "NULL::timestamptz AS entry_at, NULL::bigint AS entry_id, ''::text AS channel"
    return f"""
SELECT (e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS day, e.member_id, e.anonymous_id,
       bool_or(e.source = 'client') AS visited, bool_or(e.name = 'order_paid') AS purchased,
       {first_entry}
FROM analytics_event e
WHERE ({where}) AND (e.source = 'client' OR e.name = 'order_paid')
  AND (e.member_id IS NOT NULL OR e.anonymous_id <> '')
GROUP BY 1, 2, 3
"""
