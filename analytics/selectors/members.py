"""Reports about members: profiles, the RFM groups, and the effect of each channel code and each
partner code batch.

Profiles count active (not deleted) members by what they filled in (gender, birthday → age band,
province and city, or their default address's when they filled in none), their tier, where they
first came from (the channel of their first entry event) and the platform they last used.
Provinces are counted by their short name (core.regions), the name the China map's features carry.
RFM uses members' own groups and thresholds (members.segments).
Channel effect puts each channel code's scans beside what its visitors did (the KPI rollups'
"code:<scene>" cells) and what its coupons cost. A partner code batch (兑换码) has no entry of its
own into the mini-program (a code is typed in, not scanned), so its figures follow its redeemers:
see code_batch_effect.
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
from campaigns.models import Channel, ChannelScan, CodeBatch, Coupon, CouponStatus, RedeemCode
from core.regions import province_short
from members.models import Address, Gender, Member
from members.segments import RFM_GROUPS, segment_queryset
from shop.models import Order, Refund, RefundStatus

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
    province: list[tuple[str, int]]  # short names (core.regions.PROVINCES), else as written, or 未填写
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
    addresses = {member_id: (address_province, address_city) for member_id, address_province, address_city
                 in Address.objects.using(reports_db()).filter(is_default=True).values_list(
                     "member_id", "province", "city").iterator(chunk_size=5000)}
    ids = []
    for pk, member_gender, birthday, member_province, member_city, tier_name in rows.iterator(chunk_size=5000):
        ids.append(pk)
        gender[str(genders.get(member_gender, "未知"))] += 1
        age[age_band(birthday, today)] += 1
        if not member_province.strip():
            member_province, member_city = addresses.get(pk, ("", ""))
        written = member_province.strip()
        province[province_short(written) or written or "未填写"] += 1
        city[member_city.strip() or "未填写"] += 1
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
    new_members: int = 0  # scanners who registered on the day of their scan

    @property
    def return_on_cost(self) -> float | None:
        return round(self.net_fen / self.coupon_cost_fen, 2) if self.coupon_cost_fen else None


def channel_effect(*, first: dt.date, last: dt.date) -> list[ChannelEffect]:
    """Each channel code over `first`..`last`: scans, its visitors and their orders and net sales
    (the rollups' cells of that code), the members it brought (a scanner who registered on the
    Shanghai day of a scan in the range) and the discount its coupons gave on orders."""
    start, end = day_range(first, last)
    db = reports_db()
    scans: Counter[int] = Counter()
    joined: dict[int, set[int]] = {}
    for channel_id, member_id, scanned_at, registered_at in ChannelScan.objects.using(db).filter(
            scanned_at__gte=start, scanned_at__lt=end).values_list(
            "channel_id", "member_id", "scanned_at", "member__registered_at").iterator(chunk_size=5000):
        scans[channel_id] += 1
        if _same_day(registered_at, scanned_at):
            joined.setdefault(channel_id, set()).add(member_id)
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
            coupon_cost_fen=cost.get(channel.pk) or 0, new_members=len(joined.get(channel.pk, ()))))
    return sorted(found, key=lambda c: (-c.visitors, -c.scans, c.channel_id))


def _same_day(first: dt.datetime | None, second: dt.datetime | None) -> bool:
    return first is not None and second is not None and timezone.localdate(first) == timezone.localdate(second)


@dataclass(frozen=True)
class BatchEffect:
    batch_id: int
    name: str
    partner: str
    codes: int  # in the batch
    redemptions: int  # codes redeemed in the range: a partner code's "scan"
    redeemers: int  # distinct members who redeemed them: the batch's visitors
    new_members: int  # redeemers who registered on the day of a redemption
    orders: int
    net_fen: int
    coupon_cost_fen: int

    @property
    def return_on_cost(self) -> float | None:
        return round(self.net_fen / self.coupon_cost_fen, 2) if self.coupon_cost_fen else None


def code_batch_effect(*, first: dt.date, last: dt.date) -> list[BatchEffect]:
    """Each partner code batch over `first`..`last` (Shanghai days).

    A code is typed in after the shopper has logged in, so its redemption (RedeemCode.redeemed_by
    and redeemed_at) is the batch's one link to a person. Over the range: redemptions; redeemers;
    new members (redeemers who registered on the day of their redemption); the orders each
    redeemer placed from their first redemption of the batch in the range until its end, with
    their net sales (paid before the end, less refunds that reached the buyer before the end);
    and the coupon cost (the discount of the batch's coupons used in the range). A member who
    redeemed codes of two batches counts in both.
    """
    start, end = day_range(first, last)
    db = reports_db()
    redeemed = RedeemCode.objects.using(db).filter(redeemed_at__gte=start, redeemed_at__lt=end,
                                                   redeemed_by__isnull=False)
    redemptions: Counter[int] = Counter()
    since: dict[int, dict[int, dt.datetime]] = {}  # batch → member → first redemption in the range
    joined: dict[int, set[int]] = {}
    for batch_id, member_id, redeemed_at, registered_at in redeemed.values_list(
            "batch_id", "redeemed_by_id", "redeemed_at", "redeemed_by__registered_at").iterator(chunk_size=5000):
        redemptions[batch_id] += 1
        members = since.setdefault(batch_id, {})
        if redeemed_at is not None and (member_id not in members or redeemed_at < members[member_id]):
            members[member_id] = redeemed_at
        if _same_day(registered_at, redeemed_at):
            joined.setdefault(batch_id, set()).add(member_id)
    orders: dict[int, list[tuple[int, dt.datetime, int]]] = {}  # member → (order, placed, paid fen)
    for pk, member_id, created_at, paid_at, paid_fen in Order.objects.using(db).filter(
            member_id__in=redeemed.values("redeemed_by_id"), created_at__gte=start, created_at__lt=end).values_list(
            "pk", "member_id", "created_at", "paid_at", "paid_fen").iterator(chunk_size=5000):
        paid = (paid_fen or 0) if paid_at is not None and paid_at < end else 0
        orders.setdefault(member_id, []).append((pk, created_at, paid))
    refunded: Counter[int] = Counter()
    for order_id, amount_fen in Refund.objects.using(db).filter(
            status=RefundStatus.SUCCEEDED, succeeded_at__lt=end,
            order_id__in=[pk for placed in orders.values() for pk, _, _ in placed]).values_list(
            "order_id", "amount_fen"):
        refunded[order_id] += amount_fen
    cost = dict(Coupon.objects.using(db).filter(redeem_code__isnull=False, status=CouponStatus.USED,
                                                used_at__gte=start, used_at__lt=end)
                .values_list("redeem_code__batch_id").annotate(fen=Sum("discount_fen")))
    sizes = dict(RedeemCode.objects.using(db).values_list("batch_id").annotate(n=Count("id")))
    found = []
    for batch in CodeBatch.objects.using(db).order_by("pk"):
        members = since.get(batch.pk, {})
        attributed = [(pk, paid) for member_id, first_at in members.items()
                      for pk, placed_at, paid in orders.get(member_id, ()) if placed_at >= first_at]
        found.append(BatchEffect(
            batch_id=batch.pk, name=batch.name, partner=batch.partner, codes=sizes.get(batch.pk, 0),
            redemptions=redemptions[batch.pk], redeemers=len(members), new_members=len(joined.get(batch.pk, ())),
            orders=len(attributed), net_fen=sum(paid - refunded[pk] for pk, paid in attributed),
            coupon_cost_fen=cost.get(batch.pk) or 0))
    return sorted(found, key=lambda b: (-b.redemptions, -b.orders, b.batch_id))

