"""What the local WeChat sandbox must know for `make run`: the mall's paid order trades.

The sandbox stands for WeChat but keeps its trades in its process's memory, and the demo's
payments never went through it (the loader records them as a verified notify would). WeChat
would still hold every trade it was paid for, so once the sandbox listens the run script tells
it of each order trade our database records as paid — the demo's, and those paid through an
earlier run's sandbox. Then what WeChat does with a paid trade works on them: the shipping-info
upload when an operator ships (10060001 支付单不存在 otherwise), order queries, refunds.

The sandbox never reads our database; this module reads it and calls the sandbox's control
endpoint, as a test would.
"""

from __future__ import annotations

from typing import Any

from payments.models import Payment, PaymentStatus
from shop.models import ORDER_PAYABLE_KIND, Order
from wechat.sandbox.client import SandboxControl
from wechat.sandbox.wire import format_time


def paid_order_trades() -> list[dict[str, Any]]:
    """Every paid order trade as the sandbox's POST /sandbox/trades takes it, payer included."""
    payments = list(
        Payment.objects.filter(kind=ORDER_PAYABLE_KIND, status=PaymentStatus.PAID, transaction_id__isnull=False)
        .exclude(transaction_id="").order_by("id")
        .values("out_trade_no", "transaction_id", "amount_fen", "paid_at")
    )
    payers = dict(Order.objects.filter(order_no__in=[p["out_trade_no"] for p in payments])
                  .values_list("order_no", "member__openid"))
    return [
        {
            "out_trade_no": payment["out_trade_no"],
            "transaction_id": payment["transaction_id"],
            "total_fee": payment["amount_fen"],
            "openid": payers[payment["out_trade_no"]],
            "time_end": format_time(payment["paid_at"]) if payment["paid_at"] else "",
        }
        for payment in payments
        if payers.get(payment["out_trade_no"])
    ]


def sandbox_register_paid_orders(sandbox_base_url: str, trades: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Tell the sandbox at `sandbox_base_url` of the paid order trades (`paid_order_trades()` by
    default). Trades it already holds stay as they are: {"registered": n, "known": m}."""
    if trades is None:
        trades = paid_order_trades()
    return SandboxControl(sandbox_base_url).register_paid_trades(trades)
