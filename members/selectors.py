"""Reads about members. Every shopper-facing read is scoped by the member."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from core.compiled import CompiledQuery
from core.errors import NotFound
from members.models import (
    Address,
    CardPurchase,
    DeletedIdentity,
    GrowthEntry,
    Member,
    MemberCard,
    MemberTag,
    MemberToken,
    PointsEntry,
    PointsLot,
    RecentSearch,
    SignIn,
    Tier,
    TierChange,
)
from wechat.models import SubscribeConsent


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def identity_hash(kind: str, value: str) -> str:
    """The one-way hash a deleted account's OpenID ("openid") or phone ("phone") is kept as."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def member_identity_recycled(*, member_id: int) -> bool:
    """Whether the member's OpenID or phone number belonged to an account deleted before (注销 and
    registered again): such an account earns nobody a new-member reward. One or two queries."""
    row = Member.objects.filter(pk=member_id).values("openid", "phone").first()
    if row is None:
        return False
    hashes = [identity_hash("openid", row["openid"])]
    if row["phone"]:
        hashes.append(identity_hash("phone", row["phone"]))
    return DeletedIdentity.objects.filter(identity_hash__in=hashes).exists()


_TOKEN_COLUMNS = tuple(field.attname for field in MemberToken._meta.concrete_fields)
_MEMBER_COLUMNS = tuple(field.attname for field in Member._meta.concrete_fields)


def _active_token_query(*, token_hash: str, now: dt.datetime) -> QuerySet[MemberToken, tuple[Any, ...]]:
    return (MemberToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True, expires_at__gt=now,
                                       member__is_active=True)
            .values_list(*_TOKEN_COLUMNS, *(f"member__{name}" for name in _MEMBER_COLUMNS))[:1])


# Compiled once per process: every authenticated request runs it, and building the query cost five
# times what the database takes to answer it.
_ACTIVE_TOKEN = CompiledQuery(_active_token_query)


def member_token_active(*, raw_token: str) -> tuple[MemberToken, Member] | None:
    """The unexpired, unrevoked token and its active member, in one query; None otherwise."""
    found = _ACTIVE_TOKEN.rows(token_hash=token_hash(raw_token), now=timezone.now())
    if not found:
        return None
    row = found[0]
    token = MemberToken.from_db(DEFAULT_DB_ALIAS, list(_TOKEN_COLUMNS), row[:len(_TOKEN_COLUMNS)])
    member = Member.from_db(DEFAULT_DB_ALIAS, list(_MEMBER_COLUMNS), row[len(_TOKEN_COLUMNS):])
    token.member = member
    return token, member


def tier_choices() -> list[tuple[int, str]]:
    """(level, name) of every tier, lowest first: how other apps offer a choice of tier by level
    (a product's early-access level, settings.CATALOG_TIER_CHOICES)."""
    return [(level, name) for level, name in Tier.objects.order_by("level").values_list("level", "name")]


def address_list_for_member(*, member: Member) -> QuerySet[Address]:
    return Address.objects.filter(member=member)


def address_get_for_member(*, member: Member, address_id: int) -> Address:
    address = Address.objects.filter(member=member, pk=address_id).first()
    if address is None:
        raise NotFound("收货地址不存在", code="address_not_found")
    return address


def address_default_for_member(*, member: Member) -> Address | None:
    """The default address, or the most recent one if none is marked default."""
    return Address.objects.filter(member=member).order_by("-is_default", "-id").first()


# --- points (积分) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsSummary:
    """The member's balance and what expires next: the points of every lot expiring on the
    earliest expiry day still to come (Shanghai calendar), or 0 / None when nothing does."""

    balance: int
    next_expiring_points: int
    next_expires_at: dt.datetime | None


def points_summary_for_member(*, member: Member, now: dt.datetime | None = None) -> PointsSummary:
    """The balance snapshot of `member` (as loaded) and the next expiry: two queries on the open lots."""
    now = now or timezone.now()
    balance = member.points_balance
    open_lots = PointsLot.objects.filter(member_id=member.pk, remaining__gt=0, expires_at__gt=now)
    first = open_lots.order_by("expires_at", "id").values_list("expires_at", flat=True).first()
    if first is None:
        return PointsSummary(balance=balance, next_expiring_points=0, next_expires_at=None)
    day_end = timezone.localtime(first).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    points = open_lots.filter(expires_at__lt=day_end).aggregate(total=Sum("remaining"))["total"] or 0
    return PointsSummary(balance=balance, next_expiring_points=points, next_expires_at=first)


def points_entries_for_member(*, member_id: int, kind: str | None = None) -> QuerySet[Any]:
    """The member's ledger, newest first; only their own rows. `kind` narrows to one kind."""
    rows = PointsEntry.objects.filter(member_id=member_id).order_by("-id")
    if kind:
        rows = rows.filter(kind=kind)
    return rows


# --- the member's copy of their personal information (PIPL art. 45) -------------------------------

MEMBER_EXPORT_PROFILE_FIELDS = ("id", "nickname", "avatar_url", "gender", "birthday", "province", "city", "phone",
                                "growth", "points_balance", "paid_order_count", "paid_total_fen", "last_paid_at",
                                "registered_at", "last_login_at")


def member_export_sections(*, member: Member) -> dict[str, Any]:
    """What members holds about one member, as JSON-ready sections (plain values, oldest first).

    Profile, addresses, tier, points and growth ledgers, tier changes, sign-ins, paid card and card
    purchases, tags, and the subscribe-message consents (WeChat's "always allow" choices). Only
    this member's rows; a fixed number of queries (12) whatever the history. Internal secrets
    (openid, session key, tokens) are not personal information the member gave us and stay out.
    """
    profile = Member.objects.filter(pk=member.pk).values(*MEMBER_EXPORT_PROFILE_FIELDS, tier_name=F("tier__name")).get()
    card = MemberCard.objects.filter(member_id=member.pk).values(
        "starts_at", "ends_at", plan_name=F("plan__name")).first()
    return {
        "profile": profile,
        "addresses": list(Address.objects.filter(member_id=member.pk).order_by("id").values(
            "receiver_name", "phone", "province", "city", "district", "detail", "is_default", "created_at")),
        "points_entries": list(PointsEntry.objects.filter(member_id=member.pk).order_by("id").values(
            "kind", "delta", "balance_after", "reference", "note", "created_at")),
        "points_lots": list(PointsLot.objects.filter(member_id=member.pk).order_by("id").values(
            "earned", "remaining", "earned_at", "expires_at")),
        "growth_entries": list(GrowthEntry.objects.filter(member_id=member.pk).order_by("id").values(
            "delta", "reason", "reference", "growth_after", "note", "created_at")),
        "tier_changes": list(TierChange.objects.filter(member_id=member.pk).order_by("id").values(
            "growth", "created_at", from_tier_name=F("from_tier__name"), to_tier_name=F("to_tier__name"))),
        "signins": list(SignIn.objects.filter(member_id=member.pk).order_by("day").values(
            "day", "streak", "points", "growth", "created_at")),
        "card": card,
        "card_purchases": list(CardPurchase.objects.filter(member_id=member.pk).order_by("id").values(
            "purchase_no", "plan_name", "days", "amount_fen", "status", "paid_fen", "paid_at", "cancelled_at",
            "created_at")),
        "tags": list(MemberTag.objects.filter(member_id=member.pk).order_by("tag__name")
                     .values_list("tag__name", flat=True)),
        "subscriptions": list(SubscribeConsent.objects.filter(member_id=member.pk).order_by("template_key").values(
            "template_key", "credits", "accepted_total", "last_result", "last_result_at")),
    }


def recent_searches_for_member(*, member: Member, limit: int = 20) -> list[str]:
    """The member's recent searches, newest first (one query)."""
    return list(RecentSearch.objects.filter(member_id=member.pk).order_by("-searched_at", "-id")
                .values_list("query", flat=True)[:limit])
