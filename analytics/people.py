"""Who did an event: the person a funnel, a visitor count or a cohort counts once.

A person is a member ("m<id>") when the event carries the member, or when its device was later
(or earlier) seen logged in as that member (DeviceMember, resolved at query time, so a device's
anonymous browsing before login belongs to the member); otherwise the device ("d<anonymous id>").
Events with neither (a server event of nobody) have no person and are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

# FROM/JOIN clause and person expression to splice into SQL over analytics_event aliased `e`.
EVENTS_WITH_PEOPLE = (
    "analytics_event e LEFT JOIN analytics_devicemember dm "
    "ON dm.anonymous_id = e.anonymous_id AND e.anonymous_id <> ''"
)
MEMBER = "COALESCE(e.member_id, dm.member_id)"
PERSON = f"COALESCE('m' || {MEMBER}::text, 'd' || NULLIF(e.anonymous_id, ''))"
# PERSON to sort, group and join on: byte order, as the database's collation would only slow it down.
PERSON_KEY = f"(({PERSON}) COLLATE \"C\")"


def seen_before_sql(condition: str, *, start: str = "%(start)s") -> str:
    """SQL true when the person `c.person` (a PERSON value) has an event meeting `condition` (over
    `e`) before `start` (a placeholder, used three times): a member through their own events or
    the anonymous ones of a device linked to them, an unlinked device through its own. Index
    probes per person, so it costs the people asked about, not the history."""
    own = condition.replace("e.", "x.")
    return f"""(CASE WHEN left(c.person, 1) = 'm' THEN
        EXISTS (SELECT 1 FROM analytics_event x WHERE x.member_id = substr(c.person, 2)::bigint
                AND x.occurred_at < {start} AND {own})
        OR EXISTS (SELECT 1 FROM analytics_devicemember link JOIN analytics_event x
                   ON x.anonymous_id = link.anonymous_id
                   WHERE link.member_id = substr(c.person, 2)::bigint AND x.member_id IS NULL
                   AND x.occurred_at < {start} AND {own})
      ELSE EXISTS (SELECT 1 FROM analytics_event x WHERE x.anonymous_id = substr(c.person, 2)
                   AND x.member_id IS NULL AND x.occurred_at < {start} AND {own}) END)"""


def pair_unseen_before_sql(condition: str, *, table: str, when: str, before: str) -> str:
    """SQL true when the person of the pair `c.member`, `c.device` (a member id and '' for a member,
    0 and the device's anonymous id for a device of nobody's) has no row of `table` (aliased `x`,
    an events-shaped table: member_id, anonymous_id) meeting `condition` (over `x`) with `x.{when}`
    before `before` (a placeholder or an expression, used three times): none of a member's own
    rows nor the member-less ones of a device linked to them; none of a device's own member-less
    rows. Three NOT EXISTS the planner makes anti-joins of: index probes per person, so it costs
    the people asked about, not the history."""
    return f"""NOT EXISTS (SELECT 1 FROM {table} x WHERE c.member <> 0 AND x.member_id = c.member
                       AND x.{when} < {before} AND {condition})
    AND NOT EXISTS (SELECT 1 FROM analytics_devicemember link JOIN {table} x ON x.anonymous_id = link.anonymous_id
                    WHERE c.member <> 0 AND link.member_id = c.member AND x.member_id IS NULL
                      AND x.{when} < {before} AND {condition})
    AND NOT EXISTS (SELECT 1 FROM {table} x WHERE c.member = 0 AND x.anonymous_id = c.device AND x.member_id IS NULL
                    AND x.{when} < {before} AND {condition})"""


def member_person(member_id: int) -> str:
    return f"m{member_id}"


def people_seen_before(cursor: Any, *, people: Collection[str], before: dt.datetime) -> set[str]:
    """Of `people`, those with a mini-program event before `before` (through the member, any device
    linked to the member, or the device itself): returning rather than new."""
    members = [int(p[1:]) for p in people if p.startswith("m")]
    devices = [p[1:] for p in people if p.startswith("d")]
    if not people:
        return set()
    cursor.execute(
        f"SELECT DISTINCT {PERSON} FROM {EVENTS_WITH_PEOPLE} "
        "WHERE e.occurred_at < %(before)s AND e.source = 'client' AND ("
        "  e.member_id = ANY(%(members)s) OR e.anonymous_id = ANY(%(devices)s)"
        "  OR e.anonymous_id IN (SELECT link.anonymous_id FROM analytics_devicemember link"
        "                        WHERE link.member_id = ANY(%(members)s)))",
        {"before": before, "members": members, "devices": devices})
    return {row[0] for row in cursor.fetchall()} & set(people)
