"""The coupon lifecycle jobs: expiry (batched, idempotent, concurrent-safe) and the expiry reminder
(once per coupon, consent-based, sent after commit through the sandbox; one run on a real worker)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from campaigns.models import Coupon, CouponEvent, CouponSource, CouponStatus
from campaigns.services.reminders import coupons_expire, coupons_remind_expiring
from campaigns.tasks import expire_coupons, remind_expiring_coupons
from tests.celery_worker import real_worker
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.fixtures import make_shopper
from wechat.models import FINAL_OUTCOMES, MessageLog, MessageOutcome, SubscribeConsent
from wechat.tasks import send_subscribe_message

EXPIRING = "sandbox-tmpl-coupon-expiring"


def hold(member, template, *, valid_until, status=CouponStatus.AVAILABLE, reminded_at=None) -> Coupon:
    return Coupon.objects.create(template=template, member=member, status=status, source=CouponSource.CENTER,
                                 valid_from=valid_until - dt.timedelta(days=30), valid_until=valid_until,
                                 reminded_at=reminded_at)


def events(action: str) -> list[int]:
    return list(CouponEvent.objects.filter(action=action).order_by("coupon_id").values_list("coupon_id", flat=True))


def midnight_after(days: int) -> dt.datetime:
    """The start of the Shanghai day `days` after today: a coupon valid until then can be used
    through the day before."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=days), dt.time.min))


# --- expiry --------------------------------------------------------------------------------------------


def test_available_coupons_past_their_validity_expire_once_with_a_ledger_row(db):
    now = timezone.now()
    template = CouponTemplateFactory.create(per_member_limit=10)
    member = MemberFactory.create()
    lapsed = [hold(member, template, valid_until=now - dt.timedelta(minutes=m)) for m in (1, 60, 60 * 24 * 3)]
    at_the_edge = hold(member, template, valid_until=now)  # valid_until is exclusive
    valid = hold(member, template, valid_until=now + dt.timedelta(minutes=1))
    locked = hold(member, template, valid_until=now - dt.timedelta(days=1), status=CouponStatus.LOCKED)
    used = hold(member, template, valid_until=now - dt.timedelta(days=1), status=CouponStatus.USED)

    expired = coupons_expire(now=now, chunk=2)  # several chunks

    assert expired == 4
    gone = sorted(c.pk for c in [*lapsed, at_the_edge])
    assert sorted(Coupon.objects.filter(status=CouponStatus.EXPIRED).values_list("pk", flat=True)) == gone
    assert events("expired") == gone
    for coupon, status in [(valid, "available"), (locked, "locked"), (used, "used")]:
        coupon.refresh_from_db()
        assert coupon.status == status

    # a second run finds nothing and writes nothing
    assert coupons_expire(now=now) == 0
    assert events("expired") == gone


def test_the_task_runs_the_job(db):
    member = MemberFactory.create()
    coupon = hold(member, CouponTemplateFactory.create(), valid_until=timezone.now() - dt.timedelta(seconds=1))

    assert expire_coupons.apply().get() == 1

    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_two_expiry_runs_at_once_share_the_work_and_expire_each_coupon_once():
    now = timezone.now()
    template = CouponTemplateFactory.create(per_member_limit=100)
    members = [MemberFactory.create() for _ in range(4)]
    coupons = [hold(members[i % 4], template, valid_until=now - dt.timedelta(hours=1)) for i in range(60)]

    counts = run_concurrently(lambda i: coupons_expire(now=now, chunk=7), 3)

    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 60
    assert Coupon.objects.filter(status=CouponStatus.EXPIRED).count() == 60
    assert events("expired") == sorted(c.pk for c in coupons)


# --- the expiry reminder ---------------------------------------------------------------------------------


def subscribe(shopper, sandbox) -> None:
    """The shopper allowed the coupon-expiry message once (WeChat and we both know)."""
    answer = sandbox.subscribe(shopper.member.openid, {EXPIRING: "accept"})
    response = shopper.client.post("/api/v1/subscriptions", {"results": answer}, format="json")
    assert response.status_code == 200, response.content


def credits(member) -> int:
    row = SubscribeConsent.objects.filter(member_id=member.pk, template_id=EXPIRING).first()
    return row.credits if row else 0


def deliver() -> None:
    """What the worker would do with the messages queued after commit."""
    for log_id in MessageLog.objects.filter(outcome=MessageOutcome.PENDING).order_by("pk").values_list("pk", flat=True):
        send_subscribe_message.apply(args=(log_id,))


def test_coupons_expiring_within_the_window_are_reminded_once(db, sandbox, settings,
                                                             django_capture_on_commit_callbacks):
    settings.COUPON_EXPIRY_REMIND_DAYS = 3
    shopper = make_shopper()
    subscribe(shopper, sandbox)
    template = CouponTemplateFactory.create(name="满100减10", per_member_limit=10)
    now = timezone.now()
    due = hold(shopper.member, template, valid_until=midnight_after(3))  # usable through the day after tomorrow
    hold(shopper.member, template, valid_until=now + dt.timedelta(days=5))  # later
    hold(shopper.member, template, valid_until=now - dt.timedelta(minutes=1))  # already over
    hold(shopper.member, template, valid_until=now + dt.timedelta(days=1), status=CouponStatus.USED)
    hold(shopper.member, template, valid_until=now + dt.timedelta(days=1), reminded_at=now - dt.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        reminded = coupons_remind_expiring(now=now)
    deliver()

    assert reminded == 1
    due.refresh_from_db()
    assert due.reminded_at == now
    assert events("reminded") == [due.pk]
    log = MessageLog.objects.get(template_key="coupon_expiring")
    assert (log.member_id, log.reference, log.outcome) == (shopper.member.pk, f"coupon:{due.pk}", MessageOutcome.SENT)
    delivered = sandbox.messages(touser=shopper.member.openid)
    last_day = timezone.localdate() + dt.timedelta(days=2)
    assert [(m["template_id"], m["page"], m["data"]) for m in delivered] == [(EXPIRING, "pages/coupon/index", {
        "thing1": "满100减10", "date2": f"{last_day.year}年{last_day.month}月{last_day.day}日",
        "thing3": "优惠券即将过期，请尽快使用"})]
    assert credits(shopper.member) == 0

    # the next day's run reminds nobody again
    with django_capture_on_commit_callbacks(execute=True):
        assert coupons_remind_expiring(now=now + dt.timedelta(days=1)) == 0
    deliver()
    assert MessageLog.objects.count() == 1
    assert len(sandbox.messages()) == 1


def test_without_consent_nothing_is_sent_but_the_coupon_counts_as_reminded(db, sandbox,
                                                                          django_capture_on_commit_callbacks):
    shopper = make_shopper()
    sandbox.subscribe(shopper.member.openid, {EXPIRING: "accept"})  # WeChat's consent is not ours to spend
    coupon = hold(shopper.member, CouponTemplateFactory.create(), valid_until=timezone.now() + dt.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert coupons_remind_expiring() == 1
    deliver()

    log = MessageLog.objects.get(template_key="coupon_expiring")
    assert (log.outcome, log.errcode) == (MessageOutcome.NO_CREDIT, "no_credit")
    assert sandbox.messages() == []
    coupon.refresh_from_db()
    assert coupon.reminded_at is not None
    assert coupons_remind_expiring() == 0


def test_the_message_goes_to_wechat_only_after_the_job_commits(db, sandbox, django_capture_on_commit_callbacks):
    shopper = make_shopper()
    subscribe(shopper, sandbox)
    hold(shopper.member, CouponTemplateFactory.create(), valid_until=timezone.now() + dt.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert coupons_remind_expiring() == 1

    # not committed yet: logged as pending, nothing sent, the consent still unspent
    assert MessageLog.objects.get(template_key="coupon_expiring").outcome == MessageOutcome.PENDING
    assert sandbox.messages() == []
    assert credits(shopper.member) == 1
    assert callbacks
    deliver()
    assert len(sandbox.messages(touser=shopper.member.openid)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_reminder_job_on_a_real_worker_delivers_one_message_to_the_sandbox(sandbox):
    shopper = make_shopper()
    subscribe(shopper, sandbox)
    template = CouponTemplateFactory.create(name="新人专享无门槛券", per_member_limit=5)
    due = hold(shopper.member, template, valid_until=midnight_after(1))  # usable through today
    hold(shopper.member, template, valid_until=timezone.now() + dt.timedelta(days=30))

    with real_worker():
        remind_expiring_coupons.delay()  # through the broker, like beat
        deadline = time.monotonic() + 60
        while not MessageLog.objects.filter(template_key="coupon_expiring", outcome__in=FINAL_OUTCOMES).exists():
            assert time.monotonic() < deadline, "the worker did not run the job and send the message"
            time.sleep(0.2)

    log = MessageLog.objects.get(template_key="coupon_expiring")
    assert (log.outcome, log.attempts, log.reference) == (MessageOutcome.SENT, 1, f"coupon:{due.pk}")
    today = timezone.localdate()
    delivered = sandbox.messages(touser=shopper.member.openid)
    assert len(delivered) == 1
    assert delivered[0]["data"] == {"thing1": "新人专享无门槛券",
                                    "date2": f"{today.year}年{today.month}月{today.day}日",
                                    "thing3": "优惠券即将过期，请尽快使用"}
    assert events("reminded") == [due.pk]
    assert sandbox.subscriptions(shopper.member.openid) == {EXPIRING: 0}
