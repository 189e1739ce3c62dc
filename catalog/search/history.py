"""What shoppers searched, without saying who: per-day counts of each query, the hot words they
make with the operators' pinned words, and the report of queries that found nothing.

A member's own recent searches are members' (members.services.searches): the catalog knows
nothing of members.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from catalog.models import SearchHotWord, SearchQueryStat

HOT_WORD_DAYS = 7
MAX_HOT_WORDS = 10
# A query searched fewer times than this in the window is not "hot" (one shopper's typing).
HOT_WORD_MIN_SEARCHES = 3


def search_record(*, query: str, result_count: int, now: dt.datetime | None = None) -> None:
    """Count one search of the normalised `query` on today's row (Shanghai day), and whether it
    found nothing. One upsert; the counter moves in the statement, so concurrent searches of the
    same words never lose a count."""
    if not query:
        return
    now = now or timezone.now()
    table = SearchQueryStat._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS s (day, query, searches, zero_result_searches, last_result_count, "
            "last_searched_at) VALUES (%s, %s, 1, %s, %s, %s) ON CONFLICT (day, query) DO UPDATE SET "
            "searches = s.searches + 1, zero_result_searches = s.zero_result_searches + EXCLUDED.zero_result_searches, "
            "last_result_count = EXCLUDED.last_result_count, last_searched_at = EXCLUDED.last_searched_at",
            [timezone.localdate(now), query[:64], 1 if result_count == 0 else 0, result_count, now],
        )


@dataclass(frozen=True)
class HotWord:
    word: str
    pinned: bool
    highlight: bool


def search_hot_words(*, now: dt.datetime, limit: int = MAX_HOT_WORDS) -> list[HotWord]:
    """The operators' pinned words in their order, then the queries searched most over the last
    HOT_WORD_DAYS days that found something. Two queries."""
    pinned = [HotWord(word=w, pinned=True, highlight=h)
              for w, h in SearchHotWord.objects.filter(is_active=True).order_by("sort", "id")
              .values_list("word", "highlight")[:limit]]
    taken = {h.word for h in pinned}
    since = timezone.localdate(now) - dt.timedelta(days=HOT_WORD_DAYS - 1)
    popular = (SearchQueryStat.objects.filter(day__gte=since, last_result_count__gt=0)
               .values("query").annotate(total=Sum("searches")).filter(total__gte=HOT_WORD_MIN_SEARCHES)
               .order_by("-total", "query").values_list("query", flat=True)[:limit + len(taken)])
    out = list(pinned)
    out.extend(HotWord(word=q, pinned=False, highlight=False) for q in popular if q not in taken)
    return out[:limit]


def search_zero_result_report(*, since: dt.date) -> QuerySet[SearchQueryStat, dict[str, Any]]:
    """Queries whose last search since `since` found nothing, most searched first: what operators
    answer with a synonym or a product. Rows are (query, searches, zero_result_searches, last_at)."""
    return (SearchQueryStat.objects.filter(day__gte=since, zero_result_searches__gt=0)
            .values("query").annotate(total=Sum("searches"), zero=Sum("zero_result_searches"),
                                      last_at=Max("last_searched_at"))
            .order_by("-zero", "-total", "query"))
