"""Paid cards: buying, paying through the WeChat sandbox, extending the card exactly once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.errors import (
    CardPlanNotFound,
    CardPurchaseAmountMismatch,
    CardPurchaseExpired,
    CardPurchaseNotFound,
    CardPurchaseNotPayable,
)
from members.models import (
    CardPlan,
    CardPurchase,
    CardPurchaseEvent,
    CardPurchaseStatus,
    Member,
    MemberCard,
    MemberCardPeriod,
)
from members.services.cards import (
    card_purchase_cancel,
    card_purchase_create,
    card_purchase_mark_paid,
    card_purchase_prepay,
    card_purchases_cancel_expired,
    member_card_active,
)
from payments.models import Payment
from payments.services import payment_settle_by_query
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory
from tests.fixtures import make_shopper

T0 = dt.datetime(2026, 5, 10, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai
DAY = dt.timedelta(days=1)


@pytest.fixture
def monthly(db) -> CardPlan:
    return CardPlan.objects.create(name="测试月卡", price_fen=1990, days=31, discount_percent=95,
                                   points_multiplier=Decimal("1.50"), monthly_gift_pack=True)


@pytest.fixture
def yearly(db) -> CardPlan:
    return CardPlan.objects.create(name="测试年卡", price_fen=16800, days=366, discount_percent=90,
                                   points_multiplier=Decimal("2.00"))


@pytest.fixture
def member(db) -> Member:
    return MemberFactory.create()


def pay(purchase: CardPurchase, *, at: dt.datetime, now: dt.datetime | None = None, txn: str | None = None,
        paid_fen: int | None = None) -> MemberCard:
    return card_purchase_mark_paid(purchase_no=purchase.purchase_no, paid_fen=paid_fen or purchase.amount_fen,
                                   transaction_id=txn or f"42000{purchase.pk:010d}", paid_at=at, now=now or at)


def card_of(member: Member) -> tuple[str, dt.datetime, dt.datetime]:
    card = MemberCard.objects.select_related("plan").get(member=member)
    return card.plan.name, card.starts_at, card.ends_at


# --- buying --------------------------------------------------------------------------------------


def test_a_purchase_copies_the_plan_and_is_payable_for_30_minutes(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)

    assert purchase.purchase_no.startswith("MC20260510") and len(purchase.purchase_no) == 20
    assert (purchase.status, purchase.amount_fen, purchase.days, purchase.plan_name) == (
        CardPurchaseStatus.PENDING, 1990, 31, "测试月卡")
    assert purchase.expires_at == T0 + dt.timedelta(minutes=30)


def test_an_inactive_or_unknown_plan_cannot_be_bought(member, monthly):
    CardPlan.objects.filter(pk=monthly.pk).update(is_active=False)
    for plan_id in (monthly.pk, 10**12):
        with pytest.raises(CardPlanNotFound):
            card_purchase_create(member=member, plan_id=plan_id)
    assert not CardPurchase.objects.exists()


# --- paying ---------------------------------------------------------------------------------------


def test_the_first_payment_opens_the_card_with_its_history_and_audit(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)

    card = pay(purchase, at=T0 + dt.timedelta(minutes=5))

    start = T0 + dt.timedelta(minutes=5)
    assert card_of(member) == ("测试月卡", start, start + 31 * DAY)
    assert card.pk == MemberCard.objects.get(member=member).pk
    purchase.refresh_from_db()
    assert (purchase.status, purchase.paid_fen, purchase.transaction_id) == (
        CardPurchaseStatus.PAID, 1990, f"42000{purchase.pk:010d}")
    period = MemberCardPeriod.objects.get(purchase=purchase)
    assert (period.starts_at, period.ends_at, period.renewal) == (start, start + 31 * DAY, False)
    assert list(CardPurchaseEvent.objects.filter(purchase=purchase).values_list("from_status", "to_status")) == [
        (CardPurchaseStatus.PENDING, CardPurchaseStatus.PAID)]


def test_a_repeated_payment_notice_extends_nothing(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)
    pay(purchase, at=T0)
    before = card_of(member)

    again = pay(purchase, at=T0 + DAY, now=T0 + DAY)

    assert card_of(member) == before
    assert again.ends_at == before[2]
    assert MemberCardPeriod.objects.filter(member=member).count() == 1
    assert CardPurchaseEvent.objects.filter(purchase=purchase).count() == 1


def test_renewing_while_active_extends_from_the_current_end_and_keeps_the_start(member, monthly, yearly):
    pay(card_purchase_create(member=member, plan_id=monthly.pk, now=T0), at=T0)
    renewal = card_purchase_create(member=member, plan_id=yearly.pk, now=T0 + 20 * DAY)

    pay(renewal, at=T0 + 20 * DAY)

    assert card_of(member) == ("测试年卡", T0, T0 + (31 + 366) * DAY)
    period = MemberCardPeriod.objects.get(purchase=renewal)
    assert (period.starts_at, period.ends_at, period.renewal) == (T0 + 31 * DAY, T0 + 397 * DAY, True)


def test_buying_after_the_card_lapsed_starts_a_new_run_from_now(member, monthly):
    pay(card_purchase_create(member=member, plan_id=monthly.pk, now=T0), at=T0)
    later = T0 + 40 * DAY
    again = card_purchase_create(member=member, plan_id=monthly.pk, now=later)

    pay(again, at=later)

    assert card_of(member) == ("测试月卡", later, later + 31 * DAY)
    assert MemberCardPeriod.objects.get(purchase=again).renewal is False


def test_a_late_notice_for_a_payment_made_while_active_still_extends_without_a_gap(member, monthly):
    pay(card_purchase_create(member=member, plan_id=monthly.pk, now=T0), at=T0)
    renewal = card_purchase_create(member=member, plan_id=monthly.pk, now=T0 + 30 * DAY)

    # Paid a day before the end; WeChat's word arrives two days after it.
    pay(renewal, at=T0 + 30 * DAY, now=T0 + 33 * DAY)

    assert card_of(member) == ("测试月卡", T0, T0 + 62 * DAY)


def test_a_cancelled_purchase_paid_late_still_gives_the_card(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)
    card_purchase_cancel(purchase_no=purchase.purchase_no, note="超时", now=T0 + dt.timedelta(minutes=31))

    pay(purchase, at=T0 + dt.timedelta(minutes=32))

    purchase.refresh_from_db()
    assert purchase.status == CardPurchaseStatus.PAID
    assert list(CardPurchaseEvent.objects.filter(purchase=purchase).values_list("to_status", flat=True)) == [
        CardPurchaseStatus.CANCELLED, CardPurchaseStatus.PAID]
    assert MemberCard.objects.filter(member=member).exists()


def test_cancelling_a_paid_purchase_changes_nothing(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)
    pay(purchase, at=T0)
    result = card_purchase_cancel(purchase_no=purchase.purchase_no, note="超时")
    assert result.status == CardPurchaseStatus.PAID
    assert CardPurchaseEvent.objects.filter(purchase=purchase).count() == 1


def test_a_wrong_amount_or_an_unknown_number_changes_nothing(member, monthly):
    purchase = card_purchase_create(member=member, plan_id=monthly.pk, now=T0)

    with pytest.raises(CardPurchaseAmountMismatch):
        pay(purchase, at=T0, paid_fen=1)
    with pytest.raises(CardPurchaseNotFound):
        card_purchase_mark_paid(purchase_no="MC000", paid_fen=1990, transaction_id="x", paid_at=T0)

    purchase.refresh_from_db()
    assert purchase.status == CardPurchaseStatus.PENDING
    assert not MemberCard.objects.exists()
    assert not CardPurchaseEvent.objects.exists()


def test_the_active_card_is_active_from_its_start_until_just_before_its_end(member, monthly):
    pay(card_purchase_create(member=member, plan_id=monthly.pk, now=T0), at=T0)
    end = T0 + 31 * DAY

    states = [member_card_active(member_id=member.pk, at=t) for t in
              (T0 - dt.timedelta(seconds=1), T0, end - dt.timedelta(seconds=1), end)]

    assert [s is not None for s in states] == [False, True, True, False]
    active = states[1]
    assert active is not None
    assert (active.plan_name, active.discount_percent, active.points_multiplier, active.monthly_gift_pack) == (
        "测试月卡", 95, Decimal("1.50"), True)


# --- concurrency -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_notices_for_one_purchase_extend_the_card_once():
    plan = CardPlan.objects.create(name="并发月卡", price_fen=1990, days=31)
    member = MemberFactory.create()
    pay(card_purchase_create(member=member, plan_id=plan.pk, now=T0), at=T0)
    renewal = card_purchase_create(member=member, plan_id=plan.pk, now=T0 + DAY)

    results = run_concurrently(lambda i: pay(renewal, at=T0 + DAY), 4)

    assert all(isinstance(r, MemberCard) for r in results), results
    assert card_of(member) == ("并发月卡", T0, T0 + 62 * DAY)
    assert MemberCardPeriod.objects.filter(member=member).count() == 2
    assert CardPurchaseEvent.objects.filter(purchase=renewal).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_purchases_paid_at_once_for_a_member_without_a_card_both_count():
    plan = CardPlan.objects.create(name="并发季卡", price_fen=4990, days=92)
    member = MemberFactory.create()
    purchases = [card_purchase_create(member=member, plan_id=plan.pk, now=T0) for _ in range(2)]

    results = run_concurrently(lambda i: pay(purchases[i], at=T0), 2)

    assert all(isinstance(r, MemberCard) for r in results), results
    assert card_of(member) == ("并发季卡", T0, T0 + 184 * DAY)
    assert sorted(MemberCardPeriod.objects.filter(member=member).values_list("renewal", flat=True)) == [False, True]


# --- WeChat Pay (the sandbox) ------------------------------------------------------------------------------


def test_prepay_gives_request_payment_params_and_a_paid_trade_is_recorded_by_query(sandbox, monthly):
    shopper = make_shopper()
    purchase = card_purchase_create(member=shopper.member, plan_id=monthly.pk)

    result = card_purchase_prepay(member=shopper.member, purchase_no=purchase.purchase_no, client_ip="10.0.0.1")
    again = card_purchase_prepay(member=shopper.member, purchase_no=purchase.purchase_no, client_ip="10.0.0.1")
    sandbox.request_payment(result.request_payment, notify=False)  # the phone pays; the notify is lost

    assert result.request_payment["package"] == again.request_payment["package"] == f"prepay_id={result.prepay_id}"
    assert sandbox.trade(purchase.purchase_no)["total_fee"] == 1990
    assert payment_settle_by_query(out_trade_no=purchase.purchase_no) is True
    purchase.refresh_from_db()
    assert purchase.status == CardPurchaseStatus.PAID
    assert purchase.transaction_id == sandbox.trade(purchase.purchase_no)["transaction_id"]
    assert member_card_active(member_id=shopper.member.pk, at=timezone.now()) is not None


def test_prepay_refuses_another_members_a_paid_and_an_expired_purchase(sandbox, member, monthly):
    other = MemberFactory.create()
    fresh = card_purchase_create(member=member, plan_id=monthly.pk)
    paid = card_purchase_create(member=member, plan_id=monthly.pk)
    pay(paid, at=timezone.now())
    old = card_purchase_create(member=member, plan_id=monthly.pk, now=timezone.now() - dt.timedelta(hours=1))

    with pytest.raises(CardPurchaseNotFound):
        card_purchase_prepay(member=other, purchase_no=fresh.purchase_no, client_ip="10.0.0.1")
    with pytest.raises(CardPurchaseNotPayable):
        card_purchase_prepay(member=member, purchase_no=paid.purchase_no, client_ip="10.0.0.1")
    with pytest.raises(CardPurchaseExpired):
        card_purchase_prepay(member=member, purchase_no=old.purchase_no, client_ip="10.0.0.1")
    assert sandbox.trades() == []


def test_the_housekeeping_job_records_paid_trades_and_cancels_the_rest(sandbox, monthly):
    shopper = make_shopper()
    past = timezone.now() - dt.timedelta(hours=1)
    never_paid = card_purchase_create(member=shopper.member, plan_id=monthly.pk, now=past)
    prepaid = card_purchase_create(member=shopper.member, plan_id=monthly.pk, now=past)
    paid_quietly = card_purchase_create(member=shopper.member, plan_id=monthly.pk, now=past)
    fresh = card_purchase_create(member=shopper.member, plan_id=monthly.pk)
    for purchase in (prepaid, paid_quietly):
        CardPurchase.objects.filter(pk=purchase.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=5))
        card_purchase_prepay(member=shopper.member, purchase_no=purchase.purchase_no, client_ip="10.0.0.1")
        CardPurchase.objects.filter(pk=purchase.pk).update(expires_at=past + dt.timedelta(minutes=30))
    sandbox.pay(paid_quietly.purchase_no, notify=False)

    counts = card_purchases_cancel_expired()
    again = card_purchases_cancel_expired()

    assert counts == {"cancelled": 2, "paid": 1, "failed": 0}
    assert again == {"cancelled": 0, "paid": 0, "failed": 0}
    statuses = {p.pk: p.status for p in CardPurchase.objects.all()}
    assert statuses == {never_paid.pk: "cancelled", prepaid.pk: "cancelled", paid_quietly.pk: "paid",
                        fresh.pk: "pending"}
    assert sandbox.trade(prepaid.purchase_no)["state"] == "CLOSED"


# --- the API -------------------------------------------------------------------------------------------------


def test_api_plans_purchase_pay_and_my_card(sandbox, monthly, yearly):
    CardPlan.objects.filter(pk=yearly.pk).update(is_active=False)
    shopper = make_shopper()

    plans = shopper.client.get("/api/v1/card-plans")
    empty = shopper.client.get("/api/v1/me/card")
    created = shopper.client.post("/api/v1/me/card-purchases", {"plan_id": monthly.pk}, format="json")
    purchase_no = created.json()["purchase_no"]
    paid = shopper.client.post(f"/api/v1/me/card-purchases/{purchase_no}/pay")
    pay(CardPurchase.objects.get(purchase_no=purchase_no), at=timezone.now())
    detail = shopper.client.get(f"/api/v1/me/card-purchases/{purchase_no}")
    mine = shopper.client.get("/api/v1/me/card")

    assert plans.status_code == 200
    assert [p["name"] for p in plans.json() if p["name"].startswith("测试")] == ["测试月卡"]
    assert empty.json() == {"active": False, "card": None, "history": []}
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["amount_fen"], created.json()["status_display"]) == (
        "pending", 1990, "待支付")
    assert paid.status_code == 200 and paid.json()["package"].startswith("prepay_id=")
    assert detail.json()["status"] == "paid"
    body = mine.json()
    assert (body["active"], body["card"]["plan_name"], body["card"]["discount_percent"]) == (True, "测试月卡", 95)
    assert [(h["purchase_no"], h["renewal"]) for h in body["history"]] == [(purchase_no, False)]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"plan_id": 10**12}, 404, "card_plan_not_found"),
    ({"plan_id": "abc"}, 400, "invalid_input"),
    ({}, 400, "invalid_input"),
    ({"plan_id": -1}, 400, "invalid_input"),
])
def test_api_bad_purchase_input_is_a_4xx_and_creates_nothing(shopper, monthly, body, status, code):
    response = shopper.client.post("/api/v1/me/card-purchases", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not CardPurchase.objects.exists()


def test_api_another_members_purchase_is_a_404(shopper, other_shopper, monthly):
    purchase = card_purchase_create(member=other_shopper.member, plan_id=monthly.pk)
    for response in (shopper.client.get(f"/api/v1/me/card-purchases/{purchase.purchase_no}"),
                     shopper.client.post(f"/api/v1/me/card-purchases/{purchase.purchase_no}/pay")):
        assert (response.status_code, response.json()["code"]) == (404, "card_purchase_not_found")
    purchase.refresh_from_db()
    assert purchase.status == "pending"
    assert not Payment.objects.filter(out_trade_no=purchase.purchase_no).exists()
