"""Purchase facts the shop reports with plain values: members knows nothing of orders."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Value
from django.db.models.functions import Greatest

from core.db import require_transaction
from members.models import Member


def member_record_purchase(*, member_id: int, paid_fen: int, paid_at: dt.datetime) -> None:
    """Count a paid order in the member's purchase facts (new-customer checks, segments).

    Called by the shop inside the payment's transaction, once per order. A conditional-free
    F() update: concurrent payments of one member both count.
    """
    require_transaction("member_record_purchase")
    # PostgreSQL's GREATEST ignores NULL, so the first payment sets last_paid_at too.
    Member.objects.filter(pk=member_id).update(
        paid_order_count=F("paid_order_count") + 1, paid_total_fen=F("paid_total_fen") + paid_fen,
        last_paid_at=Greatest(F("last_paid_at"), Value(paid_at)),
    )
