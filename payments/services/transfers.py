"""Payouts (money out): WeChat Pay 商家转账 (Pay v3 transfer bills) for every transfer kind.

- `transfer_create()` stores a Transfer inside the caller's transaction (no WeChat call) and queues
  its submission for after the commit;
- `transfer_submit()` creates the bill at WeChat (a repeat of the same out_bill_no gets the same
  bill: a retry never pays twice) and returns the package the member confirms with;
  `transfer_confirm_params()` gives the wx.requestMerchantTransfer parameters;
- `transfer_handle_notify()` takes WeChat's signed, encrypted notify, `transfer_settle_by_query()`
  asks WeChat, `transfers_process_due()` is the sweep that does both for transfers left behind,
  `transfer_cancel()` asks WeChat to cancel one the member has not confirmed;
- all end in `_transfer_apply()`: the one place WeChat's word on a bill moves a transfer, through
  TRANSFER_MACHINE, calling the transfer kind's `on_succeeded` / `on_failed` (payments.registry)
  exactly once, in the same durable transaction. Lock order: the transfer, then the kind's rows.

No network call runs inside a transaction: WeChat is called between short ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from core.audit import Actor
from core.db import require_transaction
from core.jobs import enqueue_after_commit
from core.state import InvalidTransition
from payments.errors import InvalidTransfer, TransferMismatch, TransferNotConfirmable, UnknownTransfer
from payments.models import (
    MERCHANT_CANCELLED,
    TRANSFER_MACHINE,
    USER_NOT_CONFIRMED,
    Transfer,
    TransferEvent,
    TransferNotification,
    TransferState,
    transfer_reason_text,
)
from payments.registry import transfer_kind
from payments.services.trades import SOURCE_NOTIFY, NotifyOutcome
from wechat.errors import TransferRefused, WechatApiError
from wechat.gateway import TransferBill, TransferBillState, TransferGateway, TransferRequest
from wechat.pay_v3 import REMARK_MAX_CHARS, USER_NAME_REQUIRED_FROM_FEN, get_transfer_gateway

logger = logging.getLogger(__name__)

SOURCE_SUBMIT = "submit"
SOURCE_CANCEL = "cancel"
SOURCE_TRANSFER_QUERY = "query"
OUT_BILL_NO_PREFIX = "TB"
# 佣金报酬 (scene 1005) reports two facts about every transfer; the second is its remark.
REPORT_POST_TYPE = "岗位类型"
REPORT_DESCRIPTION = "报酬说明"

# WeChat's bill state → ours. CANCELING (our cancel is under way) moves nothing: CANCELLED follows.
_TRANSFER_STATES = {
    TransferBillState.ACCEPTED: TransferState.ACCEPTED,
    TransferBillState.PROCESSING: TransferState.ACCEPTED,
    TransferBillState.WAIT_USER_CONFIRM: TransferState.WAIT_USER_CONFIRM,
    TransferBillState.TRANSFERING: TransferState.WAIT_USER_CONFIRM,
    TransferBillState.SUCCESS: TransferState.SUCCEEDED,
    TransferBillState.FAIL: TransferState.FAILED,
    TransferBillState.CANCELLED: TransferState.CANCELLED,
}


def transfer_gateway() -> TransferGateway:
    """The configured transfer gateway (WeChat Pay v3), read from settings at each call."""
    return get_transfer_gateway()


def transfer_notify_url() -> str:
    """The URL WeChat notifies a transfer bill's final state to (one for every kind)."""
    return settings.SITE_URL + reverse("payment-wechat-transfer-notify")


def transfer_create(*, kind: str, reference: str, openid: str, amount_fen: int, remark: str,
                    user_name: str = "") -> Transfer:
    """Create the transfer paying out `amount_fen` to the member `openid` for the payable `reference`.

    Runs in the caller's transaction (TransactionRequired otherwise), beside the caller's own change
    (the withdrawal it pays): the transfer exists exactly when that commits. No network I/O here:
    its submission (transfer_submit) is queued for after the commit, and the sweep
    (transfers_process_due) submits it if the queue was down. Idempotent per (kind, reference) while
    a transfer of the payable is live (not failed or cancelled): the same payee and amount return
    that transfer, another raise TransferMismatch; a concurrent twin waits on the unique index and
    gets the same answer. Refuses (InvalidTransfer, nothing written) a non-positive amount, a remark
    outside 1..32 characters, no real name from ¥2,000 (WeChat requires it); an unregistered kind
    raises UnknownTransferKind (it could never be settled).
    """
    require_transaction("transfer_create")
    transfer_kind(kind)
    _transfer_check_input(reference=reference, openid=openid, amount_fen=amount_fen, remark=remark,
                          user_name=user_name)
    live = Transfer.objects.filter(kind=kind, reference=reference).exclude(
        state__in=[TransferState.FAILED, TransferState.CANCELLED])
    existing = live.first()
    if existing is not None:
        return _transfer_same(existing, openid=openid, amount_fen=amount_fen)
    for _ in range(5):
        try:
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    kind=kind, reference=reference, out_bill_no=_new_out_bill_no(), openid=openid,
                    user_name=user_name, amount_fen=amount_fen, remark=remark,
                    scene_id=settings.WECHAT_TRANSFER_SCENE_ID,
                    report_infos=[[REPORT_POST_TYPE, settings.WECHAT_TRANSFER_POST_TYPE],
                                  [REPORT_DESCRIPTION, remark]])
        except IntegrityError:
            existing = live.first()
            if existing is not None:  # created meanwhile by a concurrent call for the same payable
                return _transfer_same(existing, openid=openid, amount_fen=amount_fen)
            continue  # the number was drawn before: draw another
        TRANSFER_MACHINE.record(transfer, action=TransferEvent.Action.CREATED, from_status="",
                                data={"kind": kind, "reference": reference, "amount_fen": amount_fen})
        # robust: with the broker down, the sweep (transfers.process) submits created transfers anyway.
        enqueue_after_commit("payments.tasks.submit_transfer", transfer.pk, robust=True)
        return transfer
    raise RuntimeError("could not draw a free transfer number")


def _transfer_check_input(*, reference: str, openid: str, amount_fen: int, remark: str, user_name: str) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidTransfer("转账金额必须大于0", detail={"amount_fen": amount_fen})
    if not remark or len(remark) > REMARK_MAX_CHARS:
        raise InvalidTransfer(f"转账备注须为1至{REMARK_MAX_CHARS}个字符", detail={"remark": remark})
    if not openid or len(openid) > 64 or not reference or len(reference) > 64:
        raise InvalidTransfer("收款用户或业务单号无效", detail={"reference": reference})
    if amount_fen >= USER_NAME_REQUIRED_FROM_FEN and not user_name.strip():
        raise InvalidTransfer("单笔转账满2000元须提供收款用户的真实姓名", detail={"amount_fen": amount_fen})


def _transfer_same(transfer: Transfer, *, openid: str, amount_fen: int) -> Transfer:
    if (transfer.openid, transfer.amount_fen) != (openid, amount_fen):
        raise TransferMismatch("该业务单已有金额或收款人不同的转账", detail={"out_bill_no": transfer.out_bill_no})
    return transfer


def _new_out_bill_no() -> str:
    # TB + Shanghai date + 14 random digits: 24 characters of digits and letters, as WeChat allows.
    return f"{OUT_BILL_NO_PREFIX}{timezone.localdate():%Y%m%d}{secrets.randbelow(10**14):014d}"


def transfer_submit(transfer: Transfer) -> str:
    """Send a transfer to WeChat and return the package_info the member confirms it with ("" when
    the transfer does not wait for the member: it ended, or WeChat has not asked for it yet).

    Call it after the transfer's creation committed (the submit task does; so may the caller, to
    hand the package at once), never inside a transaction: WeChat is called between short ones.
    Idempotent by out_bill_no: WeChat answers a repeat with the bill the first request created, so
    a retry after a timeout never pays twice; a transfer already waiting for the member returns its
    stored package without calling WeChat, a final one returns "". WeChat's answer moves the transfer
    as a notify would (_transfer_apply). When WeChat refuses, it is asked whether the bill exists:
    if not, the transfer fails for good (on_failed with the reason; TransferRefused is raised); an
    unknown outcome raises WechatApiError and leaves it created, with the error, for the sweep.
    """
    transfer = Transfer.objects.get(pk=transfer.pk)
    if transfer.is_final:
        return ""
    if transfer.state == TransferState.WAIT_USER_CONFIRM and transfer.package_info:
        return transfer.package_info
    Transfer.objects.filter(pk=transfer.pk).update(attempts=F("attempts") + 1, checked_at=timezone.now())
    request = TransferRequest(
        out_bill_no=transfer.out_bill_no, openid=transfer.openid, amount_fen=transfer.amount_fen,
        remark=transfer.remark, scene_id=transfer.scene_id,
        report_infos=tuple((str(kind), str(content)) for kind, content in transfer.report_infos),
        notify_url=transfer_notify_url(), user_recv_perception=settings.WECHAT_TRANSFER_RECV_PERCEPTION,
        user_name=transfer.user_name)
    try:
        bill = transfer_gateway().create_transfer(request)
    except TransferRefused as exc:
        _transfer_refused(transfer, exc)
        raise
    except WechatApiError as exc:
        _transfer_submit_error(transfer, exc, note="结果未知，稍后自动重试")
        raise
    transfer, _ = _transfer_record(transfer_id=transfer.pk, bill=bill, source=SOURCE_SUBMIT)
    return transfer.package_info if transfer.state == TransferState.WAIT_USER_CONFIRM else ""


def _transfer_refused(transfer: Transfer, exc: TransferRefused) -> None:
    """WeChat refused the request: fail the transfer for good if WeChat holds no bill under its number
    (an earlier request whose answer was lost may have created one: then that bill counts)."""
    try:
        bill = transfer_gateway().query_transfer(out_bill_no=transfer.out_bill_no)
    except WechatApiError as query_error:
        _transfer_submit_error(transfer, exc, note=f"微信支付拒绝，且查询失败（{query_error.errcode}），稍后重试")
        return
    if bill is not None:
        _transfer_record(transfer_id=transfer.pk, bill=bill, source=SOURCE_TRANSFER_QUERY)
        return
    error = f"{exc.errcode}：{exc.errmsg}"[:300]
    with transaction.atomic(durable=True):
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.state != TransferState.CREATED:
            return
        _transfer_finish(locked, to=TransferState.FAILED, reason_code=str(exc.errcode)[:64], actor=Actor.WECHAT,
                         source=SOURCE_SUBMIT, note=error, extra_fields={"last_error": error})


def _transfer_submit_error(transfer: Transfer, exc: WechatApiError, *, note: str) -> None:
    error = f"{exc.errcode}：{exc.errmsg}"[:300]
    with transaction.atomic(durable=True):
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.is_final:
            return
        locked.last_error = error
        locked.save(update_fields=["last_error"])
        TRANSFER_MACHINE.record(locked, action=TransferEvent.Action.SUBMIT_ERROR, note=f"{note}：{error}",
                                data={"errcode": str(exc.errcode), "attempt": locked.attempts})
    logger.warning("transfer %s: %s (%s)", transfer.out_bill_no, note, error)


def transfer_handle_notify(headers: Mapping[str, str], body: bytes) -> NotifyOutcome:
    """Handle WeChat's transfer notify (MCHTRANSFER.BILL.FINISHED), for a transfer of any kind.

    The gateway verifies the signature with WeChat Pay's public key and decrypts the resource with
    the APIv3 key: anything forged, tampered or malformed raises InvalidNotification and changes
    nothing. Then, in one durable transaction: the transfer is locked by out_bill_no (unknown:
    UnknownTransfer); the bill must match its amount and payee (TransferMismatch, nothing changed);
    the notification is stored under its id — a notification stored before (a redelivery, even
    three at once: they queue on the transfer's lock) answers "duplicate" and changes nothing; the
    transfer moves through _transfer_apply, which calls the kind's hook once.
    """
    notice = transfer_gateway().parse_transfer_notify(headers, body)
    with transaction.atomic(durable=True):
        transfer = Transfer.objects.select_for_update().filter(out_bill_no=notice.bill.out_bill_no).first()
        if transfer is None:
            raise UnknownTransfer(detail={"out_bill_no": notice.bill.out_bill_no})
        _transfer_check_bill(transfer, notice.bill)
        try:
            with transaction.atomic():
                record = TransferNotification.objects.create(
                    notify_id=notice.notify_id, out_bill_no=transfer.out_bill_no, state=notice.bill.state,
                    resource=notice.resource)
        except IntegrityError:
            return NotifyOutcome(True, "duplicate")
        _, outcome = _transfer_apply(transfer, notice.bill, source=SOURCE_NOTIFY)
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return NotifyOutcome(True, outcome)


def transfer_settle_by_query(transfer: Transfer) -> Transfer:
    """Ask WeChat about a transfer and record its answer (the sweep, the console's 查询): the safety
    net for a notify that never arrives. Returns the transfer as it now is.

    A final transfer is returned without asking. WeChat's answer moves it exactly as a notify would
    (the kind's hook once, whichever of the two comes first; the other changes nothing). A transfer
    WeChat does not know is left as it is: a created one is submitted by the sweep. The query runs
    outside any transaction; safe to repeat and to run in two workers at once.
    """
    transfer = Transfer.objects.get(pk=transfer.pk)
    if transfer.is_final:
        return transfer
    Transfer.objects.filter(pk=transfer.pk).update(checked_at=timezone.now())
    bill = transfer_gateway().query_transfer(out_bill_no=transfer.out_bill_no)
    if bill is None:
        if transfer.state != TransferState.CREATED:
            logger.warning("transfer %s is %s here, but WeChat does not know it", transfer.out_bill_no,
                           transfer.state)
        return Transfer.objects.get(pk=transfer.pk)
    transfer, _ = _transfer_record(transfer_id=transfer.pk, bill=bill, source=SOURCE_TRANSFER_QUERY)
    return transfer


def transfer_cancel(transfer: Transfer, *, operator: AbstractBaseUser | None = None) -> Transfer:
    """Ask WeChat to cancel a transfer the member has not confirmed yet (撤销).

    Only a transfer WeChat holds (accepted, waiting for the member) can be cancelled: a created one
    may be on its way to WeChat right now (InvalidTransition). The request is audited first; WeChat's
    answer is recorded like a notify: CANCELLED ends the transfer (on_failed, reason "商户已撤销转账"),
    CANCELING leaves it for the notify or the sweep. TransferRefused when WeChat says it is too late
    (the member confirmed): the transfer then settles as WeChat has it.
    """
    transfer = Transfer.objects.get(pk=transfer.pk)
    if transfer.is_final:
        return transfer
    if transfer.state == TransferState.CREATED:
        raise InvalidTransition("转账单尚未被微信受理，不能撤销", detail={"status": transfer.state})
    with transaction.atomic(durable=True):
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        TRANSFER_MACHINE.record(locked, action=TransferEvent.Action.CANCEL_REQUESTED,
                                actor=Actor.OPERATOR if operator else Actor.SYSTEM, operator=operator)
    try:
        bill = transfer_gateway().cancel_transfer(out_bill_no=transfer.out_bill_no)
    except TransferRefused:
        transfer_settle_by_query(transfer)
        raise
    transfer, _ = _transfer_record(transfer_id=transfer.pk, bill=bill, source=SOURCE_CANCEL)
    return transfer


def transfer_confirm_params(transfer: Transfer) -> dict[str, str]:
    """What the mini-program passes to wx.requestMerchantTransfer for the member to confirm receipt:
    {"mchId", "appId", "package"}. TransferNotConfirmable unless the transfer waits for the member
    and WeChat gave its package (transfer_submit returns it as soon as WeChat does)."""
    if transfer.state != TransferState.WAIT_USER_CONFIRM or not transfer.package_info:
        raise TransferNotConfirmable(detail={"state": transfer.state})
    return {"mchId": settings.WECHAT_MCH_ID, "appId": settings.WECHAT_APP_ID, "package": transfer.package_info}


def _transfer_record(*, transfer_id: int, bill: TransferBill, source: str) -> tuple[Transfer, str]:
    """Lock the transfer, check the bill against it and apply it, in one durable transaction."""
    with transaction.atomic(durable=True):
        transfer = Transfer.objects.select_for_update().get(pk=transfer_id)
        _transfer_check_bill(transfer, bill)
        return _transfer_apply(transfer, bill, source=source)


def _transfer_check_bill(transfer: Transfer, bill: TransferBill) -> None:
    if bill.amount_fen is not None and bill.amount_fen != transfer.amount_fen:
        logger.warning("transfer %s: WeChat says %s fen, ours is %s", transfer.out_bill_no, bill.amount_fen,
                       transfer.amount_fen)
        raise TransferMismatch(detail={"out_bill_no": transfer.out_bill_no})
    if bill.openid and bill.openid != transfer.openid:
        raise TransferMismatch(detail={"out_bill_no": transfer.out_bill_no})


def _transfer_apply(transfer: Transfer, bill: TransferBill, *, source: str) -> tuple[Transfer, str]:
    """Move a locked transfer to where WeChat's bill says it is; return it and the outcome.

    The one place WeChat's word moves a transfer. A step back (accepted after waiting) changes
    nothing; a final transfer never changes (another final state from WeChat is logged as an error:
    WeChat's final states are final); a transfer that reaches a final state calls its kind's
    on_succeeded or on_failed here, once, inside the caller's durable transaction.
    """
    target = _TRANSFER_STATES.get(bill.state)
    learnt = {"wechat_bill_no": bill.transfer_bill_no} if bill.transfer_bill_no and not transfer.wechat_bill_no else {}
    if target is None or transfer.is_final or target == transfer.state:
        if transfer.is_final and target not in (None, transfer.state):
            logger.error("transfer %s is %s, but WeChat now says %s (%s)", transfer.out_bill_no, transfer.state,
                         bill.state, source)
        if not transfer.is_final and target == transfer.state and bill.package_info != transfer.package_info \
                and bill.package_info:
            learnt["package_info"] = bill.package_info
        if learnt:
            Transfer.objects.filter(pk=transfer.pk).update(**learnt)
            for name, value in learnt.items():
                setattr(transfer, name, value)
        return transfer, "unchanged"
    if target in (TransferState.FAILED, TransferState.CANCELLED):
        reason = bill.fail_reason or (_transfer_cancel_reason(transfer) if target == TransferState.CANCELLED
                                      else "OTHER_FAIL_REASON_TYPE")
        return _transfer_finish(transfer, to=target, reason_code=reason[:64], actor=Actor.WECHAT, source=source,
                                extra_fields=learnt, bill_state=bill.state)
    fields: dict[str, Any] = {**learnt, "last_error": ""}
    if target == TransferState.WAIT_USER_CONFIRM and bill.package_info:
        fields["package_info"] = bill.package_info
    if target == TransferState.SUCCEEDED:
        fields["user_name"] = ""
    transfer, changed = TRANSFER_MACHINE.transition(
        pk=transfer.pk, to=target, action=TransferEvent.Action(target.value), actor=Actor.WECHAT,
        data={"source": source, "state": bill.state, "transfer_bill_no": bill.transfer_bill_no}, fields=fields)
    if not changed:  # a step back: keep what WeChat taught us all the same
        if learnt:
            Transfer.objects.filter(pk=transfer.pk).update(**learnt)
        return transfer, "unchanged"
    if target == TransferState.SUCCEEDED:
        transfer_kind(transfer.kind).on_succeeded(transfer)
    return transfer, target.value


def _transfer_finish(transfer: Transfer, *, to: TransferState, reason_code: str, actor: str, source: str,
                     note: str = "", extra_fields: Mapping[str, Any] | None = None,
                     bill_state: str = "") -> tuple[Transfer, str]:
    """End a locked transfer unpaid (failed or cancelled) and tell its kind why, once."""
    text = transfer_reason_text(reason_code)
    transfer, changed = TRANSFER_MACHINE.transition(
        pk=transfer.pk, to=to, action=TransferEvent.Action(to.value), actor=actor, note=note or text,
        data={"source": source, "state": bill_state, "fail_reason": reason_code},
        fields={**(extra_fields or {}), "fail_reason": reason_code, "user_name": ""})
    if changed:
        transfer_kind(transfer.kind).on_failed(transfer, text)
    return transfer, to.value if changed else "unchanged"


def _transfer_cancel_reason(transfer: Transfer) -> str:
    # WeChat's CANCELLED carries no reason: either we asked for it, or the member never confirmed.
    asked = transfer.events.filter(action=TransferEvent.Action.CANCEL_REQUESTED).exists()
    return MERCHANT_CANCELLED if asked else USER_NOT_CONFIRMED


def transfers_process_due(*, now: dt.datetime | None = None, limit: int = 200) -> dict[str, int]:
    """The sweep (beat job transfers.process): submit transfers still created
    TRANSFER_RESUBMIT_AFTER_SECONDS after their last attempt (the queue was down, or the outcome
    was unknown), and query those WeChat accepted but that have not ended, at most every
    TRANSFER_QUERY_AFTER_MINUTES each. Each transfer is claimed by moving its checked_at
    (a conditional UPDATE), so two workers never handle the same one; errors are logged and
    counted, and the transfer is taken up again next time.
    """
    now = now or timezone.now()
    resubmit_before = now - dt.timedelta(seconds=settings.TRANSFER_RESUBMIT_AFTER_SECONDS)
    query_before = now - dt.timedelta(minutes=settings.TRANSFER_QUERY_AFTER_MINUTES)
    due = (Transfer.objects.filter(
        Q(state=TransferState.CREATED) & (Q(checked_at__lt=resubmit_before)
                                          | Q(checked_at__isnull=True, created_at__lt=resubmit_before))
        | Q(state__in=[TransferState.ACCEPTED, TransferState.WAIT_USER_CONFIRM])
        & (Q(checked_at__lt=query_before) | Q(checked_at__isnull=True)))
        .order_by("checked_at", "pk").values_list("pk", "state", "checked_at")[:limit])
    counts = {"submitted": 0, "queried": 0, "errors": 0}
    for pk, state, checked_at in due:
        claimed = Transfer.objects.filter(pk=pk, state=state, checked_at=checked_at) if checked_at else \
            Transfer.objects.filter(pk=pk, state=state, checked_at__isnull=True)
        if not claimed.update(checked_at=now):
            continue  # another worker took it
        transfer = Transfer.objects.get(pk=pk)
        try:
            if state == TransferState.CREATED:
                transfer_submit(transfer)
                counts["submitted"] += 1
            else:
                transfer_settle_by_query(transfer)
                counts["queried"] += 1
        except WechatApiError as exc:
            counts["errors"] += 1
            logger.warning("transfer %s: %s %s", transfer.out_bill_no, exc.errcode, exc.errmsg)
    return counts
