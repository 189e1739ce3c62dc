"""Reports about members: profiles, the RFM groups, and the effect of each channel code.

Profiles count active (not deleted) members by what they filled in (gender, birthday → age band,
province), their tier, where they first came from (the channel of their first entry event) and
the platform they last used. RFM uses members' own groups and thresholds (members.segments).
Channel effect puts each channel code's scans beside what its visitors did (the KPI rollups'
"code:<scene>" cells) and what its coupons cost.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass

from django.db import connections
from django.db.models import Count, Sum
from django.utils import timezone

from analytics.channels import CODE_PREFIX, ENTRY_EVENTS, channel_label, channel_of
from analytics.models import DailyKpi
from analytics.people import EVENTS_WITH_PEOPLE, MEMBER
from analytics.routers import analytics_db, reports_db
from analytics.selectors.funnels import PLATFORM_LABELS, day_range
from campaigns.models import Channel, ChannelScan, Coupon, CouponStatus
from members.models import Gender, Member
from members.segments import RFM_GROUPS, segment_queryset

AGE_BANDS = ((0, 18, "18 岁以下"), (18, 25, "18-24 岁"), (25, 31, "25-30 岁"), (31, 41, "31-40 岁"),
             (41, 51, "41-50 岁"), (51, 200, "50 岁以上"))


def age_band(birthday: dt.date | None, today: dt.date) -> str:
    if birthday is None:
        return "未填写"
    age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
    return next((label for low, high, label in AGE_BANDS if low <= age < high), "未填写")


@dataclass(frozen=True)
class Profiles:
    members: int
    gender: list[tuple[str, int]]
    age: list[tuple[str, int]]
    province: list[tuple[str, int]]
    city: list[tuple[str, int]]
    tier: list[tuple[str, int]]
    acquisition: list[tuple[str, int]]
    platform: list[tuple[str, int]]


def _sorted(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def member_profiles(*, today: dt.date | None = None) -> Profiles:
    """The distributions over active members (one pass over members, one grouped query over events)."""
    today = today or timezone.localdate()
    genders = dict(Gender.choices)
    gender: Counter[str] = Counter()
    age: Counter[str] = Counter()
    province: Counter[str] = Counter()
    city: Counter[str] = Counter()
    tier: Counter[str] = Counter()
    rows = (Member.objects.using(reports_db()).filter(deleted_at__isnull=True)
            .values_list("pk", "gender", "birthday", "province", "city", "tier__name"))
    ids = []
    for pk, member_gender, birthday, member_province, member_city, tier_name in rows.iterator(chunk_size=5000):
        ids.append(pk)
        gender[str(genders.get(member_gender, "未知"))] += 1
        age[age_band(birthday, today)] += 1
        province[member_province or "未填写"] += 1
        city[member_city or "未填写"] += 1
        tier[tier_name or "普通会员"] += 1
    acquisition: Counter[str] = Counter()
    platform: Counter[str] = Counter()
    with connections[analytics_db()].cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON ({MEMBER}) {MEMBER}, e.properties::text FROM {EVENTS_WITH_PEOPLE} "
            f"WHERE e.name = ANY(%s) AND {MEMBER} IS NOT NULL ORDER BY {MEMBER}, e.occurred_at", [list(ENTRY_EVENTS)])
        first_entry = {member_id: properties for member_id, properties in cursor.fetchall()}
        cursor.execute(
            f"SELECT DISTINCT ON ({MEMBER}) {MEMBER}, e.platform FROM {EVENTS_WITH_PEOPLE} "
            f"WHERE e.source = 'client' AND {MEMBER} IS NOT NULL ORDER BY {MEMBER}, e.occurred_at DESC")
        last_platform = dict(cursor.fetchall())
    for pk in ids:
        properties = first_entry.get(pk)
        found = channel_of(_json(properties)) if properties else None
        acquisition[channel_label(found) if found else "未知"] += 1
        platform[PLATFORM_LABELS.get(last_platform.get(pk, ""), "未知")] += 1
    return Profiles(members=len(ids), gender=_sorted(gender), age=_sorted(age), province=_sorted(province),
                    city=_sorted(city)[:20], tier=_sorted(tier), acquisition=_sorted(acquisition),
                    platform=_sorted(platform))


def _json(text: str) -> dict:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class RfmRow:
    group: str
    label: str
    members: int
    paid_fen: int
    share: float  # of all members' paid totals


def rfm_report(*, now: dt.datetime | None = None) -> list[RfmRow]:
    """Members and their paid totals per RFM group (members' own rules, one query per group)."""
    now = now or timezone.now()
    rows = []
    for group, (_, label) in RFM_GROUPS.items():
        figures = segment_queryset(rules={"all": [{"type": "rfm", "groups": [group]}]}, now=now).aggregate(
            n=Count("pk"), paid=Sum("paid_total_fen"))
        rows.append((group, label, figures["n"] or 0, figures["paid"] or 0))
    total = sum(paid for *_, paid in rows)
    return [RfmRow(group, label, n, paid, round(paid / total, 4) if total else 0.0) for group, label, n, paid in rows]


@dataclass(frozen=True)
class ChannelEffect:
    channel_id: int
    name: str
    scene: str
    scans: int
    visitors: int
    new_visitors: int
    orders: int
    net_fen: int
    coupon_cost_fen: int

    @property
    def return_on_cost(self) -> float | None:
        return round(self.net_fen / self.coupon_cost_fen, 2) if self.coupon_cost_fen else None


def channel_effect(*, first: dt.date, last: dt.date) -> list[ChannelEffect]:
    """Each channel code over `first`..`last`: scans, its visitors and their orders and net sales
    (the rollups' cells of that code), and the discount its coupons gave on orders."""
    start, end = day_range(first, last)
    db = reports_db()
    scans = dict(ChannelScan.objects.using(db).filter(scanned_at__gte=start, scanned_at__lt=end)
                 .values_list("channel_id").annotate(n=Count("id")))
    cost = dict(Coupon.objects.using(db).filter(channel__isnull=False, status=CouponStatus.USED,
                                                used_at__gte=start, used_at__lt=end)
                .values_list("channel_id").annotate(fen=Sum("discount_fen")))
    cells = {row["channel"]: row for row in DailyKpi.objects.filter(
        day__gte=first, day__lte=last, channel__startswith=CODE_PREFIX).values("channel").annotate(
        visitors=Sum("visitors"), new_visitors=Sum("new_visitors"), orders=Sum("orders"),
        paid=Sum("paid_fen"), refunded=Sum("refunded_fen"))}
    found = []
    for channel in Channel.objects.using(db).order_by("pk"):
        cell = cells.get(CODE_PREFIX + channel.scene, {})
        found.append(ChannelEffect(
            channel_id=channel.pk, name=channel.name, scene=channel.scene, scans=scans.get(channel.pk, 0),
            visitors=cell.get("visitors") or 0, new_visitors=cell.get("new_visitors") or 0,
            orders=cell.get("orders") or 0, net_fen=(cell.get("paid") or 0) - (cell.get("refunded") or 0),
            coupon_cost_fen=cost.get(channel.pk) or 0))
    return sorted(found, key=lambda c: (-c.visitors, -c.scans, c.channel_id))

