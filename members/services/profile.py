"""The member's own data: the profile they fill in, the once-only birthday, account deletion (注销).

Since 2022 WeChat's profile API gives a grey avatar and "微信用户", so gender, birthday and region
come from what the member fills in. The birthday can be set once by the member (the birthday gift
cannot be farmed); later changes go through customer service in the console, with an audit row.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import ValidationFailed
from core.operators import operator_id
from core.tracking import track
from members.errors import BirthdayLocked, InvalidBirthday, MemberDeleted, MemberDeletionBlocked, MemberNotFound
from members.models import (
    Address,
    CardPurchase,
    CardPurchaseStatus,
    DeletedIdentity,
    Gender,
    Member,
    MemberAudit,
    MemberAuditAction,
    MemberCategoryPurchase,
    MemberTag,
    MemberToken,
    RecentSearch,
    SegmentMember,
)
from members.selectors import identity_hash
from wechat.models import MessageLog, SubscribeConsent

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("nickname", "avatar_url", "gender", "birthday", "province", "city")
TEXT_LIMITS = {"nickname": 64, "avatar_url": 500, "province": 32, "city": 32}
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
DELETED_NICKNAME = "已注销用户"


def birthday_check(birthday: dt.date) -> None:
    """InvalidBirthday unless 1900-01-01 ≤ birthday ≤ today (Shanghai)."""
    if not EARLIEST_BIRTHDAY <= birthday <= timezone.localdate():
        raise InvalidBirthday(detail={"birthday": birthday.isoformat()})


def member_profile_update(*, member: Member, changes: dict[str, Any]) -> Member:
    """Update the fields a member fills in; all of them or none.

    The birthday can be set once: the first value is stored with `birthday_set_at` by a
    conditional UPDATE (WHERE birthday_set_at IS NULL), so two devices racing cannot both set it;
    sending the same birthday again is a no-op, another one is BirthdayLocked (409) and nothing
    of the request is saved. Outermost transaction. Not idempotent for other fields beyond
    "the last write wins".
    """
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed(detail={"fields": sorted(unknown)})
    for name, limit in TEXT_LIMITS.items():
        if name in changes and (not isinstance(changes[name], str) or len(changes[name]) > limit):
            raise ValidationFailed(f"{name} 过长或格式有误", detail={name: f"最多 {limit} 个字符"})
    if "gender" in changes and changes["gender"] not in Gender.values:
        raise ValidationFailed("性别有误", detail={"gender": changes["gender"]})
    birthday_given = "birthday" in changes
    birthday = changes.get("birthday")
    if birthday is not None:
        if not isinstance(birthday, dt.date) or isinstance(birthday, dt.datetime):
            raise InvalidBirthday()
        birthday_check(birthday)
    plain = {k: v for k, v in changes.items() if k != "birthday"}
    now = timezone.now()
    with transaction.atomic(durable=True):
        current = Member.objects.select_for_update().filter(pk=member.pk, deleted_at__isnull=True).first()
        if current is None:
            raise MemberDeleted()
        if birthday_given and birthday != current.birthday:
            if birthday is None:
                raise BirthdayLocked()  # a set birthday cannot be cleared by the member either
            taken = Member.objects.filter(pk=member.pk, birthday_set_at__isnull=True).update(
                birthday=birthday, birthday_set_at=now)
            if not taken:
                raise BirthdayLocked(detail={"birthday": current.birthday.isoformat() if current.birthday else None})
        if plain:
            Member.objects.filter(pk=member.pk).update(**plain)
    member.refresh_from_db()
    return member


def member_birthday_change_by_operator(*, member_id: int, birthday: dt.date | None, note: str,
                                       operator: AbstractBaseUser | None) -> Member:
    """Customer service sets or clears a member's birthday, with a note; writes an audit row.

    The member stays locked out of changing it again (birthday_set_at is set when a birthday
    is given, cleared with it). Outermost transaction; locks the member row. Changing it to the
    value it has is a no-op with no audit row.
    """
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("请填写修改原因", code="note_required")
    if birthday is not None:
        birthday_check(birthday)
    with transaction.atomic(durable=True):
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise MemberNotFound()
        if member.deleted_at is not None:
            raise MemberDeleted()
        if member.birthday == birthday:
            return member
        before = member.birthday.isoformat() if member.birthday else None
        member.birthday = birthday
        member.birthday_set_at = timezone.now() if birthday else None
        member.save(update_fields=["birthday", "birthday_set_at"])
        MemberAudit.objects.create(
            member=member, action=MemberAuditAction.BIRTHDAY_CHANGED, note=note[:200],
            operator_id=operator_id(operator),
            changes={"birthday": [before, birthday.isoformat() if birthday else None]})
    return member


def member_delete_account(*, member_id: int, operator: AbstractBaseUser | None = None) -> Member:
    """注销: erase the member's personal data; keep the row, its orders and its ledgers.

    Refused with MemberDeletionBlocked (409, `detail.unfinished` in people's words) while anything
    the member started is unfinished: an unpaid card purchase here, and whatever the layers above
    report (settings.MEMBER_DELETION_BLOCKERS: unpaid, unshipped or undelivered orders, open
    after-sales, refunds on their way); a refusal changes nothing.

    Nickname becomes 已注销用户; avatar, phone, gender, birthday and region are cleared; the
    openid and unionid are replaced by a tombstone (so the same WeChat account can register anew
    as a new member); addresses, tags, segment memberships, category purchase facts and
    subscribe-message consents are deleted, and the openid is cleared from the message log; every
    token is revoked; `is_active` False and `deleted_at` set. Orders, payments, coupons and the
    points/growth ledgers keep pointing at the (now anonymous) row.
    Idempotent: deleting a deleted member returns it unchanged. Outermost transaction, locks the
    member row (the blockers are read under it); what the layers above want done
    (settings.MEMBER_DELETED_HOOKS: order receivers masked, review photos and analytics identities
    erased, greeting posters deleted) runs after commit.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise MemberNotFound()
        if member.deleted_at is not None:
            return member
        unfinished = member_deletion_blockers(member_id=member.pk)
        if unfinished:
            raise MemberDeletionBlocked(f"以下事项未完成，暂不能注销：{'；'.join(unfinished)}",
                                        detail={"unfinished": unfinished})
        # Kept as hashes only: an account re-created with them earns no one a new-member reward.
        for kind, value in (("openid", member.openid), ("phone", member.phone)):
            if value:
                DeletedIdentity.objects.get_or_create(identity_hash=identity_hash(kind, value),
                                                      defaults={"deleted_at": now})
        tombstone = f"deleted:{member.pk}:{secrets.token_hex(8)}"
        fields: dict[str, Any] = {
            "nickname": DELETED_NICKNAME, "avatar_url": "", "phone": "", "gender": Gender.UNKNOWN,
            "birthday": None, "birthday_set_at": None, "province": "", "city": "", "openid": tombstone,
            "unionid": "", "session_key": "", "is_active": False, "deleted_at": now,
        }
        for name, value in fields.items():
            setattr(member, name, value)
        member.save(update_fields=list(fields))
        Address.objects.filter(member_id=member.pk).delete()
        MemberTag.objects.filter(member_id=member.pk).delete()
        SegmentMember.objects.filter(member_id=member.pk).delete()
        MemberCategoryPurchase.objects.filter(member_id=member.pk).delete()
        SubscribeConsent.objects.filter(member_id=member.pk).delete()
        RecentSearch.objects.filter(member_id=member.pk).delete()
        MessageLog.objects.filter(member_id=member.pk).exclude(openid="").update(openid="")
        MemberToken.objects.filter(member_id=member.pk, revoked_at__isnull=True).update(revoked_at=now)
        MemberAudit.objects.create(member=member, action=MemberAuditAction.DELETED, operator_id=operator_id(operator),
                                   note="会员注销" if operator is None else "运营代为注销")
        track("member_deleted", member_id=member.pk)
        member_pk = member.pk
        transaction.on_commit(lambda: _deleted_hooks_run(member_pk))
    return member


def member_deletion_blockers(*, member_id: int) -> list[str]:
    """What keeps the member from deleting their account now, one line each ("待付款的订单 1 笔").

    The member's own unpaid card purchases, then each of settings.MEMBER_DELETION_BLOCKERS
    (dotted paths called with member_id=…, returning such lines): members knows nothing of orders.
    Empty: nothing is unfinished. A failing check raises; it never lets a deletion through.
    """
    unfinished: list[str] = []
    pending_cards = CardPurchase.objects.filter(member_id=member_id, status=CardPurchaseStatus.PENDING).count()
    if pending_cards:
        unfinished.append(f"待支付的会员卡订单 {pending_cards} 笔")
    for path in getattr(settings, "MEMBER_DELETION_BLOCKERS", []):
        unfinished.extend(import_string(path)(member_id=member_id))
    return unfinished


def _deleted_hooks_run(member_id: int) -> None:
    """settings.MEMBER_DELETED_HOOKS(member_id=…): members knows nothing of the layers above."""
    for path in getattr(settings, "MEMBER_DELETED_HOOKS", []):
        try:
            import_string(path)(member_id=member_id)
        except Exception:
            logger.exception("member-deleted hook %s failed for member %s", path, member_id)


def member_block(*, member_id: int, reason: str, operator: AbstractBaseUser | None = None) -> Member:
    """拉黑: the member may no longer launch, help, invite or earn rewards in the social campaigns.

    Idempotent (a blocked member stays blocked, the reason is kept). Locks the member row; one
    MemberAudit row per change."""
    return _block_set(member_id=member_id, blocked=True, reason=reason, operator=operator)


def member_unblock(*, member_id: int, operator: AbstractBaseUser | None = None) -> Member:
    """取消拉黑. Idempotent; locks the member row; one MemberAudit row per change."""
    return _block_set(member_id=member_id, blocked=False, reason="", operator=operator)


def _block_set(*, member_id: int, blocked: bool, reason: str, operator: AbstractBaseUser | None) -> Member:
    with transaction.atomic(durable=True):
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise MemberNotFound()
        if member.is_blocked == blocked:
            return member
        member.is_blocked, member.blocked_reason = blocked, reason[:200]
        member.save(update_fields=["is_blocked", "blocked_reason"])
        MemberAudit.objects.create(member=member, operator_id=operator_id(operator),
                                   action=MemberAuditAction.BLOCKED if blocked else MemberAuditAction.UNBLOCKED,
                                   note=reason[:200])
    return member
