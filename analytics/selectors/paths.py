"""Page paths: where visits start and end, and where people go after a chosen page.

Pages are the `path` of page_view events; visits as in analytics.sessions. A visit's entry page
is its first page view, its exit page the last. A page's exit rate is the visits that ended on
it over its page views.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from itertools import groupby

from django.db import connections

from analytics.people import EVENTS_WITH_PEOPLE, PERSON
from analytics.routers import analytics_db
from analytics.selectors.funnels import day_range
from analytics.sessions import visits

EXIT = "（离开）"


@dataclass(frozen=True)
class PageFigures:
    path: str
    views: int
    entries: int
    exits: int

    @property
    def exit_rate(self) -> float:
        return round(self.exits / self.views, 4) if self.views else 0.0


@dataclass(frozen=True)
class Paths:
    pages: list[PageFigures]  # by views, most first
    visits: int
    # Sankey after the chosen page: (source, target, visits) links, `depth` steps deep. Each node is
    # "<step>. <path>" so a page seen at two depths is two nodes (a Sankey needs no cycles).
    links: list[tuple[str, str, int]]


def _page_visits(first: dt.date, last: dt.date) -> list[list[str]]:
    start, end = day_range(first, last)
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(
            f"SELECT {PERSON}, e.occurred_at, e.properties ->> 'path' FROM {EVENTS_WITH_PEOPLE} "
            f"WHERE e.name = 'page_view' AND e.occurred_at >= %s AND e.occurred_at < %s AND {PERSON} IS NOT NULL "
            "ORDER BY 1, e.occurred_at, e.id", [start, end])
        rows = cursor.fetchall()
    found: list[list[str]] = []
    for _, person_rows in groupby(rows, key=lambda row: row[0]):
        found.extend(visits((at, path or "") for _, at, path in person_rows))
    return found


def paths(*, first: dt.date, last: dt.date, after: str = "", depth: int = 3, top: int = 8) -> Paths:
    """Entry, exit and views per page over the Shanghai days `first`..`last`; with `after`, the
    paths of the visits from their first view of that page on, `depth` pages deep, the `top` next
    pages per node (the rest as 其他)."""
    page_visits = _page_visits(first, last)
    views: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    links: Counter[tuple[str, str]] = Counter()
    for visit in page_visits:
        views.update(visit)
        entries[visit[0]] += 1
        exits[visit[-1]] += 1
        if after and after in visit:
            tail = visit[visit.index(after):][: depth + 1]
            for step, (source, target) in enumerate(zip(tail, [*tail[1:], EXIT], strict=False)):
                links[f"{step}. {source}", f"{step + 1}. {target}" if target != EXIT else EXIT] += 1
                if target == EXIT:
                    break
    pages = [PageFigures(path, views[path], entries[path], exits[path]) for path in views]
    pages.sort(key=lambda page: (-page.views, page.path))
    return Paths(pages=pages, visits=len(page_visits), links=_top_links(links, top))


def _top_links(links: Counter[tuple[str, str]], top: int) -> list[tuple[str, str, int]]:
    by_source: dict[str, list[tuple[str, int]]] = {}
    for (source, target), n in links.items():
        by_source.setdefault(source, []).append((target, n))
    kept: list[tuple[str, str, int]] = []
    for source, targets in by_source.items():
        targets.sort(key=lambda item: (-item[1], item[0]))
        kept.extend((source, target, n) for target, n in targets[:top])
        rest = sum(n for _, n in targets[top:])
        if rest:
            kept.append((source, f"{int(source.split('.')[0]) + 1}. 其他", rest))
    return sorted(kept, key=lambda link: (link[0], -link[2], link[1]))
