"""Withdrawals (提现): a distributor asks, operators approve (a second one above a threshold), the
money goes out by WeChat 商家转账 through the payments core, and comes back if it does not arrive.

    withdrawal_request(member=…, amount_fen=…, idempotency_key=…)   the mini-program
    withdrawal_approve / withdrawal_reject(reason)                   the console's 审核 / 驳回
    withdrawal_pay                                                   the console's 打款 / 重试
    withdrawal_on_transfer_succeeded / _failed                       the payments core's word (notify or query)
    withdrawal_confirm_params(member_id=…, withdrawal_no=…)           the package for wx.requestMerchantTransfer

Money (campaigns.services.commissions.ledger_move): a request moves the amount from available to
withdrawing (提现中) at once, by an UPDATE conditional on the available balance — so two requests
at the same moment can never take more than there is: the second waits for the first's lock, then
finds the balance gone and is refused (409 withdrawal_exceeds_available). Paid: withdrawing →
withdrawn. Rejected or failed: withdrawing → available, with the reason shown. 重试 after a failure
takes the amount from available again (conditional, like a request) for a new transfer.

Status changes only through WITHDRAWAL_MACHINE (audit row each). Locks: the withdrawal, then the
distributor (docs/architecture.md "Lock order"); the payments core's callbacks come with its
transfer locked, before both.

Maker-checker (like refunds): above `second_approval_above_fen` the first approval only moves the
request to 待复核, and another operator must approve it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from campaigns.errors import (
    DistributionDisabled,
    DistributorFrozen,
    NotADistributor,
    ReasonRequired,
    WithdrawalAmountInvalid,
    WithdrawalDailyLimitReached,
    WithdrawalInvalidTransition,
    WithdrawalNotFound,
    WithdrawalSecondApproverRequired,
)
from campaigns.models import Distributor, Withdrawal
from campaigns.models.commissions import EntryReason
from campaigns.models.distribution import DistributorStatus
from campaigns.models.withdrawals import (
    WITHDRAWAL_COUNTING,
    WITHDRAWAL_MACHINE,
    WITHDRAWAL_TRANSFER_KIND,
    WithdrawalAction,
    WithdrawalStatus,
)
from campaigns.selectors.distribution import distribution_settings_current, withdrawal_for_member
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.settlement import commissions_mark_withdrawn
from core.audit import Actor
from core.idempotency import idempotent_replay
from core.money import apply_rate
from core.operators import operator_id
from core.tracking import track
from members.models import Member
from payments.errors import TransferNotConfirmable
from payments.models import Transfer
from payments.services import transfer_confirm_params, transfer_create, transfer_submit
from wechat.pay_v3 import USER_NAME_REQUIRED_FROM_FEN

logger = logging.getLogger(__name__)

WS = WithdrawalStatus
# The longest amount anyone could mean; anything bigger is a mistake in the request.
MAX_WITHDRAWAL_FEN = 10**10


def withdrawal_request(*, member: Member, amount_fen: int, idempotency_key: str | None = None,
                       now: dt.datetime | None = None) -> tuple[Withdrawal, bool]:
    """Ask to withdraw `amount_fen` (fee included: the fee is kept, the rest transferred).

    Returns (withdrawal, created). Idempotent on (member, idempotency_key): the same key and amount
    return the first withdrawal (created False); the same key with another amount is 409. Refused,
    changing nothing: distribution off (409), not a distributor (403 not_a_distributor), frozen
    (409 distributor_frozen), below the minimum or nothing left after the fee (400
    withdrawal_amount_invalid), over today's maximum (409 withdrawal_daily_limit_reached), more than
    available (409 withdrawal_exceeds_available). One durable transaction; the distributor row is
    locked first, so concurrent requests queue on it and each sees what the others took.
    """
    now = now or timezone.now()
    rules = distribution_settings_current()
    if not rules.enabled:
        raise DistributionDisabled()
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 0 < amount_fen <= MAX_WITHDRAWAL_FEN:
        raise WithdrawalAmountInvalid(detail={"min_fen": rules.withdraw_min_fen})
    if amount_fen < rules.withdraw_min_fen:
        raise WithdrawalAmountInvalid(f"提现金额不能低于 ¥{rules.withdraw_min_fen / 100:.2f}",
                                      detail={"min_fen": rules.withdraw_min_fen})
    fee = apply_rate(amount_fen, rules.withdraw_fee_percent / 100)
    if amount_fen - fee <= 0:
        raise WithdrawalAmountInvalid("扣除手续费后到账金额为 0", detail={"min_fen": rules.withdraw_min_fen})
    fingerprint = hashlib.sha256(f"withdraw:{amount_fen}".encode()).hexdigest()
    mine = Withdrawal.objects.filter(member=member)
    existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False
    with transaction.atomic(durable=True):
        distributor = Distributor.objects.select_for_update().filter(member=member).first()
        if distributor is None or distributor.status in (DistributorStatus.APPLYING, DistributorStatus.REJECTED):
            raise NotADistributor()
        if distributor.status == DistributorStatus.FROZEN:
            raise DistributorFrozen("分销员账户已冻结，暂不能提现")
        existing = idempotent_replay(mine, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return existing, False
        _check_daily_max(distributor, amount_fen, rules.withdraw_daily_max_fen, now)
        withdrawal = Withdrawal.objects.create(
            withdrawal_no=_withdrawal_no(now), distributor=distributor, member=member, amount_fen=amount_fen,
            fee_fen=fee, net_fen=amount_fen - fee, idempotency_key=idempotency_key or None, request_hash=fingerprint)
        ledger_move(distributor_id=distributor.pk, reason=EntryReason.WITHDRAW_REQUESTED,
                    reference=f"withdrawal:{withdrawal.withdrawal_no}", withdrawal_id=withdrawal.pk,
                    moves=Moves(available_fen=-amount_fen, withdrawing_fen=amount_fen))
        WITHDRAWAL_MACHINE.record(withdrawal, action=WithdrawalAction.REQUESTED, actor=Actor.MEMBER, from_status="",
                                  data={"amount_fen": amount_fen, "fee_fen": fee})
    track("withdrawal_requested", member_id=member.pk,
          properties={"withdrawal_no": withdrawal.withdrawal_no, "amount_fen": amount_fen})
    return withdrawal, True


def withdrawal_needs_second_approval(withdrawal: Withdrawal) -> bool:
    """Maker-checker: above the settings' threshold two different operators approve."""
    return withdrawal.amount_fen > distribution_settings_current().second_approval_above_fen


def withdrawal_approve(*, withdrawal_id: int, operator: AbstractBaseUser | None) -> Withdrawal:
    """审核通过. Above the second-approval threshold the first approval only moves it to 待复核 and
    another operator must approve (the same one again: 409 second_approval_by_another_operator).
    Approving what is already approved or further on is a no-op."""
    with transaction.atomic(durable=True):
        withdrawal = _lock(withdrawal_id)
        if withdrawal.status in (WS.APPROVED, WS.PAYING, WS.PAID):
            return withdrawal
        if withdrawal.status == WS.REQUESTED and withdrawal_needs_second_approval(withdrawal):
            withdrawal, _ = WITHDRAWAL_MACHINE.transition(
                pk=withdrawal.pk, to=WS.AWAITING_SECOND_APPROVAL, action=WithdrawalAction.APPROVED_FIRST,
                actor=Actor.OPERATOR, operator=operator, note="初审通过，等待另一位运营复核",
                fields={"approved_by_id": operator_id(operator)})
            return withdrawal
        fields: dict[str, Any] = {}
        if withdrawal.status == WS.AWAITING_SECOND_APPROVAL:
            if operator is None or withdrawal.approved_by_id == operator.pk:
                raise WithdrawalSecondApproverRequired()
            fields["second_approved_by_id"] = operator.pk
        else:
            fields["approved_by_id"] = operator_id(operator)
        withdrawal, _ = WITHDRAWAL_MACHINE.transition(
            pk=withdrawal.pk, to=WS.APPROVED, action=WithdrawalAction.APPROVED, actor=Actor.OPERATOR,
            operator=operator, allowed_from=[WS.REQUESTED, WS.AWAITING_SECOND_APPROVAL], fields=fields)
    return withdrawal


def withdrawal_reject(*, withdrawal_id: int, operator: AbstractBaseUser | None, reason: str) -> Withdrawal:
    """驳回, with the reason the member sees (required): the amount goes back to available (a failed
    one's is back already). Possible until the transfer starts, and after it failed. Idempotent."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic(durable=True):
        withdrawal = _lock(withdrawal_id)
        was = withdrawal.status
        withdrawal, changed = WITHDRAWAL_MACHINE.transition(
            pk=withdrawal.pk, to=WS.REJECTED, action=WithdrawalAction.REJECTED, actor=Actor.OPERATOR,
            operator=operator, note=reason, fields={"reject_reason": reason[:200]})
        if changed and was != WS.FAILED:
            _give_back(withdrawal, reference=f"withdrawal:{withdrawal.withdrawal_no}:rejected", note=f"驳回：{reason}")
    return withdrawal


def withdrawal_pay(*, withdrawal_id: int, operator: AbstractBaseUser | None) -> Withdrawal:
    """打款 (an approved withdrawal) or 重试 (a failed one): a new transfer attempt in the payments
    core, in this transaction; WeChat is called after the commit. A retry takes the amount from
    available again first (409 withdrawal_exceeds_available if it was spent meanwhile). Refused for
    a frozen distributor. Paying what is already paying or paid is a no-op."""
    with transaction.atomic(durable=True):
        withdrawal = _lock(withdrawal_id)
        if withdrawal.status in (WS.PAYING, WS.PAID):
            return withdrawal
        if withdrawal.status not in (WS.APPROVED, WS.FAILED):
            raise WithdrawalInvalidTransition(f"提现当前状态为「{withdrawal.get_status_display()}」，不能打款",
                                              detail={"status": withdrawal.status})
        distributor = Distributor.objects.select_for_update().get(pk=withdrawal.distributor_id)
        if distributor.status == DistributorStatus.FROZEN:
            raise DistributorFrozen("分销员账户已冻结，暂不能打款")
        retry = withdrawal.status == WS.FAILED
        attempt = withdrawal.attempts + 1
        if retry:
            ledger_move(distributor_id=distributor.pk, reason=EntryReason.WITHDRAW_REQUESTED,
                        reference=f"withdrawal:{withdrawal.withdrawal_no}:{attempt}", withdrawal_id=withdrawal.pk,
                        moves=Moves(available_fen=-withdrawal.amount_fen, withdrawing_fen=withdrawal.amount_fen),
                        note="重新打款")
        transfer = _transfer_create(withdrawal, distributor)
        withdrawal, _ = WITHDRAWAL_MACHINE.transition(
            pk=withdrawal.pk, to=WS.PAYING, action=WithdrawalAction.RETRIED if retry else WithdrawalAction.PAYING,
            actor=Actor.OPERATOR, operator=operator, note=f"转账单 {transfer.out_bill_no}",
            fields={"attempts": attempt, "transfer_reference": transfer.out_bill_no, "fail_reason": ""})
    return withdrawal


def withdrawal_on_transfer_succeeded(transfer: Transfer) -> None:
    """The payments core's word that a withdrawal's transfer arrived (the member confirmed it):
    已到账, the amount from withdrawing to withdrawn, and the oldest available commissions marked
    withdrawn. Registered for the "withdrawal" transfer kind (CampaignsConfig.ready()); runs inside
    the payments core's transaction, the transfer locked first. Idempotent: a repeat, or a word about
    an earlier attempt's transfer, changes nothing."""
    with transaction.atomic():
        withdrawal = _lock_paying(transfer)
        if withdrawal is None:
            return
        Distributor.objects.select_for_update().get(pk=withdrawal.distributor_id)
        WITHDRAWAL_MACHINE.transition(pk=withdrawal.pk, to=WS.PAID, action=WithdrawalAction.PAID, actor=Actor.WECHAT,
                                      note=f"转账单 {transfer.out_bill_no} 已到账")
        ledger_move(distributor_id=withdrawal.distributor_id, reason=EntryReason.WITHDRAW_PAID,
                    reference=f"withdrawal:{withdrawal.withdrawal_no}", withdrawal_id=withdrawal.pk,
                    moves=Moves(withdrawing_fen=-withdrawal.amount_fen, withdrawn_fen=withdrawal.amount_fen))
        commissions_mark_withdrawn(distributor_id=withdrawal.distributor_id)


def withdrawal_on_transfer_failed(transfer: Transfer, reason: str) -> None:
    """The payments core's word that a withdrawal's transfer failed, was cancelled or expired
    unconfirmed: 打款失败 with the reason, the amount back to available (重试 or 驳回 next).
    Registered and idempotent like withdrawal_on_transfer_succeeded."""
    reason = (reason or "转账失败").strip()[:200]
    with transaction.atomic():
        withdrawal = _lock_paying(transfer)
        if withdrawal is None:
            return
        Distributor.objects.select_for_update().get(pk=withdrawal.distributor_id)
        withdrawal, _ = WITHDRAWAL_MACHINE.transition(
            pk=withdrawal.pk, to=WS.FAILED, action=WithdrawalAction.FAILED, actor=Actor.WECHAT, note=reason,
            fields={"fail_reason": reason})
        _give_back(withdrawal, reference=f"withdrawal:{withdrawal.withdrawal_no}:{withdrawal.attempts}:failed",
                   note=f"打款失败：{reason}")


def withdrawal_confirm_params(*, member_id: int, withdrawal_no: str) -> dict[str, str]:
    """What the mini-program passes to wx.requestMerchantTransfer for the member to confirm receipt
    of a withdrawal being paid ({"mchId", "appId", "package"}). If WeChat has not handed the package
    yet (the submission after the commit is still on its way), the transfer is submitted here — a
    network call, outside any transaction; WeChat answers a repeat with the same bill. Not paying,
    or not the member's: 409 transfer_not_confirmable / 404."""
    withdrawal = withdrawal_for_member(member_id=member_id, withdrawal_no=withdrawal_no)
    transfer = Transfer.objects.filter(out_bill_no=withdrawal.transfer_reference).first()
    if withdrawal.status != WS.PAYING or transfer is None:
        raise TransferNotConfirmable("该提现当前无需确认收款", detail={"status": withdrawal.status})
    if not transfer.package_info:
        transfer_submit(transfer)
        transfer.refresh_from_db()
    return transfer_confirm_params(transfer)


def withdrawal_get(*, withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise WithdrawalNotFound(detail={"id": withdrawal_id})
    return withdrawal


# --- the pieces ------------------------------------------------------------------------------------------


def _lock(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise WithdrawalNotFound(detail={"id": withdrawal_id})
    return withdrawal


def _give_back(withdrawal: Withdrawal, *, reference: str, note: str) -> None:
    Distributor.objects.select_for_update().get(pk=withdrawal.distributor_id)
    ledger_move(distributor_id=withdrawal.distributor_id, reason=EntryReason.WITHDRAW_RETURNED, reference=reference,
                withdrawal_id=withdrawal.pk,
                moves=Moves(withdrawing_fen=-withdrawal.amount_fen, available_fen=withdrawal.amount_fen), note=note)


def _check_daily_max(distributor: Distributor, amount_fen: int, daily_max_fen: int | None, now: dt.datetime) -> None:
    if daily_max_fen is None:
        return
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = (Withdrawal.objects.filter(distributor=distributor, created_at__gte=day_start,
                                       status__in=WITHDRAWAL_COUNTING)
             .aggregate(total=Sum("amount_fen"))["total"] or 0)
    if today + amount_fen > daily_max_fen:
        left = max(daily_max_fen - today, 0)
        raise WithdrawalDailyLimitReached(f"今日还可提现 ¥{left / 100:.2f}",
                                          detail={"daily_max_fen": daily_max_fen, "left_fen": left})


def _withdrawal_no(now: dt.datetime) -> str:
    return f"W{timezone.localtime(now):%Y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def _lock_paying(transfer: Transfer) -> Withdrawal | None:
    """The withdrawal `transfer` pays, locked, if it is paying through this very transfer."""
    withdrawal = Withdrawal.objects.select_for_update().filter(withdrawal_no=transfer.reference).first()
    if withdrawal is None:
        logger.warning("transfer %s names no withdrawal %s", transfer.out_bill_no, transfer.reference)
        return None
    if withdrawal.status != WS.PAYING or withdrawal.transfer_reference != transfer.out_bill_no:
        return None  # a repeat, or an earlier attempt's transfer
    return withdrawal


def _transfer_create(withdrawal: Withdrawal, distributor: Distributor) -> Transfer:
    """The payout of this attempt in the payments core: a 商家转账 (scene 佣金报酬) of `net_fen` to the
    member, created in this transaction and submitted to WeChat after the commit (the payments
    core's job). From ¥2,000 WeChat wants the payee's real name: the distributor's, from their
    application. The payments core calls back withdrawal_on_transfer_succeeded / _failed."""
    openid = Member.objects.filter(pk=withdrawal.member_id).values_list("openid", flat=True).get()
    user_name = distributor.real_name if withdrawal.net_fen >= USER_NAME_REQUIRED_FROM_FEN else ""
    return transfer_create(kind=WITHDRAWAL_TRANSFER_KIND, reference=withdrawal.withdrawal_no, openid=openid,
                           amount_fen=withdrawal.net_fen, remark=settings.DISTRIBUTION_TRANSFER_REMARK,
                           user_name=user_name)
