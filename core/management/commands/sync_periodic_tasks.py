"""Upsert the periodic jobs defined in code (settings.PERIODIC_TASKS) into the beat schedule.

django-celery-beat's DatabaseScheduler reads its schedule from the database, where operators can
pause a job in the admin. The code owns what a job is (task, crontab, queue, expiry); the
operator owns whether it runs: a job that already exists keeps its `enabled` flag.

Each entry of PERIODIC_TASKS:
    {"name": "订单超时自动取消", "task": "shop.tasks.cancel_expired_orders",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50,
     # optional: "kwargs": {...}, "args": [...], "description": "...", "enabled": True}
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

SCHEDULE_TIMEZONE = "Asia/Shanghai"
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
ENTRY_KEYS = {"name", "task", "crontab", "queue", "expires_seconds", "kwargs", "args", "description",
              "enabled"}


def _crontab(spec: dict[str, Any]) -> CrontabSchedule:
    unknown = set(spec) - set(CRONTAB_FIELDS)
    if unknown:
        raise CommandError(f"unknown crontab fields: {sorted(unknown)}")
    fields = {name: str(spec.get(name, "*")) for name in CRONTAB_FIELDS}
    schedule = CrontabSchedule.objects.filter(timezone=SCHEDULE_TIMEZONE, **fields).order_by("id").first()
    if schedule is None:
        schedule = CrontabSchedule.objects.create(timezone=SCHEDULE_TIMEZONE, **fields)
    return schedule


def sync_periodic_tasks(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Create or update one PeriodicTask per entry, by name. Returns names by outcome.

    Idempotent: a row that already matches is not saved again (a save makes beat reload).
    """
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    with transaction.atomic():
        for entry in entries:
            unknown = set(entry) - ENTRY_KEYS
            if unknown or not entry.get("name") or not entry.get("task") or "crontab" not in entry:
                raise CommandError(f"bad PERIODIC_TASKS entry {entry!r}")
            wanted: dict[str, Any] = {
                "task": entry["task"],
                "crontab": _crontab(entry["crontab"]),
                "interval": None,
                "solar": None,
                "clocked": None,
                "queue": entry.get("queue") or None,
                "expire_seconds": entry.get("expires_seconds"),
                "expires": None,
                "one_off": False,
                "args": json.dumps(entry.get("args", []), ensure_ascii=False),
                "kwargs": json.dumps(entry.get("kwargs", {}), ensure_ascii=False),
                "description": entry.get("description", ""),
            }
            task = PeriodicTask.objects.select_for_update().filter(name=entry["name"]).first()
            if task is None:
                PeriodicTask.objects.create(name=entry["name"], enabled=entry.get("enabled", True),
                                            **wanted)
                outcome["created"].append(entry["name"])
                continue
            changed = [field for field, value in wanted.items() if _value(task, field) != _key(value)]
            if changed:
                for field in changed:
                    setattr(task, field, wanted[field])
                task.save()  # `enabled` is left as the operator set it
                outcome["updated"].append(entry["name"])
            else:
                outcome["unchanged"].append(entry["name"])
    return outcome


def _value(task: PeriodicTask, field: str) -> Any:
    if field in {"crontab", "interval", "solar", "clocked"}:
        return getattr(task, f"{field}_id")
    return getattr(task, field)


def _key(value: Any) -> Any:
    return value.pk if hasattr(value, "pk") else value


class Command(BaseCommand):
    help = "Upsert settings.PERIODIC_TASKS into the beat schedule, keeping each job's enabled flag."

    def handle(self, *args: Any, **options: Any) -> None:
        entries = list(getattr(settings, "PERIODIC_TASKS", []))
        outcome = sync_periodic_tasks(entries)
        for kind in ("created", "updated", "unchanged"):
            for name in outcome[kind]:
                self.stdout.write(f"{kind}: {name}")
        known = {entry["name"] for entry in entries}
        strays = PeriodicTask.objects.exclude(name__in=known).exclude(name__startswith="celery.")
        for task in strays.order_by("name"):
            # Not deleted: it may be an operator's own job, or one a later release renamed.
            self.stdout.write(f"not in PERIODIC_TASKS (left as is): {task.name}")
        self.stdout.write(self.style.SUCCESS(f"periodic tasks synced: {len(entries)}"))
