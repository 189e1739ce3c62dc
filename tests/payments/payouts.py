"""A transfer kind for the payouts tests, registered here (no app of the mall pays out this way), a
recorder of every call the payments core makes to it, and the way tests create its transfers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.db import transaction

from payments.models import Transfer
from payments.registry import register_transfer_kind
from payments.services import transfer_create

KIND = "test_payout"
PAYEE = "oPayee0000000000000000000001"
_references = itertools.count(1)


@dataclass(frozen=True)
class HookCall:
    hook: str  # "succeeded" | "failed"
    out_bill_no: str
    state: str  # the transfer's state as the hook saw it
    reason: str
    in_transaction: bool  # called inside the transition's transaction


HOOK_CALLS: list[HookCall] = []


def _on_succeeded(transfer: Transfer) -> None:
    HOOK_CALLS.append(HookCall("succeeded", transfer.out_bill_no, transfer.state, "",
                               transaction.get_connection().in_atomic_block))


def _on_failed(transfer: Transfer, reason: str) -> None:
    HOOK_CALLS.append(HookCall("failed", transfer.out_bill_no, transfer.state, reason,
                               transaction.get_connection().in_atomic_block))


register_transfer_kind(KIND, _on_succeeded, _on_failed, label="测试提现")


def new_transfer(*, amount_fen: int = 12_34, reference: str | None = None, user_name: str = "",
                 remark: str = "佣金提现") -> Transfer:
    """A transfer of the test kind, created as a kind's service creates it: in its own transaction."""
    with transaction.atomic():
        return transfer_create(kind=KIND, reference=reference or f"W{next(_references):06d}", openid=PAYEE,
                               amount_fen=amount_fen, remark=remark, user_name=user_name)
