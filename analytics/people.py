"""Who did an event: the person a funnel, a visitor count or a cohort counts once.

A person is a member ("m<id>") when the event carries the member, or when its device was later
(or earlier) seen logged in as that member (DeviceMember, resolved at query time, so a device's
anonymous browsing before login belongs to the member); otherwise the device ("d<anonymous id>").
Events with neither (a server event of nobody) have no person and are left out.
"""

from __future__ import annotations

# FROM/JOIN clause and person expression to splice into SQL over analytics_event aliased `e`.
EVENTS_WITH_PEOPLE = (
    "analytics_event e LEFT JOIN analytics_devicemember dm "
    "ON dm.anonymous_id = e.anonymous_id AND e.anonymous_id <> ''"
)
MEMBER = "COALESCE(e.member_id, dm.member_id)"
PERSON = f"COALESCE('m' || {MEMBER}::text, 'd' || NULLIF(e.anonymous_id, ''))"


def member_person(member_id: int) -> str:
    return f"m{member_id}"
