"""Reads about members. Every shopper-facing read is scoped by the member."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound
from members.models import Address, Member, MemberToken


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def member_token_active(*, raw_token: str) -> tuple[MemberToken, Member] | None:
    """The unexpired, unrevoked token and its active member, in one query; None otherwise."""
    token = (
        MemberToken.objects.select_related("member")
        .filter(token_hash=token_hash(raw_token), revoked_at__isnull=True,
                expires_at__gt=timezone.now(), member__is_active=True)
        .first()
    )
    return (token, token.member) if token else None


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
