"""Distribution reads: the settings row, who is a distributor, who is whose upline.

Below every distribution service module (they all read the settings and the bindings), and what
the API and the console read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.errors import CommissionNotFound, WithdrawalNotFound
from campaigns.models import (
    Binding,
    Commission,
    CommissionStatus,
    DistributionSettings,
    Distributor,
    DistributorStatus,
    Withdrawal,
)
from campaigns.models.distribution import BindingStatus

# A share's mini-program code scene and page query carry the distributor as "d=<id>".
SCENE_PREFIX = "d="


def share_scene(distributor_id: int) -> str:
    """The mini-program code scene that carries a distributor: "d=<id>" (WeChat allows 32 characters)."""
    return f"{SCENE_PREFIX}{distributor_id}"


def share_scene_parse(scene: str) -> int | None:
    """The distributor id in a share scene ("d=17", just "17", or a product poster's "p=5&d=17"),
    or None if it carries none."""
    text = (scene or "").strip()
    if "&" in text:
        fields = dict(part.partition("=")[::2] for part in text.split("&"))
        text = fields.get(SCENE_PREFIX.rstrip("="), "")
    text = text.removeprefix(SCENE_PREFIX)
    return int(text) if text.isdigit() and len(text) <= 18 else None


def distribution_settings_current() -> DistributionSettings:
    """The operators' distribution rules (the one row; created with the defaults if missing)."""
    row, _ = DistributionSettings.objects.get_or_create(pk=1)
    return row


def distributor_for_member(*, member_id: int) -> Distributor | None:
    """The member's distributor row, whatever its status; None if they never applied or earned."""
    return Distributor.objects.filter(member_id=member_id).first()


def binding_current(*, member_id: int, now: dt.datetime) -> Binding | None:
    """The member's binding to an upline that holds now: active and not past its expiry."""
    return (Binding.objects.filter(member_id=member_id, status=BindingStatus.ACTIVE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .select_related("distributor", "distributor__grade").first())


def upline_of(*, member_id: int, now: dt.datetime) -> Distributor | None:
    """The distributor the member is bound under now (any status), or None."""
    binding = binding_current(member_id=member_id, now=now)
    return binding.distributor if binding is not None else None


def distributor_is_earning(distributor: Distributor | None) -> bool:
    """Whether a distributor earns new commission (approved, not frozen)."""
    return distributor is not None and distributor.status == DistributorStatus.ACTIVE


# --- what the mini-program reads (always scoped by the asking member's distributor) ---------------------


@dataclass(frozen=True)
class Centre:
    """分销中心: what was earned (net of refunds) and where the money is."""

    earned_today_fen: int
    earned_month_fen: int
    earned_total_fen: int
    team_level1: int
    team_level2: int


def distribution_centre(*, distributor: Distributor, now: dt.datetime) -> Centre:
    """Earned today / this month (Shanghai calendar) / in all, net of refunds, cancelled ones left
    out; and the team's size by level. Four small queries."""
    local = timezone.localtime(now)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    net = F("amount_fen") - F("refunded_fen")
    sums = (Commission.objects.filter(distributor=distributor).exclude(status=CommissionStatus.CANCELLED)
            .aggregate(total=Coalesce(Sum(net), 0), month=Coalesce(Sum(net, filter=Q(created_at__gte=month)), 0),
                       today=Coalesce(Sum(net, filter=Q(created_at__gte=day)), 0)))
    level1 = team_members(distributor=distributor, level=1, now=now)
    return Centre(earned_today_fen=int(sums["today"]), earned_month_fen=int(sums["month"]),
                  earned_total_fen=int(sums["total"]), team_level1=level1.count(),
                  team_level2=team_members(distributor=distributor, level=2, now=now).count())


def team_members(*, distributor: Distributor, level: int, now: dt.datetime) -> QuerySet[Binding]:
    """我的团队 at `level`: the current bindings under the distributor (1), or under the members
    of those (2), newest first, each with `orders`: the distinct orders that earned this
    distributor commission from that member. Members' names come with the rows (select_related)."""
    current = Q(status=BindingStatus.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    direct = Binding.objects.filter(current, distributor=distributor)
    rows = direct if level == 1 else Binding.objects.filter(
        current, distributor__member_id__in=direct.values("member_id"))
    orders = (Commission.objects.filter(distributor=distributor, buyer_id=OuterRef("member_id")).order_by()
              .values("buyer_id").annotate(n=Count("order_ref", distinct=True)).values("n"))
    return (rows.select_related("member").annotate(orders=Coalesce(Subquery(orders), 0))
            .order_by("-bound_at", "-id"))


def commissions_for_distributor(*, distributor: Distributor, status: str | None = None) -> QuerySet[Commission]:
    """My commission records, newest first; `status` narrows them."""
    rows = Commission.objects.filter(distributor=distributor)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-id")


def commission_for_distributor(*, distributor: Distributor, commission_id: int) -> Commission:
    """One of my commission records; anyone else's is 404, as if it did not exist."""
    commission = Commission.objects.filter(distributor=distributor, pk=commission_id).first()
    if commission is None:
        raise CommissionNotFound(detail={"id": commission_id})
    return commission


def withdrawals_for_member(*, member_id: int) -> QuerySet[Withdrawal]:
    """My withdrawals, newest first."""
    return Withdrawal.objects.filter(member_id=member_id).order_by("-id")


def withdrawal_for_member(*, member_id: int, withdrawal_no: str) -> Withdrawal:
    """One of my withdrawals by its number; anyone else's is 404."""
    withdrawal = Withdrawal.objects.filter(member_id=member_id, withdrawal_no=withdrawal_no).first()
    if withdrawal is None:
        raise WithdrawalNotFound(detail={"withdrawal_no": withdrawal_no})
    return withdrawal
