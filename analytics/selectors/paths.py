"""Page paths: where visits start and end, and where people go after a chosen page.

Pages are the `path` of page_view events. A visit here is a person's run of page views with no gap
over 30 minutes (analytics.sessions.VISIT_GAP), cut at midnight Shanghai as the KPI rollup cuts
its visits, so every figure of a day stands alone and the figures of a range are the sums of its
days'. A visit's entry page is its first page view, its exit page the last. A page's exit rate is
the visits that ended on it over its page views.

The paths after a page P are each visit's page views from its first view of P on: step 0 is P,
step k the k-th view after it; a node is "<step>. <path>", so a page seen at two depths is two
nodes (a Sankey needs no cycles).

Days rolled up (analytics.services.rollups.page_paths_rollup, run by the KPI rollup: a day counts
as rolled up when it has PageDay rows, so days rolled up before the table existed still read) are
read from PageDay and PageLinkDay, as of their last rollup (the hourly KPI job redoes today and any
day with late events); the other days (never rolled up, or without page views) from the events,
by the same statement the rollup runs, and the two are added. So a report is exact whichever way
its days were read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from analytics.people import EVENTS_WITH_PEOPLE, PERSON, PERSON_KEY
from analytics.selectors.funnels import events_on_days_sql, report_cursor
from analytics.sessions import VISIT_GAP

EXIT = "（离开）"
# The deepest path kept per day (steps 0..MAX_DEPTH after a page); the console shows 3.
MAX_DEPTH = 5


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
    after: str  # the page the links start from ("" when there are no page views)
    # Sankey after `after`: (source, target, visits) links, `depth` steps deep.
    links: list[tuple[str, str, int]]


def _steps(depth: int) -> str:
    return ", ".join(f"({k}, {'a.path' if k == 0 else f'a.p{k}'}, a.p{k + 1})" for k in range(depth + 1))


def figures_sql(*, events: str, chosen: str) -> str:
    """WITH … pages (day, path, views, entries, exits) and links (day, after, step, source, target,
    visits): the page views of the events meeting `events` (SQL over `e`), per Shanghai day. links
    holds, for each page P named by the CTE `chosen` (one row, column `page`; NULL for every page),
    the visits' paths from their first view of P on, steps 0..MAX_DEPTH, target NULL where the
    visit ended. `chosen` is CTE text defining it, and may read `pages`. Parameter: %(gap)s.

    One sort puts each person's views of a day in order; every window over it keeps that order.
    A view's next MAX_DEPTH + 1 pages are leads over the same order, kept while in the same visit.
    """
    nexts = ",\n           ".join(f"CASE WHEN lead(visit, {k}) OVER person_day = visit "
                                  f"THEN lead(path, {k}) OVER person_day END AS p{k}" for k in range(1, MAX_DEPTH + 2))
    later = ", ".join(f"p{k}" for k in range(1, MAX_DEPTH + 2))
    return f"""
WITH views AS (
    SELECT {PERSON_KEY} AS person, (e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS day, e.occurred_at AS t,
           e.id, COALESCE(e.properties ->> 'path', '') AS path
    FROM {EVENTS_WITH_PEOPLE}
    WHERE e.name = 'page_view' AND ({events}) AND {PERSON} IS NOT NULL
), opened AS (
    SELECT *, COALESCE(t - lag(t) OVER person_day > %(gap)s, true) AS opens
    FROM views
    WINDOW person_day AS (PARTITION BY person, day ORDER BY t, id)
), placed AS (
    SELECT *, count(*) FILTER (WHERE opens) OVER person_day AS visit
    FROM opened
    WINDOW person_day AS (PARTITION BY person, day ORDER BY t, id)
), walked AS (
    SELECT person, day, visit, t, id, path, opens,
           {nexts}
    FROM placed
    WINDOW person_day AS (PARTITION BY person, day ORDER BY t, id)
), pages AS (
    SELECT day, path, count(*) AS views, count(*) FILTER (WHERE opens) AS entries,
           count(*) FILTER (WHERE p1 IS NULL) AS exits
    FROM walked GROUP BY day, path
), {chosen}
, anchors AS (
    SELECT day, path, {later},
           row_number() OVER (PARTITION BY person, day, visit, path ORDER BY t, id) AS nth
    FROM walked
    WHERE (SELECT page FROM chosen) IS NULL OR path = (SELECT page FROM chosen)
), links AS (
    SELECT a.day, a.path AS after, s.step, s.source, s.target, count(*) AS visits
    FROM anchors a CROSS JOIN LATERAL (VALUES {_steps(MAX_DEPTH)}) AS s (step, source, target)
    WHERE a.nth = 1 AND s.source IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
)"""


# The rolled-up days' rows plus the other days' from the events. The links start from %(after)s,
# or when that is '' from the most viewed page of the range; each link's visits at step <= %(depth)s.
_REPORT = figures_sql(events="{events}", chosen="""all_pages AS (
    SELECT path, sum(views)::bigint AS views, sum(entries)::bigint AS entries, sum(exits)::bigint AS exits
    FROM (SELECT path, views, entries, exits FROM analytics_pageday WHERE day = ANY(%(covered)s)
          UNION ALL
          SELECT path, views, entries, exits FROM pages) AS p
    GROUP BY path
), chosen AS (
    SELECT COALESCE(NULLIF(%(after)s, ''),
                    (SELECT path FROM all_pages ORDER BY views DESC, path COLLATE "C" LIMIT 1)) AS page
)""") + """
SELECT 'page', path, NULL::int, NULL::text, views, entries, exits FROM all_pages
UNION ALL
SELECT 'after', page, NULL, NULL, 0, 0, 0 FROM chosen
UNION ALL
SELECT 'link', source, step, target, sum(visits)::bigint, 0, 0
FROM (SELECT step, source, target, visits FROM analytics_pagelinkday
      WHERE day = ANY(%(covered)s) AND after = (SELECT page FROM chosen) AND step <= %(depth)s
      UNION ALL
      SELECT step, source, target, visits FROM links WHERE step <= %(depth)s) AS l
GROUP BY source, step, target
"""


def paths(*, first: dt.date, last: dt.date, after: str = "", depth: int = 3, top: int = 8) -> Paths:
    """Entry, exit and views per page over the Shanghai days `first`..`last`, and the paths of the
    visits from their first view of `after` on (the most viewed page when `after` is ""), `depth`
    pages deep (a path going on past that depth ends there, as an exit), the `top` next pages per
    node (the rest as 其他). One statement: rolled-up days from their rows, the rest from the events.
    Raises ValueError when `depth` is not 1..MAX_DEPTH."""
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be 1..{MAX_DEPTH}, not {depth}")
    with report_cursor() as cursor:
        covered = _rolled_up(cursor, first, last)
        params: dict[str, Any] = {"gap": VISIT_GAP, "after": after, "depth": depth, "covered": covered}
        events, ranges = events_on_days_sql(first, last, skip=covered)
        params.update(ranges)
        cursor.execute(_REPORT.replace("{events}", events), params)
        rows = cursor.fetchall()
    pages = sorted((PageFigures(source, views, entries, exits) for kind, source, _, _, views, entries, exits in rows
                    if kind == "page"), key=lambda page: (-page.views, page.path))
    chosen = next((source or "" for kind, source, *_ in rows if kind == "after"), "")
    links: Counter[tuple[str, str]] = Counter()
    for kind, source, step, target, n, _, _ in rows:
        if kind == "link":
            # A path going on past `depth` ends there: its last step's links fold into an exit.
            ends = step == depth or target is None
            links[f"{step}. {source}", EXIT if ends else f"{step + 1}. {target}"] += n
    return Paths(pages=pages, visits=sum(page.entries for page in pages), after=chosen,
                 links=_top_links(links, top))


def _rolled_up(cursor: Any, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days of `first`..`last` that have PageDay rows (rolled up; a day without page views has
    none and is read from its no events)."""
    cursor.execute("SELECT DISTINCT day FROM analytics_pageday WHERE day >= %s AND day <= %s ORDER BY 1",
                   [first, last])
    return [row[0] for row in cursor.fetchall()]


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
