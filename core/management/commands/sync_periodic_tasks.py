"""Upsert the periodic jobs defined in code (settings.PERIODIC_TASKS) into the beat schedule.

django-celery-beat's DatabaseScheduler reads its schedule from the database, where operators can
pause a job in the admin. The code owns what a job is (task, crontab, queue, expiry); the
operator owns whether it runs: a job that already exists keeps its `enabled` flag.

Each entry of PERIODIC_TASKS:
    {"name": "orders.cancel-expired", "label": "订单超时自动取消",
     "task": "shop.tasks.cancel_expired_orders", "crontab": {"minute": "*"}, "queue": "default",
     "expires_seconds": 50,
     # optional: "kwargs": {...}, "args": [...], "enabled": True}

`name` is a stable slug and the row's unique key (PeriodicTask.name); `label` is what operators
read (PeriodicTask.description, the console's 任务 column) and may change freely. Rows from before
the slugs are named by their label: the sync renames such a row to its slug, keeping its enabled
flag and run history, and deletes a label-named copy when the slug's row already exists, so a job
never has two rows (two rows would both run).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

SCHEDULE_TIMEZONE = "Asia/Shanghai"
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
ENTRY_KEYS = {"name", "label", "task", "crontab", "queue", "expires_seconds", "kwargs", "args", "enabled"}
# Lower-case words joined by "-", in dotted parts: "orders.cancel-expired".
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*")
OUTCOMES = ("created", "adopted", "updated", "unchanged", "removed")


def _crontab(spec: dict[str, Any]) -> CrontabSchedule:
    unknown = set(spec) - set(CRONTAB_FIELDS)
    if unknown:
        raise CommandError(f"unknown crontab fields: {sorted(unknown)}")
    fields = {name: str(spec.get(name, "*")) for name in CRONTAB_FIELDS}
    schedule = CrontabSchedule.objects.filter(timezone=SCHEDULE_TIMEZONE, **fields).order_by("id").first()
    if schedule is None:
        schedule = CrontabSchedule.objects.create(timezone=SCHEDULE_TIMEZONE, **fields)
    return schedule


def entries_check(entries: list[dict[str, Any]]) -> None:
    """Raise CommandError unless every entry is well formed and names and labels are unique."""
    for entry in entries:
        unknown = set(entry) - ENTRY_KEYS
        if (unknown or not SLUG.fullmatch(str(entry.get("name", ""))) or not entry.get("label")
                or not entry.get("task") or "crontab" not in entry):
            raise CommandError(f"bad PERIODIC_TASKS entry {entry!r}: needs a slug name (orders.cancel-expired), "
                               "a label, a task and a crontab, and nothing else")
    for key in ("name", "label"):
        values = [entry[key] for entry in entries]
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise CommandError(f"PERIODIC_TASKS: the same {key} twice: {repeated}")


def sync_periodic_tasks(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Create or update one PeriodicTask per entry, keyed by its slug. Returns slugs by outcome.

    "adopted": a row named by the entry's label (from before the slugs) was renamed to the slug;
    "removed": such a row was deleted because the slug's row exists. One transaction; nothing is
    written when an entry is bad. Idempotent: a row that already matches is not saved again (a
    save makes beat reload).
    """
    entries_check(entries)
    outcome: dict[str, list[str]] = {kind: [] for kind in OUTCOMES}
    with transaction.atomic():
        for entry in entries:
            slug, label = entry["name"], entry["label"]
            wanted: dict[str, Any] = {
                "name": slug,
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
                "description": label,
            }
            rows = {row.name: row for row in PeriodicTask.objects.select_for_update().filter(name__in=[slug, label])}
            task, legacy = rows.get(slug), rows.get(label)
            kind = "updated"
            if task is not None and legacy is not None:
                legacy.delete()  # the slug's row is the job: a second row would run it twice
                outcome["removed"].append(slug)
            elif legacy is not None:
                task, kind = legacy, "adopted"  # renamed below, keeping enabled and last run
            if task is None:
                PeriodicTask.objects.create(enabled=entry.get("enabled", True), **wanted)
                outcome["created"].append(slug)
                continue
            changed = [field for field, value in wanted.items() if _value(task, field) != _key(value)]
            for field in changed:
                setattr(task, field, wanted[field])
            if changed:
                task.save()  # `enabled` is left as the operator set it
            outcome[kind if changed else "unchanged"].append(slug)
    return outcome


def _value(task: PeriodicTask, field: str) -> Any:
    if field in {"crontab", "interval", "solar", "clocked"}:
        return getattr(task, f"{field}_id")
    return getattr(task, field)


def _key(value: Any) -> Any:
    return value.pk if hasattr(value, "pk") else value


class Command(BaseCommand):
    help = "Upsert settings.PERIODIC_TASKS into the beat schedule by slug, keeping each job's enabled flag."

    def handle(self, *args: Any, **options: Any) -> None:
        entries = list(getattr(settings, "PERIODIC_TASKS", []))
        outcome = sync_periodic_tasks(entries)
        labels = {entry["name"]: entry["label"] for entry in entries}
        for kind in OUTCOMES:
            for slug in outcome[kind]:
                if kind == "adopted":
                    self.stdout.write(f"adopted: {labels[slug]} → {slug}")
                elif kind == "removed":
                    self.stdout.write(f"removed a second copy named {labels[slug]}: {slug} is the job")
                else:
                    self.stdout.write(f"{kind}: {slug} ({labels[slug]})")
        strays = PeriodicTask.objects.exclude(name__in=labels).exclude(name__startswith="celery.")
        for task in strays.order_by("name"):
            # Not deleted: it may be an operator's own job, or one a later release dropped.
            self.stdout.write(f"not in PERIODIC_TASKS (left as is): {task.name}")
        self.stdout.write(self.style.SUCCESS(f"periodic tasks synced: {len(entries)}"))
