"""Queueing a Celery task from a service, by the task's registered name.

A tasks module is a thin wrapper that imports the services it runs, so a service that imported
it back to call `.delay()` would close an import cycle. A service names the task instead
("shop.tasks.submit_refund"): the name is the task's stable identity anyway (beat's schedule and
the queue routes use it too), and the import graph stays one-way — tasks import services.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(task_name: str, *args: Any, robust: bool = False) -> None:
    """Queue the task registered as `task_name` with `args` once the current transaction commits.

    Outside a transaction it is queued at once; if the transaction rolls back it never is. The
    task is queued as enqueue() queues it.

    `robust=True`: a failure to queue (the broker is down) is logged instead of raised, for work a
    periodic sweep picks up later anyway; the transaction has committed either way.
    """

    def send() -> None:
        try:
            enqueue(task_name, *args)
        except Exception:
            if not robust:
                raise
            logger.exception("could not queue %s%r; the periodic sweep will pick it up", task_name, args)

    transaction.on_commit(send)


def enqueue(task_name: str, *args: Any) -> None:
    """Queue the task registered as `task_name` with `args` now, exactly as its `.delay(*args)` would
    (its own options, the queue routes, and `task_always_eager`, which runs it in place).

    An unknown name raises NotRegistered. Inside a transaction, use enqueue_after_commit().
    """
    registered_task(task_name).apply_async(args=args)


def registered_task(task_name: str) -> Task:
    """The task registered as `task_name`, importing the apps' tasks modules the first time.

    A worker imports every app's tasks module when it starts; a web process imports none by
    itself (nothing there imports them), so the first lookup runs the same autodiscovery.
    """
    tasks = current_app.tasks
    if task_name not in tasks:
        current_app.autodiscover_tasks(force=True)
    return tasks[task_name]
