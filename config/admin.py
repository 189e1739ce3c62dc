"""The beat schedule in the console: each job by its Chinese label, the code's slug beside it.

settings.PERIODIC_TASKS owns a job's slug (PeriodicTask.name, the key `sync_periodic_tasks`
matches on) and its label (the description); operators pause and resume. Renaming a job defined
in code would detach it from the code (the next sync would create it again), so there its name
is read-only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class ScheduledJobAdmin(PeriodicTaskAdmin):
    list_display = ("label", "name", "enabled", "scheduler", "interval", "start_time", "last_run_at", "one_off")
    search_fields = ("description", "name", "task")

    @admin.display(description="任务", ordering="description")
    def label(self, obj: PeriodicTask) -> str:
        return obj.description or obj.name

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        defined_in_code = {entry["name"] for entry in settings.PERIODIC_TASKS}
        if obj is not None and obj.name in defined_in_code:
            return (*fields, "name")
        return fields
