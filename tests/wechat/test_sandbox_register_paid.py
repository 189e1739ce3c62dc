"""POST /sandbox/trades: trades paid before the sandbox started become known to it, as paid."""

from __future__ import annotations

import pytest

from wechat.sandbox.client import SandboxRefused

pytestmark = pytest.mark.django_db


def paid(out_trade_no: str = "M20250101000001", transaction_id: str = "4200M20250101000001", **changes) -> dict:
    trade = {"out_trade_no": out_trade_no, "transaction_id": transaction_id, "total_fee": 12900,
             "openid": "demo_openid_01", "time_end": "20250101120000"}
    trade.update(changes)
    return trade


def test_a_registered_trade_is_a_paid_trade(control):
    assert control.register_paid_trades([paid()]) == {"registered": 1, "known": 0}

    trade = control.trade("M20250101000001")
    assert (trade["state"], trade["transaction_id"], trade["total_fee"], trade["openid"], trade["time_end"]) == (
        "SUCCESS", "4200M20250101000001", 12900, "demo_openid_01", "20250101120000")
    with pytest.raises(SandboxRefused) as refused:
        control.pay("M20250101000001")
    assert refused.value.code == "ORDERPAID"


def test_a_trade_the_sandbox_holds_stays_as_it_is(control, prepaid):
    out_trade_no = prepaid(out_trade_no="M20250101000002")

    answer = control.register_paid_trades([paid("M20250101000002", "4200M20250101000002"), paid()])

    assert answer == {"registered": 1, "known": 1}
    assert control.trade(out_trade_no)["state"] == "NOTPAY"
    assert control.register_paid_trades([paid()]) == {"registered": 0, "known": 1}


@pytest.mark.parametrize("bad", [
    {"total_fee": 0}, {"total_fee": "12900"}, {"total_fee": True}, {"openid": ""}, {"transaction_id": None},
    {"time_end": "2025-01-01"}, {"body": 3},
])
def test_one_invalid_entry_registers_nothing(control, bad):
    with pytest.raises(SandboxRefused) as refused:
        control.register_paid_trades([paid("M20250101000003", "4200M20250101000003"), paid(**bad)])

    assert (refused.value.status, refused.value.code) == (400, "INVALID_ARGUMENT")
    assert control.trades() == []


def test_a_transaction_id_belongs_to_one_trade(control):
    with pytest.raises(SandboxRefused) as refused:
        control.register_paid_trades([paid("M20250101000004", "4200X"), paid("M20250101000005", "4200X")])

    assert (refused.value.status, refused.value.code) == (409, "TRANSACTION_ID_TAKEN")
    assert control.trades() == []
