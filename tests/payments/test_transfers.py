"""Payouts over HTTP against the WeChat sandbox's 商家转账 (Pay v3: signed requests and answers,
AEAD-encrypted, signed notifies to the live server): a transfer of a kind the test registers is
created, submitted, confirmed by the member and settled by notify or by query; its kind hears of
the outcome exactly once, inside the transition's transaction; whatever WeChat did not send
changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from payments.errors import TransferMismatch, TransferNotConfirmable
from payments.models import Transfer, TransferEvent, TransferNotification, TransferState
from payments.services import (
    transfer_cancel,
    transfer_confirm_params,
    transfer_settle_by_query,
    transfer_submit,
    transfers_process_due,
)
from tests.payments.payouts import PAYEE, HookCall, new_transfer
from wechat.errors import TransferRefused, WechatApiError
from wechat.sandbox.transfer_api import FORGERIES

pytestmark = pytest.mark.django_db(transaction=True)


def actions(transfer: Transfer) -> list[str]:
    return list(transfer.events.order_by("id").values_list("action", flat=True))


def snapshot() -> list[list[tuple]]:
    return [
        sorted(Transfer.objects.values_list("out_bill_no", "state", "package_info", "fail_reason", "wechat_bill_no",
                                            "finished_at")),
        sorted(TransferEvent.objects.values_list("transfer__out_bill_no", "action", "from_status", "to_status")),
        sorted(TransferNotification.objects.values_list("notify_id", "out_bill_no", "state", "outcome")),
    ]


def test_a_transfer_waits_for_the_member_then_succeeds_once_on_the_notify(mall, sandbox, hooks):
    # ¥2,000 and more: WeChat requires the payee's name, sent encrypted with WeChat Pay's public key
    transfer = new_transfer(amount_fen=2000_00, user_name="张三")

    package = transfer_submit(transfer)

    transfer.refresh_from_db()
    bill = sandbox.transfer(transfer.out_bill_no)
    assert (transfer.state, transfer.package_info, transfer.wechat_bill_no) == (
        TransferState.WAIT_USER_CONFIRM, package, bill["transfer_bill_no"])
    assert package
    assert (bill["state"], bill["package_info"], bill["transfer_amount"], bill["openid"], bill["user_name"]) == (
        "WAIT_USER_CONFIRM", package, 2000_00, PAYEE, "张三")
    assert (bill["transfer_scene_id"], bill["transfer_remark"], bill["user_recv_perception"]) == (
        "1005", "佣金提现", "劳务报酬")
    assert bill["report_infos"] == [{"info_type": "岗位类型", "info_content": "推广员"},
                                    {"info_type": "报酬说明", "info_content": "佣金提现"}]
    params = transfer_confirm_params(transfer)
    assert params == {"mchId": settings.WECHAT_MCH_ID, "appId": settings.WECHAT_APP_ID, "package": package}
    assert hooks == []

    # the member confirms in wx.requestMerchantTransfer; WeChat notifies our server
    answer = sandbox.confirm_transfer(transfer.out_bill_no, package=params["package"])

    assert [(d["status"], d["acknowledged"]) for d in answer["deliveries"]] == [(204, True)]
    transfer.refresh_from_db()
    assert (transfer.state, transfer.user_name, transfer.fail_reason) == (TransferState.SUCCEEDED, "", "")
    assert transfer.finished_at is not None
    assert hooks == [HookCall("succeeded", transfer.out_bill_no, TransferState.SUCCEEDED, "", True)]
    assert actions(transfer) == ["created", "wait_user_confirm", "succeeded"]
    notification = TransferNotification.objects.get()
    assert (notification.out_bill_no, notification.state, notification.outcome) == (
        transfer.out_bill_no, "SUCCESS", "succeeded")
    assert notification.resource["transfer_amount"] == 2000_00

    # a redelivery, a query and a late submit change nothing
    before = snapshot()
    assert [d["status"] for d in sandbox.transfer_notify(transfer.out_bill_no)["deliveries"]] == [204]
    assert transfer_settle_by_query(transfer).state == TransferState.SUCCEEDED
    assert transfer_submit(transfer) == ""
    assert snapshot() == before
    assert len(hooks) == 1


def test_a_notify_delivered_three_times_at_once_succeeds_once(mall, sandbox, hooks):
    transfer = new_transfer()
    transfer_submit(transfer)

    answer = sandbox.confirm_transfer(transfer.out_bill_no, times=3, concurrent=True)

    assert [(d["status"], d["acknowledged"]) for d in answer["deliveries"]] == [(204, True)] * 3
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SUCCEEDED
    assert [call.hook for call in hooks] == ["succeeded"]
    assert actions(transfer) == ["created", "wait_user_confirm", "succeeded"]
    assert list(TransferNotification.objects.values_list("outcome", flat=True)) == ["succeeded"]


def test_transfers_that_end_unpaid_tell_their_kind_why_once(mall, sandbox, hooks):
    failed, expired, cancelled = new_transfer(), new_transfer(), new_transfer()
    for transfer in (failed, expired, cancelled):
        transfer_submit(transfer)

    sandbox.fail_transfer(failed.out_bill_no, reason="PAYEE_ACCOUNT_ABNORMAL")
    sandbox.expire_transfer(expired.out_bill_no)  # the member never confirmed
    transfer_cancel(cancelled)  # 撤销: WeChat cancels and notifies before it answers

    for transfer in (failed, expired, cancelled):
        transfer.refresh_from_db()
    assert [(t.state, t.fail_reason) for t in (failed, expired, cancelled)] == [
        (TransferState.FAILED, "PAYEE_ACCOUNT_ABNORMAL"),
        (TransferState.CANCELLED, "USER_NOT_CONFIRMED"),
        (TransferState.CANCELLED, "MERCHANT_CANCELLED"),
    ]
    assert hooks == [
        HookCall("failed", failed.out_bill_no, TransferState.FAILED, "收款用户账户异常", True),
        HookCall("failed", expired.out_bill_no, TransferState.CANCELLED, "用户未在规定时间内确认收款，转账已关闭",
                 True),
        HookCall("failed", cancelled.out_bill_no, TransferState.CANCELLED, "商户已撤销转账", True),
    ]
    assert actions(cancelled) == ["created", "wait_user_confirm", "cancel_requested", "cancelled"]
    # the payable may be paid out again now, under a new bill
    again = new_transfer(reference=failed.reference)
    assert again.out_bill_no != failed.out_bill_no
    with pytest.raises(TransferMismatch):
        new_transfer(reference=again.reference, amount_fen=again.amount_fen + 1)


def test_notifies_wechat_never_sent_are_refused_and_change_nothing(mall, sandbox, hooks):
    transfer = new_transfer()
    transfer_submit(transfer)
    sandbox.confirm_transfer(transfer.out_bill_no, notify=False)  # paid at WeChat; its notify comes last
    before = snapshot()

    answers = {kind: sandbox.forge_transfer_notify(transfer.out_bill_no, kind=kind)["deliveries"][0]
               for kind in FORGERIES}

    assert {kind: (400 <= d["status"] < 500, d["acknowledged"]) for kind, d in answers.items()} == {
        kind: (True, False) for kind in FORGERIES}
    assert answers["bad_signature"]["answer"].startswith('{"code": "FAIL", "message": "')
    assert answers["wrong_amount"]["status"] == 409  # genuine in form: WeChat's amount is not ours
    assert snapshot() == before
    assert hooks == []
    # the genuine notify, under the same notification id the forgeries used, still counts
    assert [d["status"] for d in sandbox.transfer_notify(transfer.out_bill_no)["deliveries"]] == [204]
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SUCCEEDED
    assert [call.hook for call in hooks] == ["succeeded"]


def test_a_submit_retried_after_a_timeout_gets_the_same_bill(mall, sandbox, hooks, settings):
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    sandbox.transfer_options(delay_next_seconds=1)  # WeChat creates the bill, the answer comes too late
    transfer = new_transfer()

    with pytest.raises(WechatApiError) as timed_out:
        transfer_submit(transfer)

    assert timed_out.value.errcode == "NETWORK_ERROR"
    transfer.refresh_from_db()
    assert (transfer.state, transfer.attempts) == (TransferState.CREATED, 1)
    assert transfer.last_error.startswith("NETWORK_ERROR")
    assert actions(transfer) == ["created", "submit_error"]
    assert [bill["out_bill_no"] for bill in sandbox.transfers()] == [transfer.out_bill_no]

    # the sweep sends the same out_bill_no again once the resubmit delay has passed
    later = timezone.now() + dt.timedelta(seconds=settings.TRANSFER_RESUBMIT_AFTER_SECONDS + 1)
    counts = transfers_process_due(now=later)

    assert counts == {"submitted": 1, "queried": 0, "errors": 0}
    transfer.refresh_from_db()
    (bill,) = sandbox.transfers()
    assert (transfer.state, transfer.attempts, transfer.last_error) == (TransferState.WAIT_USER_CONFIRM, 2, "")
    assert transfer.package_info == bill["package_info"]
    assert sandbox.stats()["transfer_bills"] == 2


def test_a_transfer_whose_notify_never_arrives_is_settled_by_the_sweeps_query(mall, sandbox, hooks):
    transfer = new_transfer()
    transfer_submit(transfer)
    sandbox.confirm_transfer(transfer.out_bill_no, notify=False)
    soon = timezone.now() + dt.timedelta(minutes=1)
    assert transfers_process_due(now=soon) == {"submitted": 0, "queried": 0, "errors": 0}  # asked too recently

    later = timezone.now() + dt.timedelta(minutes=settings.TRANSFER_QUERY_AFTER_MINUTES + 1)
    counts = transfers_process_due(now=later)

    assert counts == {"submitted": 0, "queried": 1, "errors": 0}
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SUCCEEDED
    assert hooks == [HookCall("succeeded", transfer.out_bill_no, TransferState.SUCCEEDED, "", True)]
    # the late notify is stored, and changes nothing else
    assert [d["status"] for d in sandbox.transfer_notify(transfer.out_bill_no)["deliveries"]] == [204]
    assert list(TransferNotification.objects.values_list("outcome", flat=True)) == ["unchanged"]
    assert len(hooks) == 1
    assert actions(transfer) == ["created", "wait_user_confirm", "succeeded"]


def test_an_accepted_transfer_gets_its_package_once_wechat_asks_the_member(mall, sandbox, hooks):
    sandbox.transfer_options(accept_only_next=1)  # WeChat is still locking the funds
    transfer = new_transfer()

    assert transfer_submit(transfer) == ""

    transfer.refresh_from_db()
    assert transfer.state == TransferState.ACCEPTED
    with pytest.raises(TransferNotConfirmable):
        transfer_confirm_params(transfer)
    sandbox.ready_transfer(transfer.out_bill_no)
    assert transfer_settle_by_query(transfer).state == TransferState.WAIT_USER_CONFIRM  # a query has no package
    package = transfer_submit(transfer)  # the same bill again, now with its package
    assert package == sandbox.transfer(transfer.out_bill_no)["package_info"]
    transfer.refresh_from_db()
    assert transfer_confirm_params(transfer)["package"] == package
    assert actions(transfer) == ["created", "accepted", "wait_user_confirm"]


def test_a_transfer_wechat_refuses_fails_once_with_the_reason(mall, sandbox, hooks):
    sandbox.transfer_options(fail_next=["NOT_ENOUGH"])
    transfer = new_transfer()

    with pytest.raises(TransferRefused) as refused:
        transfer_submit(transfer)

    assert (refused.value.errcode, refused.value.code) == ("NOT_ENOUGH", "transfer_refused")
    transfer.refresh_from_db()
    assert (transfer.state, transfer.fail_reason) == (TransferState.FAILED, "NOT_ENOUGH")
    assert hooks == [HookCall("failed", transfer.out_bill_no, TransferState.FAILED, "商户运营账户资金不足", True)]
    assert sandbox.transfers() == []
    assert transfer_submit(transfer) == ""  # a final transfer is never sent again
    assert sandbox.stats()["transfer_bills"] == 1
