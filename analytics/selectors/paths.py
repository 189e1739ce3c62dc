"""Page paths: where visits start and end, and where people go after a chosen page.

Pages are the `path` of page_view events; visits as in analytics.sessions. A visit's entry page
is its first page view, its exit page the last. A page's exit rate is the visits that ended on
it over its page views.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from analytics.people import EVENTS_WITH_PEOPLE, PERSON, PERSON_KEY
from analytics.selectors.funnels import day_range, report_cursor
from analytics.sessions import VISIT_GAP

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


# The page views of the range in each person's order (one sort; every window below keeps it), each
# with its visit (a person's run with no gap over VISIT_GAP) and its place; then per page its
# views and the visits entering and leaving on it, and with %(after)s the links of the visits'
# paths from their first view of that page on, %(depth)s deep. The first view of that page in the
# current visit is a running max of (visit * 2^32 - place) over the views of the page: the latest
# visit having one wins, and within it the earliest place.
_PATHS = f"""
WITH views AS (
    SELECT {PERSON_KEY} AS person, e.occurred_at AS t, e.id, COALESCE(e.properties ->> 'path', '') AS path
    FROM {EVENTS_WITH_PEOPLE}
    WHERE e.name = 'page_view' AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND {PERSON} IS NOT NULL
), gaps AS (
    SELECT *, COALESCE(t - lag(t) OVER person_time > %(gap)s, true) AS opens,
           lead(t) OVER person_time AS next_t, lead(path) OVER person_time AS next_path,
           row_number() OVER person_time AS place
    FROM views
    WINDOW person_time AS (PARTITION BY person ORDER BY t, id)
), placed AS (
    SELECT *, next_t IS NULL OR next_t - t > %(gap)s AS closes,
           count(*) FILTER (WHERE opens) OVER person_time AS visit
    FROM gaps
    WINDOW person_time AS (PARTITION BY person ORDER BY t, id)
), pages AS (
    SELECT 'page' AS kind, path AS source, NULL::text AS target, count(*) AS views,
           count(*) FILTER (WHERE opens) AS entries, count(*) FILTER (WHERE closes) AS exits
    FROM placed GROUP BY path
), marked AS (
    SELECT path, CASE WHEN NOT closes THEN next_path END AS next_path, visit, place,
           max(CASE WHEN path = %(after)s THEN visit * 4294967296 - place END) OVER person_time AS code
    FROM placed
    WHERE %(after)s <> ''
    WINDOW person_time AS (PARTITION BY person ORDER BY t, id)
), stepped AS (
    SELECT path, next_path, place - ((code / 4294967296 + 1) * 4294967296 - code) AS step
    FROM marked
    WHERE code / 4294967296 + 1 = visit
)
SELECT kind, source, target, views, entries, exits FROM pages
UNION ALL
SELECT 'link', step || '. ' || path, CASE WHEN step < %(depth)s AND next_path IS NOT NULL
                                          THEN (step + 1) || '. ' || next_path END, count(*), 0, 0
FROM stepped WHERE step BETWEEN 0 AND %(depth)s GROUP BY 2, 3
"""


def paths(*, first: dt.date, last: dt.date, after: str = "", depth: int = 3, top: int = 8) -> Paths:
    """Entry, exit and views per page over the Shanghai days `first`..`last`; with `after`, the
    paths of the visits from their first view of that page on, `depth` pages deep (a path going
    on past that depth ends there, as an exit), the `top` next pages per node (the rest as 其他).
    One statement."""
    start, end = day_range(first, last)
    with report_cursor() as cursor:
        cursor.execute(_PATHS, {"start": start, "end": end, "gap": VISIT_GAP, "after": after, "depth": depth})
        rows = cursor.fetchall()
    pages = [PageFigures(source, views, entries, exits) for kind, source, _, views, entries, exits in rows
             if kind == "page"]
    pages.sort(key=lambda page: (-page.views, page.path))
    links: Counter[tuple[str, str]] = Counter({(source, target or EXIT): n for kind, source, target, n, _, _ in rows
                                                if kind == "link"})
    return Paths(pages=pages, visits=sum(page.entries for page in pages), links=_top_links(links, top))


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
