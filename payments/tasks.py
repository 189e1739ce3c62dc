"""Celery tasks of the payments core: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from payments.models import Transfer
from payments.services import transfer_submit, transfers_process_due
from wechat.errors import WechatApiError

logger = logging.getLogger(__name__)


@shared_task(name="payments.tasks.submit_transfer")
def submit_transfer(transfer_id: int) -> str:
    """Send a new transfer to WeChat (queued by transfer_create after its commit). A failure is
    recorded on the transfer; the sweep (transfers.process) sends it again, so nothing retries here."""
    transfer = Transfer.objects.filter(pk=transfer_id).first()
    if transfer is None:
        return "missing"
    try:
        transfer_submit(transfer)
    except WechatApiError as exc:
        logger.warning("transfer %s not submitted: %s %s", transfer.out_bill_no, exc.errcode, exc.errmsg)
        return "error"
    return Transfer.objects.get(pk=transfer_id).state


@shared_task(name="payments.tasks.process_transfers")
def process_transfers() -> dict[str, int]:
    """Resubmit transfers whose submission got no answer; query those WeChat has not finished."""
    return transfers_process_due()
