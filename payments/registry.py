"""Payable kinds and transfer kinds: what the payments core needs to know about each kind of thing
that can be paid (money in) or paid out (money out, WeChat Pay 商家转账).

payments sits below the apps that sell (shop's orders, members' paid cards, later group-buy
orders…) and imports none of them. Each of those apps registers its kind once, from its own
`AppConfig.ready()`, with plain values and a function; `Payment.kind` names the registration.
Explicit calls, no signals: `payment_record_paid()` looks the kind up and calls `on_paid`.

What a kind does not need to provide: the amount check. A trade's amount is copied from the
payable when the kind's prepay creates the Payment row (`payment_prepay(amount_fen=...)`), and
every word from WeChat is checked against that row before any kind is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from wechat.gateway import PaymentNotice

if TYPE_CHECKING:
    from payments.models import Transfer


class OnPaid(Protocol):
    def __call__(self, *, notice: PaymentNotice, source: str) -> str: ...


@dataclass(frozen=True)
class PayableKind:
    """One kind of payable.

    - `slug`: the value of `Payment.kind` ("order", "card"); at most 16 characters.
    - `label`: what the console calls it ("订单", "付费会员卡").
    - `on_paid(notice=..., source=...)`: what happens when WeChat says a trade of this kind was
      paid. Called exactly once per trade, inside the payment's durable transaction, after the
      Payment row is locked and moved to paid and the notification is stored; it may lock the
      payable's own rows (the lock order: payment first). Returns the outcome stored on the
      notification ("paid", "revived", "card_paid"…). Raising rolls the whole payment back.
    - `console_url(out_trade_no)`: the payable's page in the console, for the payment's page.
    """

    slug: str
    label: str
    on_paid: OnPaid
    console_url: Callable[[str], str] | None = None


class UnknownPayableKind(LookupError):
    """A trade names a kind no app registered: a deployment or programming error, not input."""


_KINDS: dict[str, PayableKind] = {}


def payable_kind_register(kind: PayableKind) -> None:
    """Register a payable kind (from the owning app's AppConfig.ready()).

    Registering the same kind again is a no-op; another registration under a taken slug raises.
    """
    if len(kind.slug) > 16:
        raise ValueError(f"payable kind slug {kind.slug!r} is longer than Payment.kind allows")
    existing = _KINDS.get(kind.slug)
    if existing is not None and existing != kind:
        raise ValueError(f"payable kind {kind.slug!r} is already registered")
    _KINDS[kind.slug] = kind


def payable_kind(slug: str) -> PayableKind:
    """The registered kind `slug`; UnknownPayableKind if no app registered it."""
    try:
        return _KINDS[slug]
    except KeyError:
        raise UnknownPayableKind(f"no payable kind {slug!r} is registered") from None


def payable_kinds() -> list[PayableKind]:
    """Every registered kind, in registration order."""
    return list(_KINDS.values())


# --- transfer kinds (payouts) ----------------------------------------------------------------------


@dataclass(frozen=True)
class TransferKind:
    """One kind of payout (a distributor's withdrawal…), registered by the app that owns the payee.

    - `slug`: the value of `Transfer.kind`; at most 16 characters.
    - `on_succeeded(transfer)`: the money reached the member. Called exactly once per transfer,
      inside the durable transaction that moves it to succeeded, after the Transfer row is locked
      (the lock order: transfer first, then the kind's own rows). Raising rolls it all back.
    - `on_failed(transfer, reason)`: the transfer ended without paying (failed at WeChat,
      cancelled, or never confirmed by the member until it expired); `reason` is Chinese for
      people (the code is `transfer.fail_reason`). Called exactly once, the same way.
    - `label`: what the console calls it ("分销提现").
    """

    slug: str
    on_succeeded: Callable[[Transfer], None]
    on_failed: Callable[[Transfer, str], None]
    label: str = ""


class UnknownTransferKind(LookupError):
    """A transfer names a kind no app registered: a deployment or programming error, not input."""


_TRANSFER_KINDS: dict[str, TransferKind] = {}


def register_transfer_kind(kind: str, on_succeeded: Callable[[Transfer], None],
                           on_failed: Callable[[Transfer, str], None], *, label: str = "") -> None:
    """Register a transfer kind (from the owning app's AppConfig.ready()).

    Registering the same kind with the same functions again is a no-op; another registration under
    a taken slug raises.
    """
    if len(kind) > 16:
        raise ValueError(f"transfer kind slug {kind!r} is longer than Transfer.kind allows")
    registration = TransferKind(slug=kind, on_succeeded=on_succeeded, on_failed=on_failed, label=label or kind)
    existing = _TRANSFER_KINDS.get(kind)
    if existing is not None and existing != registration:
        raise ValueError(f"transfer kind {kind!r} is already registered")
    _TRANSFER_KINDS[kind] = registration


def transfer_kind(slug: str) -> TransferKind:
    """The registered transfer kind `slug`; UnknownTransferKind if no app registered it."""
    try:
        return _TRANSFER_KINDS[slug]
    except KeyError:
        raise UnknownTransferKind(f"no transfer kind {slug!r} is registered") from None


def transfer_kinds() -> list[TransferKind]:
    """Every registered transfer kind, in registration order."""
    return list(_TRANSFER_KINDS.values())
