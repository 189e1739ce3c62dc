"""Transfers without WeChat: the transition table, what transfer_create refuses and repeats, the
registry of transfer kinds, the mini-program's confirmation parameters, and a notify refused at
the door."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from payments.errors import InvalidTransfer, TransferMismatch, TransferNotConfirmable
from payments.models import TRANSFER_MACHINE, Transfer, TransferEvent, TransferNotification, TransferState
from payments.registry import UnknownTransferKind, register_transfer_kind, transfer_kind
from payments.services import transfer_confirm_params, transfer_create
from tests.payments.payouts import KIND, PAYEE, new_transfer

pytestmark = pytest.mark.django_db

CREATED, ACCEPTED, WAITING = TransferState.CREATED, TransferState.ACCEPTED, TransferState.WAIT_USER_CONFIRM
FINAL = {TransferState.SUCCEEDED, TransferState.FAILED, TransferState.CANCELLED}


def test_the_transition_table_ends_in_three_final_states_that_never_change():
    assert {state: set(TRANSFER_MACHINE.targets(state)) for state in TransferState} == {
        CREATED: {ACCEPTED, WAITING, *FINAL},
        ACCEPTED: {WAITING, *FINAL},
        WAITING: FINAL,
        TransferState.SUCCEEDED: set(),
        TransferState.FAILED: set(),
        TransferState.CANCELLED: set(),
    }


def test_a_step_back_is_ignored_and_a_repeat_is_a_no_op():
    transfer = new_transfer()
    with transaction.atomic():
        TRANSFER_MACHINE.transition(pk=transfer.pk, to=WAITING, action=TransferEvent.Action.WAIT_USER_CONFIRM)
        _, back = TRANSFER_MACHINE.transition(pk=transfer.pk, to=ACCEPTED, action=TransferEvent.Action.ACCEPTED)
        _, again = TRANSFER_MACHINE.transition(pk=transfer.pk, to=WAITING,
                                               action=TransferEvent.Action.WAIT_USER_CONFIRM)

    transfer.refresh_from_db()
    assert (transfer.state, back, again) == (WAITING, False, False)
    assert list(transfer.events.values_list("action", flat=True)) == ["created", "wait_user_confirm"]


def test_a_transfer_is_created_once_per_payable_while_it_lives():
    first = new_transfer(reference="W-REPEAT", amount_fen=500)

    again = new_transfer(reference="W-REPEAT", amount_fen=500)

    assert again.pk == first.pk
    assert (first.kind, first.openid, first.state, first.scene_id) == (KIND, PAYEE, CREATED, "1005")
    assert first.out_bill_no.startswith("TB") and first.out_bill_no.isalnum() and len(first.out_bill_no) == 24
    assert first.report_infos == [["岗位类型", "推广员"], ["报酬说明", "佣金提现"]]
    with pytest.raises(TransferMismatch):
        new_transfer(reference="W-REPEAT", amount_fen=501)
    assert Transfer.objects.count() == 1
    assert list(first.events.values_list("action", "from_status", "to_status")) == [("created", "", CREATED)]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"amount_fen": 0}, "转账金额必须大于0"),
    ({"remark": "备" * 33}, "转账备注须为1至32个字符"),
    ({"remark": ""}, "转账备注须为1至32个字符"),
    ({"amount_fen": 2000_00}, "单笔转账满2000元须提供收款用户的真实姓名"),
], ids=["no-amount", "long-remark", "no-remark", "no-name-from-2000"])
def test_bad_input_is_refused_and_writes_nothing(overrides, message):
    arguments = {"kind": KIND, "reference": "W-BAD", "openid": PAYEE, "amount_fen": 100, "remark": "佣金提现",
                 **overrides}

    with pytest.raises(InvalidTransfer) as refused, transaction.atomic():
        transfer_create(**arguments)

    assert (refused.value.code, refused.value.message) == ("invalid_transfer", message)
    assert not Transfer.objects.exists()
    assert not TransferEvent.objects.exists()


def test_an_unregistered_kind_is_refused():
    with pytest.raises(UnknownTransferKind), transaction.atomic():
        transfer_create(kind="nobody", reference="W-1", openid=PAYEE, amount_fen=100, remark="佣金提现")

    assert not Transfer.objects.exists()


def test_a_kind_registers_once():
    registered = transfer_kind(KIND)

    register_transfer_kind(KIND, registered.on_succeeded, registered.on_failed, label="测试提现")  # the same: no-op

    with pytest.raises(ValueError, match="already registered"):
        register_transfer_kind(KIND, registered.on_succeeded, lambda transfer, reason: None)
    with pytest.raises(ValueError, match="longer than"):
        register_transfer_kind("k" * 17, registered.on_succeeded, registered.on_failed)
    assert transfer_kind(KIND) == registered


def test_only_a_transfer_waiting_with_its_package_can_be_confirmed():
    transfer = new_transfer()
    with pytest.raises(TransferNotConfirmable):
        transfer_confirm_params(transfer)

    Transfer.objects.filter(pk=transfer.pk).update(state=WAITING, package_info="cGFja2FnZQ==")
    transfer.refresh_from_db()

    assert transfer_confirm_params(transfer) == {"mchId": settings.WECHAT_MCH_ID, "appId": settings.WECHAT_APP_ID,
                                                 "package": "cGFja2FnZQ=="}


def test_a_notify_that_is_not_wechats_is_answered_fail_and_changes_nothing(wechat_sandbox, api_client):
    transfer = new_transfer()

    response = api_client.post(reverse("payment-wechat-transfer-notify"), data=b'{"id": "EV-1", "resource": {}}',
                               content_type="application/json", HTTP_WECHATPAY_SERIAL="PUB_KEY_ID_FORGED",
                               HTTP_WECHATPAY_SIGNATURE="c2lnbmF0dXJl", HTTP_WECHATPAY_NONCE="n",
                               HTTP_WECHATPAY_TIMESTAMP="1700000000")

    assert response.status_code == 400
    assert response.json() == {"code": "FAIL", "message": "支付通知校验失败"}
    transfer.refresh_from_db()
    assert transfer.state == CREATED
    assert not TransferNotification.objects.exists()
