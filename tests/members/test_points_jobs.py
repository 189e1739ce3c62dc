"""The points jobs: expiry reminders (once per lot), expiry and reconcile on a real Celery worker.

WeChat is the sandbox over HTTP. The reminder's send task runs eagerly through `.apply()` except
in the real-worker test, where beat's tasks go through the broker.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from members.models import Member, PointsEntry, PointsKind, PointsLot
from members.services.points import points_award, points_remind_expiring, points_spend
from tests.celery_worker import real_worker
from tests.fixtures import make_shopper
from wechat.models import FINAL_OUTCOMES, MessageLog, MessageOutcome
from wechat.tasks import send_subscribe_message

SH = ZoneInfo("Asia/Shanghai")
TEMPLATE = "sandbox-tmpl-points-expiring"


def subscribe(shopper, sandbox) -> None:
    answer = sandbox.subscribe(shopper.member.openid, {TEMPLATE: "accept"})
    response = shopper.client.post("/api/v1/subscriptions", {"results": answer}, format="json")
    assert response.status_code == 200, response.content


def earn(member, points: int, reference: str, *, expires_in_days: float, now: dt.datetime):
    """A lot earned so that it expires `expires_in_days` after `now`."""
    earned_at = now + dt.timedelta(days=expires_in_days) - relativedelta(months=12)
    return points_award(member_id=member.pk, points=points, kind=PointsKind.PURCHASE, reference=reference,
                        now=earned_at)


def deliver() -> None:
    for log_id in MessageLog.objects.filter(outcome=MessageOutcome.PENDING).order_by("pk").values_list("pk", flat=True):
        send_subscribe_message.apply(args=(log_id,))


def test_a_reminder_covers_the_lots_newly_due_and_each_lot_is_reminded_once(
        db, sandbox, django_capture_on_commit_callbacks):
    now = dt.datetime(2026, 5, 1, 10, 30, tzinfo=SH)
    shopper, quiet = make_shopper(), make_shopper()
    subscribe(shopper, sandbox)
    subscribe(shopper, sandbox)  # two consents: one for today's reminder, one left over
    earn(shopper.member, 30, "A", expires_in_days=12, now=now)
    earn(shopper.member, 50, "B", expires_in_days=29, now=now)
    earn(shopper.member, 70, "C", expires_in_days=31, now=now)  # not yet within 30 days
    spent = earn(shopper.member, 40, "D", expires_in_days=5, now=now)
    points_spend(member_id=shopper.member.pk, points=40, reference="ORDER-1", now=spent.created_at)  # D is empty
    earn(quiet.member, 10, "A", expires_in_days=3, now=now)  # never subscribed

    with django_capture_on_commit_callbacks(execute=True):
        first = points_remind_expiring(now=now, batch_size=1)
        again = points_remind_expiring(now=now + dt.timedelta(hours=1))
    deliver()

    assert (first, again) == (2, 0)
    [message] = sandbox.messages(touser=shopper.member.openid)
    assert message["template_id"] == TEMPLATE
    assert message["page"] == "pages/points/index"
    a_lot = PointsLot.objects.get(member=shopper.member, entry__reference="A")
    assert message["data"] == {"number1": "80",
                               "date2": "{0.year}年{0.month}月{0.day}日".format(timezone.localtime(a_lot.expires_at)),
                               "thing3": "积分即将过期，快去积分商城兑换吧"}
    quiet_log = MessageLog.objects.get(member_id=quiet.member.pk)
    assert quiet_log.outcome == MessageOutcome.NO_CREDIT
    reminded = dict(PointsLot.objects.filter(member=shopper.member).values_list("entry__reference", "reminded_at"))
    assert reminded == {"A": now, "B": now, "C": None, "D": None}

    # Thirty days before C expires it gets its own reminder; A and B are not reminded again.
    with django_capture_on_commit_callbacks(execute=True):
        later = points_remind_expiring(now=now + dt.timedelta(days=2))
    deliver()
    assert later == 1
    assert [m["data"]["number1"] for m in sandbox.messages(touser=shopper.member.openid)] == ["80", "70"]


@pytest.mark.django_db(transaction=True)
def test_expiry_and_the_reminder_run_on_a_real_worker(sandbox):
    from members.tasks import expire_points, remind_expiring_points

    shopper = make_shopper()
    subscribe(shopper, sandbox)
    now = timezone.now()
    earn(shopper.member, 100, "OLD", expires_in_days=-1, now=now)  # its time came yesterday
    earn(shopper.member, 60, "SOON", expires_in_days=10, now=now)
    assert Member.objects.get(pk=shopper.member.pk).points_balance == 160  # until the job runs

    with real_worker():
        expire_points.delay()  # through the broker, as beat sends them
        remind_expiring_points.delay()
        deadline = time.monotonic() + 90
        while not (PointsEntry.objects.filter(member=shopper.member, kind=PointsKind.EXPIRY).exists()
                   and MessageLog.objects.filter(member_id=shopper.member.pk, outcome__in=FINAL_OUTCOMES).exists()):
            assert time.monotonic() < deadline, "the worker did not run the points jobs"
            time.sleep(0.2)

    expiry = PointsEntry.objects.get(member=shopper.member, kind=PointsKind.EXPIRY)
    assert (expiry.delta, expiry.balance_after) == (-100, 60)
    assert Member.objects.get(pk=shopper.member.pk).points_balance == 60
    log = MessageLog.objects.get(member_id=shopper.member.pk, template_key="points_expiring")
    assert log.outcome == MessageOutcome.SENT
    [message] = sandbox.messages(touser=shopper.member.openid)
    assert message["data"]["number1"] == "60"
