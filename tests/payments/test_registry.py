"""The registry of payable kinds: shop and members register theirs at start-up; a trade can only be
made for a registered kind, and a trade number belongs to one kind and amount."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from members.services.cards import CARD_PAYABLE
from payments.errors import TradeMismatch
from payments.models import Payment
from payments.registry import PayableKind, UnknownPayableKind, payable_kind, payable_kind_register, payable_kinds
from payments.services import payment_prepay
from shop.services.payments import ORDER_PAYABLE


def test_shop_and_members_register_their_kinds_at_start_up():
    assert payable_kind("order") is ORDER_PAYABLE
    assert payable_kind("card") is CARD_PAYABLE
    assert {(k.slug, k.label) for k in payable_kinds()} >= {("order", "订单"), ("card", "付费会员卡")}
    with pytest.raises(UnknownPayableKind):
        payable_kind("gift_card")


def test_a_taken_slug_cannot_be_registered_again_by_someone_else():
    payable_kind_register(ORDER_PAYABLE)  # the same registration again: a no-op

    with pytest.raises(ValueError, match="already registered"):
        payable_kind_register(PayableKind(slug="order", label="别的订单", on_paid=ORDER_PAYABLE.on_paid))
    assert payable_kind("order") is ORDER_PAYABLE


def prepay(kind: str, out_trade_no: str, amount_fen: int) -> None:
    payment_prepay(kind=kind, out_trade_no=out_trade_no, amount_fen=amount_fen, description="测试",
                   openid="o-test", client_ip="203.0.113.9", expires_at=timezone.now() + dt.timedelta(minutes=5))


def test_a_trade_of_an_unknown_kind_or_for_another_payable_is_refused_before_wechat_is_asked(db, sandbox):
    Payment.objects.create(kind="order", out_trade_no="2026051000000001", amount_fen=19800)

    with pytest.raises(UnknownPayableKind):
        prepay("gift_card", "GC0001", 100)
    with pytest.raises(TradeMismatch):
        prepay("card", "2026051000000001", 19800)
    with pytest.raises(TradeMismatch):
        prepay("order", "2026051000000001", 100)

    assert list(Payment.objects.values_list("kind", "out_trade_no", "amount_fen", "prepay_id")) == [
        ("order", "2026051000000001", 19800, "")]
    assert sandbox.stats().get("unifiedorder", 0) == 0
