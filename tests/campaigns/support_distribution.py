"""Helpers for the distribution (分销) tests: the operators' settings, distributors made the way the
console makes them (apply → 审核通过), members bound through a share, money read back."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from campaigns.models import Binding, Commission, DistributionSettings, Distributor
from campaigns.services.bindings import binding_bind_on_arrival
from campaigns.services.distribution import ApplicationInput, distributor_apply, distributor_approve
from campaigns.services.settlement import commission_balances_reconcile
from members.models import Member
from tests.builders import buyer, operator
from tests.factories import MemberFactory


def rules(**changes: Any) -> DistributionSettings:
    """The distribution settings row with `changes` saved (the defaults otherwise: DESIGN.md §7)."""
    DistributionSettings.objects.update_or_create(pk=1, defaults=changes)
    return DistributionSettings.objects.get(pk=1)


def reviewer() -> Any:
    """One console operator for the test (created once per database)."""
    user = get_user_model().objects.filter(username="reviewer").first()
    return user or operator("reviewer")


def distributor(member: Member | None = None, *, name: str = "李分销") -> Distributor:
    """An approved distributor: `member` (a new buyer() if None) applies and an operator approves."""
    member = member or buyer()
    applied = distributor_apply(member=member, data=ApplicationInput(real_name=name, phone="13900139000",
                                                                     reason="想分享好物"))
    return distributor_approve(distributor_id=applied.pk, operator=reviewer())


def bind(member: Member, upline: Distributor, **kwargs: Any) -> Binding:
    return binding_bind_on_arrival(member=member, distributor_id=upline.pk, **kwargs)


def chain() -> tuple[Distributor, Distributor, Member]:
    """A two-level chain: `top` (level 2) ← `near` (level 1) ← a buyer."""
    top = distributor(name="王二级")
    near = distributor(name="李一级")
    bind(near_member(near), top)
    shopper = buyer()
    bind(shopper, near)
    return top, near, shopper


def near_member(d: Distributor) -> Member:
    return Member.objects.get(pk=d.member_id)


def money(d: Distributor) -> dict[str, int]:
    """A distributor's balance snapshot, re-read."""
    row = Distributor.objects.get(pk=d.pk)
    return {"pending": row.pending_fen, "frozen": row.frozen_fen, "available": row.available_fen,
            "withdrawing": row.withdrawing_fen, "withdrawn": row.withdrawn_fen, "owed": row.owed_fen}


def commissions_of(order_no: str) -> list[tuple[int, int, int, int, str]]:
    """(level, base, amount, refunded, status) of an order's commissions, level 1 first, by line."""
    return list(Commission.objects.filter(order_ref=order_no).order_by("line_ref", "level")
                .values_list("level", "base_fen", "amount_fen", "refunded_fen", "status"))


def ledger_consistent() -> bool:
    return commission_balances_reconcile() == []


def member() -> Member:
    return MemberFactory.create()
