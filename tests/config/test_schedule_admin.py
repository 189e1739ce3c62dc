"""The console lists beat jobs by their Chinese label; a job defined in code keeps its slug."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

pytestmark = pytest.mark.django_db


def test_the_job_list_shows_labels_and_code_jobs_keep_their_slug(admin_client, settings):
    settings.PERIODIC_TASKS = [
        {"name": "orders.cancel-expired", "label": "订单超时自动取消", "task": "shop.tasks.cancel_expired_orders",
         "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
    ]
    call_command("sync_periodic_tasks", stdout=io.StringIO())
    job = PeriodicTask.objects.get(name="orders.cancel-expired")
    crontab = CrontabSchedule.objects.create(minute="5", timezone="Asia/Shanghai")
    own = PeriodicTask.objects.create(name="运营自建任务", task="shop.tasks.refresh_tracking", crontab=crontab)

    listing = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    job_page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[job.pk]))
    own_page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[own.pk]))

    assert "订单超时自动取消" in listing
    assert "orders.cancel-expired" in listing
    assert "name" not in job_page.context["adminform"].form.fields
    assert "name" in own_page.context["adminform"].form.fields
