"""Identity: WeChat login, tokens, the profile members fill in, addresses."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import NotFound
from core.tracking import track
from members.models import Address, Member, MemberToken
from members.selectors import token_hash
from wechat import miniprogram

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginResult:
    member: Member
    token: str
    expires_at: dt.datetime
    created: bool


def member_login_wechat(*, code: str) -> LoginResult:
    """Exchange a wx.login() code for our bearer token; the first login creates the member.

    Calls WeChat (jscode2session) before any transaction. The session_key is stored on the
    member and never returned. Safe to repeat: the openid is unique, so two concurrent first
    logins end with one member.
    """
    session = miniprogram.code_to_session(code)
    now = timezone.now()
    with transaction.atomic(durable=True):
        member, created = _member_get_or_create(openid=session.openid)
        member.session_key = session.session_key
        member.last_login_at = now
        fields = ["session_key", "last_login_at"]
        if session.unionid and member.unionid != session.unionid:
            member.unionid = session.unionid
            fields.append("unionid")
        member.save(update_fields=fields)
        raw_token, expires_at = _token_issue(member=member, now=now)
        track("member_registered" if created else "member_login", member_id=member.pk)
        if created:
            member_id = member.pk
            transaction.on_commit(lambda: _joined_hooks_run(member_id))
    return LoginResult(member=member, token=raw_token, expires_at=expires_at, created=created)


def _joined_hooks_run(member_id: int) -> None:
    """What the layers above want done when someone joins (settings.MEMBER_JOINED_HOOKS).

    members knows nothing of campaigns; config names the hooks (the new-member coupon gift).
    A failing hook is logged and never undoes the login.
    """
    for path in settings.MEMBER_JOINED_HOOKS:
        try:
            import_string(path)(member_id=member_id)
        except Exception:
            logger.exception("member-joined hook %s failed for member %s", path, member_id)


def _member_get_or_create(*, openid: str) -> tuple[Member, bool]:
    member = Member.objects.select_for_update().filter(openid=openid).first()
    if member is not None:
        return member, False
    try:
        with transaction.atomic():
            return Member.objects.create(openid=openid), True
    except IntegrityError:  # a concurrent first login won the race
        return Member.objects.select_for_update().get(openid=openid), False


def _token_issue(*, member: Member, now: dt.datetime) -> tuple[str, dt.datetime]:
    raw = secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(days=settings.MEMBER_TOKEN_TTL_DAYS)
    MemberToken.objects.create(member=member, token_hash=token_hash(raw), expires_at=expires_at)
    return raw, expires_at


def member_logout(*, token_id: int) -> None:
    """Revoke the token used for this request. Idempotent."""
    MemberToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def member_phone_bind(*, member: Member, code: str) -> Member:
    """Bind the phone number from a getPhoneNumber code (getuserphonenumber)."""
    phone = miniprogram.get_phone_number(code)
    Member.objects.filter(pk=member.pk).update(phone=phone)
    member.phone = phone
    return member


ADDRESS_FIELDS = ("receiver_name", "phone", "province", "city", "district", "detail", "is_default")


def address_create(*, member: Member, data: dict[str, Any]) -> Address:
    """Create an address; the first one, or one marked default, becomes the only default."""
    with transaction.atomic(durable=True):
        Member.objects.select_for_update().filter(pk=member.pk).first()  # serialise default changes
        has_any = Address.objects.filter(member=member).exists()
        make_default = bool(data.get("is_default")) or not has_any
        if make_default:
            Address.objects.filter(member=member, is_default=True).update(is_default=False)
        fields = {k: v for k, v in data.items() if k in ADDRESS_FIELDS}
        fields["is_default"] = make_default
        return Address.objects.create(member=member, **fields)


def address_update(*, member: Member, address_id: int, data: dict[str, Any]) -> Address:
    with transaction.atomic(durable=True):
        Member.objects.select_for_update().filter(pk=member.pk).first()
        address = Address.objects.filter(member=member, pk=address_id).first()
        if address is None:
            raise NotFound("收货地址不存在", code="address_not_found")
        if data.get("is_default"):
            Address.objects.filter(member=member, is_default=True).exclude(pk=address.pk).update(
                is_default=False)
        for name, value in data.items():
            if name in ADDRESS_FIELDS:
                setattr(address, name, value)
        address.save()
        return address


def address_delete(*, member: Member, address_id: int) -> None:
    """Delete an address; if it was the default, the newest remaining one becomes default."""
    with transaction.atomic(durable=True):
        Member.objects.select_for_update().filter(pk=member.pk).first()
        address = Address.objects.filter(member=member, pk=address_id).first()
        if address is None:
            raise NotFound("收货地址不存在", code="address_not_found")
        was_default = address.is_default
        address.delete()
        if was_default:
            newest = Address.objects.filter(member=member).order_by("-id").first()
            if newest:
                Address.objects.filter(pk=newest.pk).update(is_default=True)

