"""The payments core's use cases, imported from here by every caller
(`from payments.services import payment_prepay, transfer_create`):

- trades, money in (payments.services.trades): prepay, notify, settle by query, for every
  payable kind;
- transfers, money out (payments.services.transfers): WeChat Pay 商家转账 for every transfer kind.
"""

from payments.services.trades import (
    SOURCE_NOTIFY,
    SOURCE_QUERY,
    NotifyOutcome,
    payment_gateway,
    payment_handle_notify,
    payment_notify_url,
    payment_prepay,
    payment_record_paid,
    payment_settle_by_query,
)
from payments.services.transfers import (
    transfer_cancel,
    transfer_confirm_params,
    transfer_create,
    transfer_gateway,
    transfer_handle_notify,
    transfer_notify_url,
    transfer_settle_by_query,
    transfer_submit,
    transfers_process_due,
)

__all__ = [
    "SOURCE_NOTIFY",
    "SOURCE_QUERY",
    "NotifyOutcome",
    "payment_gateway",
    "payment_handle_notify",
    "payment_notify_url",
    "payment_prepay",
    "payment_record_paid",
    "payment_settle_by_query",
    "transfer_cancel",
    "transfer_confirm_params",
    "transfer_create",
    "transfer_gateway",
    "transfer_handle_notify",
    "transfer_notify_url",
    "transfer_settle_by_query",
    "transfer_submit",
    "transfers_process_due",
]
