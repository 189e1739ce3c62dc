"""Buying a paid membership card through WeChat Pay, end to end: the member's API creates and pays
the purchase, the sandbox sends the signed notify to the live mall's payment notify URL (the same
one as orders), the payments core hands it to the card, exactly once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import CardPlan, CardPurchase, CardPurchaseStatus, MemberCard, MemberCardPeriod
from payments.errors import AmountMismatch, UnknownTrade
from payments.models import PaymentNotification
from payments.services import payment_record_paid
from tests.fixtures import make_shopper
from wechat.gateway import PaymentNotice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plan(db) -> CardPlan:
    return CardPlan.objects.create(name="体验月卡", price_fen=1990, days=30, discount_percent=95,
                                   points_multiplier=Decimal("1.50"))


def buy(shopper, plan: CardPlan) -> tuple[str, dict]:
    created = shopper.client.post("/api/v1/me/card-purchases", {"plan_id": plan.pk}, format="json")
    assert created.status_code == 201, created.content
    purchase_no = created.json()["purchase_no"]
    paying = shopper.client.post(f"/api/v1/me/card-purchases/{purchase_no}/pay")
    assert paying.status_code == 200, paying.content
    return purchase_no, paying.json()


def test_paying_a_card_through_wechat_activates_it_once_and_a_renewal_extends_it(mall, sandbox, plan):
    shopper = make_shopper()
    purchase_no, params = buy(shopper, plan)
    before = timezone.now()

    paid = sandbox.request_payment(params)  # what wx.requestPayment does: WeChat notifies the mall

    assert [d["acknowledged"] for d in paid["deliveries"]] == [True]
    purchase = CardPurchase.objects.get(purchase_no=purchase_no)
    assert purchase.status == CardPurchaseStatus.PAID
    assert (purchase.paid_fen, purchase.transaction_id) == (1990, sandbox.trade(purchase_no)["transaction_id"])
    card = MemberCard.objects.get(member=shopper.member)
    assert before <= card.starts_at <= timezone.now()
    assert card.ends_at - card.starts_at == dt.timedelta(days=30)
    mine = shopper.client.get("/api/v1/me/card").json()
    assert (mine["active"], mine["card"]["plan_name"], mine["card"]["discount_percent"]) == (True, "体验月卡", 95)
    notification = PaymentNotification.objects.get(out_trade_no=purchase_no)
    assert notification.outcome == "card_paid"

    # WeChat repeats its notify, twice in a row and three times at once: nothing changes
    again = sandbox.notify(purchase_no, times=2)
    racing = sandbox.notify(purchase_no, times=3, concurrent=True)

    assert [d["acknowledged"] for d in again["deliveries"] + racing["deliveries"]] == [True] * 5
    assert PaymentNotification.objects.filter(out_trade_no=purchase_no).count() == 1
    assert MemberCardPeriod.objects.filter(member=shopper.member).count() == 1
    assert MemberCard.objects.get(member=shopper.member).ends_at == card.ends_at

    # renewing while the card is active extends it from its current end, not from today
    renewal_no, renewal_params = buy(shopper, plan)
    sandbox.request_payment(renewal_params)

    renewed = MemberCard.objects.get(member=shopper.member)
    assert (renewed.starts_at, renewed.ends_at) == (card.starts_at, card.ends_at + dt.timedelta(days=30))
    periods = list(MemberCardPeriod.objects.filter(member=shopper.member).order_by("id")
                   .values_list("purchase__purchase_no", "renewal", "starts_at", "ends_at"))
    assert periods == [(purchase_no, False, card.starts_at, card.ends_at),
                       (renewal_no, True, card.ends_at, card.ends_at + dt.timedelta(days=30))]


@pytest.mark.parametrize("kind", ["wrong_amount", "bad_sign", "other_mch_id"])
def test_a_forged_or_mismatched_card_notify_gets_fail_and_changes_nothing(mall, sandbox, plan, kind):
    shopper = make_shopper()
    purchase_no, _ = buy(shopper, plan)

    result = sandbox.forge_notify(purchase_no, kind=kind)

    delivery = result["deliveries"][-1]
    assert (delivery["acknowledged"], delivery["status"]) == (False, 400)
    assert "<return_code><![CDATA[FAIL]]></return_code>" in delivery["answer"]
    assert CardPurchase.objects.get(purchase_no=purchase_no).status == CardPurchaseStatus.PENDING
    assert not MemberCard.objects.exists()
    assert not PaymentNotification.objects.exists()


def test_an_unknown_card_purchase_or_another_amount_is_refused_like_an_order(mall, sandbox, plan):
    shopper = make_shopper()
    purchase_no, _ = buy(shopper, plan)
    now = timezone.now()

    def notice(out_trade_no: str, amount_fen: int) -> PaymentNotice:
        return PaymentNotice(out_trade_no=out_trade_no, transaction_id="4200000000009999", amount_fen=amount_fen,
                             paid_at=now, raw="")

    with pytest.raises(UnknownTrade):
        payment_record_paid(notice=notice("MC202601010000000000", 1990), source="notify")
    with pytest.raises(AmountMismatch):
        payment_record_paid(notice=notice(purchase_no, 1), source="notify")

    assert CardPurchase.objects.get(purchase_no=purchase_no).status == CardPurchaseStatus.PENDING
    assert not MemberCard.objects.exists()
    assert not PaymentNotification.objects.exists()
