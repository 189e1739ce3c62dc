"""The monthly gift pack of paid cards: on the card's day each month, once per member per month."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import CardGiftPack, Coupon, CouponSource, CouponTemplate
from campaigns.services.gift_packs import card_gift_packs_issue, gift_pack_due_day
from members.models import CardPlan, Member, MemberCard
from tests.celery_worker import real_worker
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, MemberFactory

SH = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 9) -> dt.datetime:
    return dt.datetime(y, m, d, hh, 30, tzinfo=SH)


def run(y: int, m: int, d: int) -> int:
    """The job as beat runs it on that Shanghai day at 09:30."""
    return card_gift_packs_issue(day=dt.date(y, m, d), now=sh(y, m, d))


def coupons(member: Member) -> list[tuple[str, str]]:
    """(template name, issue key) of the member's coupons; a coupon without a key shows ""."""
    rows = Coupon.objects.filter(member=member).values_list("template__name", "issue_key")
    return sorted((name, key or "") for name, key in rows)


@pytest.fixture
def plan(db) -> CardPlan:
    return CardPlan.objects.create(name="礼包年卡", price_fen=16800, days=366, monthly_gift_pack=True)


@pytest.fixture
def templates(plan) -> list[CouponTemplate]:
    """Two coupons in the plan's pack; many per member (one a month)."""
    made = [CouponTemplateFactory.create(name="礼包满减券", per_member_limit=120),
            CouponTemplateFactory.create(name="礼包无门槛券", kind="no_threshold", threshold_fen=0, amount_fen=500,
                                         per_member_limit=120)]
    for template in made:
        CardGiftPack.objects.create(plan=plan, template=template)
    return made


def card(plan: CardPlan, start: dt.datetime, days: int = 366) -> Member:
    member = MemberFactory.create()
    MemberCard.objects.create(member=member, plan=plan, starts_at=start, ends_at=start + dt.timedelta(days=days))
    return member


@pytest.mark.parametrize(("start", "month", "due"), [
    (dt.date(2026, 1, 15), dt.date(2026, 2, 1), dt.date(2026, 2, 15)),
    (dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    (dt.date(2026, 1, 31), dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
    (dt.date(2026, 1, 31), dt.date(2026, 4, 1), dt.date(2026, 4, 30)),
    (dt.date(2026, 1, 30), dt.date(2026, 3, 1), dt.date(2026, 3, 30)),
])
def test_the_due_day_is_the_start_day_or_the_last_day_of_a_shorter_month(start, month, due):
    assert gift_pack_due_day(card_start=start, month=month) == due


def test_the_pack_comes_on_the_cards_day_each_month_once(templates, plan):
    member = card(plan, sh(2026, 1, 15, 15))
    month_key = "gift_pack:2026-02:{}:{}"

    # Bought at 15:00, after that day's run: the next morning's run catches up.
    assert [run(2026, 1, 15), run(2026, 1, 16), run(2026, 1, 17)] == [0, 2, 0]
    assert [run(2026, 2, d) for d in (14, 15, 15, 20)] == [0, 2, 0, 0]
    assert run(2026, 3, 15) == 2

    assert len(coupons(member)) == 6
    assert {key for _, key in coupons(member)} >= {month_key.format(t.pk, member.pk) for t in templates}
    assert set(Coupon.objects.filter(member=member).values_list("source", flat=True)) == {CouponSource.GIFT_PACK}


def test_a_card_started_on_the_31st_gets_its_pack_on_the_last_day_of_february(templates, plan):
    member = card(plan, sh(2026, 1, 31))
    assert [run(2026, 2, d) for d in (27, 28)] == [0, 2]
    assert [run(2026, 3, d) for d in (30, 31)] == [0, 2]
    assert len(coupons(member)) == 4


def test_a_missed_day_is_caught_up_later_in_the_same_month(templates, plan):
    member = card(plan, sh(2026, 1, 10))
    assert run(2026, 2, 12) == 2
    assert run(2026, 2, 13) == 0
    assert [key.split(":")[1] for _, key in coupons(member)] == ["2026-02", "2026-02"]


def test_no_pack_for_an_expired_card_a_plan_without_packs_or_a_disabled_pack(templates, plan):
    expired = card(plan, sh(2025, 12, 1), days=31)
    plain_plan = CardPlan.objects.create(name="无礼包月卡", price_fen=1990, days=31, monthly_gift_pack=False)
    CardGiftPack.objects.create(plan=plain_plan, template=templates[0])
    plain = card(plain_plan, sh(2026, 1, 1))
    CardGiftPack.objects.filter(plan=plan, template=templates[1]).update(is_active=False)
    holder = card(plan, sh(2026, 1, 1))

    assert run(2026, 2, 1) == 1

    assert coupons(expired) == coupons(plain) == []
    assert [name for name, _ in coupons(holder)] == ["礼包满减券"]


def test_a_coupon_that_cannot_be_issued_is_skipped_and_the_rest_goes_on(templates, plan):
    CouponTemplate.objects.filter(pk=templates[0].pk).update(total_quantity=1)
    first = card(plan, sh(2026, 1, 5))
    second = card(plan, sh(2026, 1, 5))

    assert run(2026, 2, 5) == 3

    assert len(coupons(first)) + len(coupons(second)) == 3
    assert Coupon.objects.filter(template=templates[0]).count() == 1
    assert Coupon.objects.filter(template=templates[1]).count() == 2


def test_deleted_members_get_nothing(templates, plan):
    member = card(plan, sh(2026, 1, 5))
    Member.objects.filter(pk=member.pk).update(deleted_at=timezone.now())
    assert run(2026, 2, 5) == 0


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_issue_each_coupon_once():
    plan = CardPlan.objects.create(name="并发礼包卡", price_fen=100, days=366, monthly_gift_pack=True)
    template = CouponTemplateFactory.create(name="并发礼包券", per_member_limit=120)
    CardGiftPack.objects.create(plan=plan, template=template)
    members = [card(plan, sh(2026, 1, 5)) for _ in range(5)]

    results = run_concurrently(lambda i: run(2026, 2, 5), 3)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 5
    assert [len(coupons(m)) for m in members] == [1] * 5


@pytest.mark.django_db(transaction=True)
def test_the_gift_pack_job_runs_on_a_real_worker():
    from campaigns.tasks import issue_card_gift_packs

    plan = CardPlan.objects.create(name="真实任务礼包卡", price_fen=100, days=366, monthly_gift_pack=True)
    template = CouponTemplateFactory.create(name="真实任务礼包券", per_member_limit=120)
    CardGiftPack.objects.create(plan=plan, template=template)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    member = card(plan, midnight)  # started today: due today

    with real_worker():
        issue_card_gift_packs.delay()
        deadline = time.monotonic() + 90
        while not Coupon.objects.filter(member=member).exists():
            assert time.monotonic() < deadline, "the worker did not run the gift-pack job"
            time.sleep(0.2)

    [coupon] = Coupon.objects.filter(member=member)
    assert coupon.issue_key == f"gift_pack:{timezone.localdate():%Y-%m}:{template.pk}:{member.pk}"


def test_the_console_refuses_a_pack_that_could_not_work(admin_client, plan):
    from django.urls import reverse

    plain = CardPlan.objects.create(name="无礼包周卡", price_fen=500, days=7, monthly_gift_pack=False)
    once = CouponTemplateFactory.create(name="每人一张券", per_member_limit=1)
    many = CouponTemplateFactory.create(name="每月一张券", per_member_limit=120)
    add = reverse("admin:campaigns_cardgiftpack_add")

    refused = admin_client.post(add, {"plan": plain.pk, "template": once.pk, "is_active": "on"})
    saved = admin_client.post(add, {"plan": plan.pk, "template": many.pk, "is_active": "on"})

    html = refused.content.decode()
    assert refused.status_code == 200
    assert "未开启“每月礼包”" in html and "每人限领 1 张" in html
    assert saved.status_code == 302
    assert list(CardGiftPack.objects.values_list("plan__name", "template__name")) == [("礼包年卡", "每月一张券")]
