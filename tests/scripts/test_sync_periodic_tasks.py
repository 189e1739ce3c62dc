"""The beat schedule is defined in code and upserted by name; the operator's enabled flag stays."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

pytestmark = pytest.mark.django_db

JOBS = [
    {"name": "订单超时自动取消", "task": "shop.tasks.cancel_expired_orders", "crontab": {"minute": "*"},
     "queue": "default", "expires_seconds": 50},
    {"name": "发货后自动确认收货", "task": "shop.tasks.confirm_overdue_receipts",
     "crontab": {"minute": "*/10"}, "queue": "default", "expires_seconds": 500},
]


def test_sync_creates_each_job_with_a_shanghai_crontab(settings):
    settings.PERIODIC_TASKS = JOBS

    call_command("sync_periodic_tasks", verbosity=0)

    cancel = PeriodicTask.objects.get(name="订单超时自动取消")
    assert cancel.task == "shop.tasks.cancel_expired_orders"
    assert cancel.enabled is True
    assert cancel.queue == "default"
    assert cancel.expire_seconds == 50
    assert cancel.interval_id is None
    assert (cancel.crontab.minute, cancel.crontab.hour, cancel.crontab.day_of_week) == ("*", "*", "*")
    assert str(cancel.crontab.timezone) == "Asia/Shanghai"
    confirm = PeriodicTask.objects.get(name="发货后自动确认收货")
    assert confirm.crontab.minute == "*/10"
    assert confirm.expire_seconds == 500


def test_resync_keeps_a_disabled_job_disabled_and_applies_code_changes(settings):
    settings.PERIODIC_TASKS = JOBS
    call_command("sync_periodic_tasks", verbosity=0)
    PeriodicTask.objects.filter(name="订单超时自动取消").update(enabled=False)
    settings.PERIODIC_TASKS = [{**JOBS[0], "crontab": {"minute": "*/2"}, "expires_seconds": 100}, JOBS[1]]

    call_command("sync_periodic_tasks", verbosity=0)

    cancel = PeriodicTask.objects.get(name="订单超时自动取消")
    assert cancel.enabled is False
    assert cancel.crontab.minute == "*/2"
    assert cancel.expire_seconds == 100
    assert PeriodicTask.objects.get(name="发货后自动确认收货").enabled is True
    assert PeriodicTask.objects.filter(name__in=[j["name"] for j in JOBS]).count() == 2


def test_resync_without_changes_saves_nothing(settings):
    settings.PERIODIC_TASKS = JOBS
    call_command("sync_periodic_tasks", verbosity=0)
    before = dict(PeriodicTask.objects.values_list("name", "date_changed"))
    crontabs = CrontabSchedule.objects.count()

    call_command("sync_periodic_tasks", verbosity=0)

    assert dict(PeriodicTask.objects.values_list("name", "date_changed")) == before
    assert CrontabSchedule.objects.count() == crontabs


def test_a_bad_entry_is_refused_and_changes_nothing(settings):
    from django.core.management.base import CommandError

    settings.PERIODIC_TASKS = [JOBS[0], {"name": "缺少任务", "crontab": {"minute": "*"}}]

    with pytest.raises(CommandError):
        call_command("sync_periodic_tasks", verbosity=0)

    assert not PeriodicTask.objects.filter(name__in=["订单超时自动取消", "缺少任务"]).exists()
