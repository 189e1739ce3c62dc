"""Distribution reads: the settings row, who is a distributor, who is whose upline.

Below every distribution service module (they all read the settings and the bindings), and what
the API and the console read.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from campaigns.models import Binding, DistributionSettings, Distributor, DistributorStatus
from campaigns.models.distribution import BindingStatus


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
