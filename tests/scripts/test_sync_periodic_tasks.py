"""The beat schedule is defined in code and upserted by slug; the operator's enabled flag stays."""

from __future__ import annotations

import io
import re

import pytest
from celery import Task
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.management.commands.sync_periodic_tasks import entries_check

pytestmark = pytest.mark.django_db

JOBS = [
    {"name": "orders.cancel-expired", "label": "订单超时自动取消", "task": "shop.tasks.cancel_expired_orders",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
    {"name": "orders.confirm-overdue-receipts", "label": "发货后自动确认收货",
     "task": "shop.tasks.confirm_overdue_receipts", "crontab": {"minute": "*/10"}, "queue": "default",
     "expires_seconds": 500},
]


def sync() -> str:
    out = io.StringIO()
    call_command("sync_periodic_tasks", stdout=out)
    return out.getvalue()


def legacy_row(name: str, task: str, *, enabled: bool) -> PeriodicTask:
    """A row as the sync wrote it before the slugs: named by its Chinese label."""
    crontab = CrontabSchedule.objects.create(minute="*", timezone="Asia/Shanghai")
    return PeriodicTask.objects.create(name=name, task=task, crontab=crontab, enabled=enabled,
                                       last_run_at=timezone.now(), total_run_count=7)


def test_sync_creates_each_job_by_slug_with_its_label_and_a_shanghai_crontab(settings):
    settings.PERIODIC_TASKS = JOBS

    sync()

    cancel = PeriodicTask.objects.get(name="orders.cancel-expired")
    assert cancel.description == "订单超时自动取消"
    assert cancel.task == "shop.tasks.cancel_expired_orders"
    assert cancel.enabled is True
    assert cancel.queue == "default"
    assert cancel.expire_seconds == 50
    assert cancel.interval_id is None
    assert (cancel.crontab.minute, cancel.crontab.hour, cancel.crontab.day_of_week) == ("*", "*", "*")
    assert str(cancel.crontab.timezone) == "Asia/Shanghai"
    confirm = PeriodicTask.objects.get(name="orders.confirm-overdue-receipts")
    assert confirm.description == "发货后自动确认收货"
    assert confirm.crontab.minute == "*/10"
    assert confirm.expire_seconds == 500


def test_resync_keeps_a_disabled_job_disabled_and_applies_code_changes(settings):
    settings.PERIODIC_TASKS = JOBS
    sync()
    PeriodicTask.objects.filter(name="orders.cancel-expired").update(enabled=False)
    settings.PERIODIC_TASKS = [{**JOBS[0], "crontab": {"minute": "*/2"}, "expires_seconds": 100}, JOBS[1]]

    sync()

    cancel = PeriodicTask.objects.get(name="orders.cancel-expired")
    assert cancel.enabled is False
    assert cancel.crontab.minute == "*/2"
    assert cancel.expire_seconds == 100
    assert PeriodicTask.objects.get(name="orders.confirm-overdue-receipts").enabled is True
    assert PeriodicTask.objects.filter(name__in=[j["name"] for j in JOBS]).count() == 2


def test_renaming_a_label_updates_the_same_row(settings):
    settings.PERIODIC_TASKS = JOBS
    sync()
    before = PeriodicTask.objects.get(name="orders.cancel-expired")
    PeriodicTask.objects.filter(pk=before.pk).update(enabled=False)
    settings.PERIODIC_TASKS = [{**JOBS[0], "label": "未支付订单超时关闭"}, JOBS[1]]

    output = sync()

    [row] = PeriodicTask.objects.filter(task="shop.tasks.cancel_expired_orders")
    assert (row.pk, row.name, row.description, row.enabled) == (
        before.pk, "orders.cancel-expired", "未支付订单超时关闭", False)
    assert "updated: orders.cancel-expired (未支付订单超时关闭)" in output


def test_a_row_named_by_its_label_is_adopted_keeping_its_enabled_flag_and_history(settings):
    legacy = legacy_row("订单超时自动取消", "shop.tasks.cancel_expired_orders", enabled=False)
    settings.PERIODIC_TASKS = JOBS

    output = sync()

    [row] = PeriodicTask.objects.filter(task="shop.tasks.cancel_expired_orders")
    assert (row.pk, row.name, row.description, row.enabled) == (
        legacy.pk, "orders.cancel-expired", "订单超时自动取消", False)
    assert (row.last_run_at, row.total_run_count) == (legacy.last_run_at, 7)
    assert row.crontab.minute == "*"
    assert row.expire_seconds == 50
    assert "adopted: 订单超时自动取消 → orders.cancel-expired" in output
    assert not PeriodicTask.objects.filter(name="订单超时自动取消").exists()


def test_a_label_named_copy_beside_the_slug_row_is_removed(settings):
    settings.PERIODIC_TASKS = JOBS
    sync()
    PeriodicTask.objects.filter(name="orders.cancel-expired").update(enabled=False)
    legacy_row("订单超时自动取消", "shop.tasks.cancel_expired_orders", enabled=True)

    output = sync()

    [row] = PeriodicTask.objects.filter(task="shop.tasks.cancel_expired_orders")
    assert (row.name, row.enabled) == ("orders.cancel-expired", False)
    assert "removed a second copy named 订单超时自动取消: orders.cancel-expired is the job" in output


def test_rows_not_in_the_setting_are_listed_and_left_alone(settings):
    own = legacy_row("运营自建任务", "shop.tasks.refresh_tracking", enabled=True)
    settings.PERIODIC_TASKS = JOBS

    output = sync()

    assert "not in PERIODIC_TASKS (left as is): 运营自建任务" in output
    assert PeriodicTask.objects.get(pk=own.pk).name == "运营自建任务"


def test_resync_without_changes_saves_nothing(settings):
    settings.PERIODIC_TASKS = JOBS
    sync()
    before = dict(PeriodicTask.objects.values_list("name", "date_changed"))
    crontabs = CrontabSchedule.objects.count()

    output = sync()

    assert dict(PeriodicTask.objects.values_list("name", "date_changed")) == before
    assert CrontabSchedule.objects.count() == crontabs
    assert "unchanged: orders.cancel-expired (订单超时自动取消)" in output


@pytest.mark.parametrize("bad", [
    {"name": "jobs.missing-task", "label": "缺少任务", "crontab": {"minute": "*"}},
    {"name": "jobs.missing-label", "task": "shop.tasks.refresh_tracking", "crontab": {"minute": "*"}},
    {"name": "物流轨迹刷新", "label": "物流轨迹刷新", "task": "shop.tasks.refresh_tracking",
     "crontab": {"minute": "*"}},
    {**JOBS[1], "name": "orders.cancel-expired"},
    {**JOBS[1], "label": "订单超时自动取消"},
])
def test_a_bad_entry_is_refused_and_changes_nothing(settings, bad):
    settings.PERIODIC_TASKS = [JOBS[0], bad]

    with pytest.raises(CommandError):
        sync()

    assert not PeriodicTask.objects.filter(task__startswith="shop.tasks.").exists()


def test_the_configured_jobs_have_unique_slugs_labels_and_real_tasks():
    entries = django_settings.PERIODIC_TASKS

    entries_check(entries)

    for entry in entries:
        name, task_path = str(entry["name"]), str(entry["task"])
        assert re.fullmatch(r"[a-z-]+\.[a-z-]+", name), name
        task = import_string(task_path)
        assert isinstance(task, Task), entry["task"]
        assert task.name == entry["task"]
