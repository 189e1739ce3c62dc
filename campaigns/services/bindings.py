"""Who belongs to whom (分销关系): a member arriving through a distributor's share is bound under them.

    binding_bind_on_arrival(member=…, distributor_id=…, source=…, share_ref=…)   the mini-program, after login
    binding_rebind(member_id=…, distributor_id=…|None, operator=…, reason=…)     the console's 改绑 (audited)

The rules (the operators' DistributionSettings):

- never under oneself, never in a cycle (A under B under A, or any longer loop), never under a
  distributor who is not active (frozen, applying, rejected);
- a member with an upline keeps it, unless later scans override (后扫码覆盖): then the old
  binding ends (扫码改绑) and the new one starts;
- a member without one is bound if the settings bind anyone without an upline, or — new members
  only — if they have never paid for an order and never been bound before;
- a binding lasts `binding_days` (empty: permanent); an expired one counts as none.

Commission goes two levels up at most whatever the chain's length (campaigns.services.commissions);
bindings themselves may chain further. Every change is a Binding row's BINDING_MACHINE transition
or creation, with its audit row; ended bindings stay as history.

Concurrency: every binding change takes one transaction-level advisory lock first
(BINDING_LOCK_KEY), so the cycle check and the insert see every other binding change: two members
binding under each other at the same moment cannot both pass the check. Bindings change rarely
(an arrival through a share), so one lock for all of them costs nothing; `binding_one_active`
(a unique index) backs the one-upline rule anyway.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.errors import BindingRefused, DistributionDisabled, DistributorNotFound, ReasonRequired
from campaigns.models import Binding, Distributor
from campaigns.models.distribution import (
    BINDING_MACHINE,
    BindingAction,
    BindingEndReason,
    BindingScope,
    BindingSource,
    BindingStatus,
    DistributionSettings,
)
from campaigns.selectors.distribution import distribution_settings_current, distributor_is_earning
from core.audit import Actor
from core.tracking import track
from members.models import Member

# pg_advisory_xact_lock key of every binding change ("dist" in ASCII).
BINDING_LOCK_KEY = 0x64697374
# A chain longer than this is a bug (or a cycle the database was edited into): refuse to extend it.
MAX_CHAIN = 200


def binding_bind_on_arrival(*, member: Member, distributor_id: int, source: str = BindingSource.POSTER,
                            share_ref: str = "", now: dt.datetime | None = None) -> Binding:
    """Bind `member` under the distributor whose share they arrived through, by the rules above.

    Returns the member's binding: the new one, or the one they already had under this distributor
    (a repeat is a no-op). Refused (409 binding_refused with `code` binding_self, binding_cycle,
    binding_distributor_inactive, binding_has_upline, binding_not_new) changes nothing; an unknown
    distributor is 404, distribution off 409. One durable transaction.
    """
    if source not in BindingSource.values or source == BindingSource.OPERATOR:
        source = BindingSource.PAGE
    now = now or timezone.now()
    rules = distribution_settings_current()
    if not rules.enabled:
        raise DistributionDisabled()
    with transaction.atomic(durable=True):
        _lock_bindings()
        distributor = _distributor(distributor_id)
        _check_upline(member.pk, distributor, now)
        current = _end_if_expired(member.pk, now)
        if current is not None and current.distributor_id == distributor.pk:
            return current
        if current is not None:
            if not rules.later_scan_overrides:
                raise BindingRefused("您已有推荐人", code="binding_has_upline",
                                     detail={"distributor_id": current.distributor_id})
            BINDING_MACHINE.transition(pk=current.pk, to=BindingStatus.ENDED, action=BindingAction.OVERRIDDEN,
                                       actor=Actor.MEMBER, note=f"通过分销员{distributor.pk}的分享进入，改绑",
                                       fields={"end_reason": BindingEndReason.OVERRIDDEN})
        elif rules.binding_scope == BindingScope.NEW_ONLY and not _is_new(member.pk):
            raise BindingRefused("仅新会员可绑定推荐人", code="binding_not_new")
        binding = _bind(member.pk, distributor, rules, source=source, share_ref=share_ref, now=now, actor=Actor.MEMBER,
                        operator=None, note="")
    track("distribution_bound", member_id=member.pk,
          properties={"distributor_id": distributor.pk, "source": source, "overrode": current is not None})
    return binding


def binding_rebind(*, member_id: int, distributor_id: int | None, operator: AbstractBaseUser | None,
                   reason: str, now: dt.datetime | None = None) -> Binding | None:
    """改绑 by an operator, with the reason (required): the member's current binding ends (后台改绑)
    and, unless `distributor_id` is None (解除绑定), a new one starts under that distributor. The
    same refusals as an arrival except "has an upline" and "new members only". Audited on both
    bindings. Returns the new binding (None when only unbinding)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    now = now or timezone.now()
    rules = distribution_settings_current()
    with transaction.atomic(durable=True):
        _lock_bindings()
        distributor = _distributor(distributor_id) if distributor_id is not None else None
        if distributor is not None:
            _check_upline(member_id, distributor, now)
        current = _end_if_expired(member_id, now)
        if current is not None and distributor is not None and current.distributor_id == distributor.pk:
            return current
        if current is not None:
            BINDING_MACHINE.transition(pk=current.pk, to=BindingStatus.ENDED, action=BindingAction.REBOUND,
                                       actor=Actor.OPERATOR, operator=operator, note=reason[:300],
                                       fields={"end_reason": BindingEndReason.REBOUND})
        if distributor is None:
            return None
        return _bind(member_id, distributor, rules, source=BindingSource.OPERATOR, share_ref="", now=now,
                     actor=Actor.OPERATOR, operator=operator, note=reason)


# --- the pieces ------------------------------------------------------------------------------------------


def _lock_bindings() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BINDING_LOCK_KEY])


def _distributor(distributor_id: int) -> Distributor:
    distributor = Distributor.objects.filter(pk=distributor_id).first()
    if distributor is None:
        raise DistributorNotFound(detail={"distributor_id": distributor_id})
    return distributor


def _check_upline(member_id: int, distributor: Distributor, now: dt.datetime) -> None:
    """No self-binding, no cycle, no inactive upline."""
    if distributor.member_id == member_id:
        raise BindingRefused("不能绑定自己", code="binding_self")
    if not distributor_is_earning(distributor):
        raise BindingRefused("该分销员暂不可绑定", code="binding_distributor_inactive",
                             detail={"status": distributor.status})
    # Walk up from the new upline: meeting the member means the new binding would close a loop.
    # An expired binding is no link: renewing it is a new binding, checked when it happens.
    seen = {distributor.member_id}
    upline_member = distributor.member_id
    for _ in range(MAX_CHAIN):
        above = (Binding.objects.filter(member_id=upline_member, status=BindingStatus.ACTIVE)
                 .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                 .values_list("distributor__member_id", flat=True).first())
        if above is None:
            return
        if above == member_id:
            raise BindingRefused("不能形成循环的推荐关系", code="binding_cycle")
        if above in seen:
            return  # a loop above that does not include the member: not this binding's doing
        seen.add(above)
        upline_member = above
    raise BindingRefused("推荐关系层级过深", code="binding_cycle")


def _end_if_expired(member_id: int, now: dt.datetime) -> Binding | None:
    """The member's active binding, or None after ending it when its time has passed."""
    current = Binding.objects.filter(member_id=member_id, status=BindingStatus.ACTIVE).first()
    if current is not None and current.expires_at is not None and current.expires_at <= now:
        BINDING_MACHINE.transition(pk=current.pk, to=BindingStatus.ENDED, action=BindingAction.EXPIRED,
                                   note="绑定到期", fields={"end_reason": BindingEndReason.EXPIRED})
        return None
    return current


def _is_new(member_id: int) -> bool:
    """新会员: never paid for an order and never bound under anyone."""
    paid = Member.objects.filter(pk=member_id).values_list("paid_order_count", flat=True).first() or 0
    return paid == 0 and not Binding.objects.filter(member_id=member_id).exists()


def _bind(member_id: int, distributor: Distributor, rules: DistributionSettings, *, source: str, share_ref: str,
          now: dt.datetime, actor: str, operator: AbstractBaseUser | None, note: str) -> Binding:
    expires_at = now + dt.timedelta(days=rules.binding_days) if rules.binding_days else None
    binding = Binding.objects.create(member_id=member_id, distributor=distributor, source=source,
                                     share_ref=share_ref[:64], bound_at=now, expires_at=expires_at)
    BINDING_MACHINE.record(binding, action=BindingAction.BOUND, actor=actor, operator=operator, from_status="",
                           note=note or f"来源：{binding.get_source_display()}",
                           data={"distributor_id": distributor.pk, "share_ref": share_ref[:64]})
    return binding
