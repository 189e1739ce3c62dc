"""A member's recent searches: recorded as they search, cleared when they ask."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from members.models import Member, RecentSearch

# The search page shows this many; older ones are dropped as new ones come.
RECENT_SEARCHES_KEPT = 20


def recent_search_record(*, member: Member, query: str, now: dt.datetime | None = None) -> None:
    """Put `query` (already normalised) at the top of the member's recent searches, keeping the
    newest RECENT_SEARCHES_KEPT. An upsert on (member, query), so a double tap stores it once."""
    if not query:
        return
    now = now or timezone.now()
    table = RecentSearch._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, query, searched_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (member_id, query) DO UPDATE SET searched_at = EXCLUDED.searched_at",
            [member.pk, query[:64], now],
        )
        cursor.execute(
            f"DELETE FROM {table} WHERE member_id = %s AND id NOT IN (SELECT id FROM {table} WHERE member_id = %s "
            "ORDER BY searched_at DESC, id DESC LIMIT %s)",
            [member.pk, member.pk, RECENT_SEARCHES_KEPT],
        )


def recent_searches_clear(*, member: Member) -> int:
    """Forget every recent search of the member (清空). Returns how many were removed."""
    deleted, _ = RecentSearch.objects.filter(member_id=member.pk).delete()
    return deleted
