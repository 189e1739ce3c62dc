"""The console's 转账单: read-only, filtered by state, each with its audit trail; 查询 asks WeChat (the
sandbox) and records its answer through the same service as the sweep."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import Transfer, TransferState
from payments.services import transfer_submit
from tests.admin.support_pages import page
from tests.payments.payouts import HookCall, new_transfer

pytestmark = pytest.mark.django_db


def test_query_settles_the_selected_transfers_and_the_trail_shows_it(admin_client, sandbox, hooks):
    paid, waiting = new_transfer(amount_fen=88_00), new_transfer(amount_fen=66_00)
    for transfer in (paid, waiting):
        transfer_submit(transfer)
    sandbox.confirm_transfer(paid.out_bill_no, notify=False)  # the notify is lost
    changelist = reverse("admin:payments_transfer_changelist")

    response = admin_client.post(changelist, {"action": "settle_by_query_selected",
                                              "_selected_action": [paid.pk, waiting.pk]}, follow=True)

    assert "已查询 2 笔，1 笔状态已更新" in page(response)
    assert dict(Transfer.objects.values_list("out_bill_no", "state")) == {
        paid.out_bill_no: TransferState.SUCCEEDED, waiting.out_bill_no: TransferState.WAIT_USER_CONFIRM}
    assert hooks == [HookCall("succeeded", paid.out_bill_no, TransferState.SUCCEEDED, "", True)]
    listed = page(admin_client.get(changelist, {"state__exact": "succeeded"}))
    assert paid.out_bill_no in listed and waiting.out_bill_no not in listed
    assert "¥88.00" in listed and "测试提现" in listed
    detail = page(admin_client.get(reverse("admin:payments_transfer_change", args=[paid.pk])))
    for text in ("创建转账单", "待用户确认收款", "转账成功", "待提交 → 待用户确认", "待用户确认 → 已到账", "微信支付"):
        assert text in detail
    assert 'name="_save"' not in detail  # read-only
