"""Queueing a Celery task from a service, by the task's registered name.

A tasks module is a thin wrapper that imports the services it runs, so a service that imported
it back to call `.delay()` would close an import cycle. A service names the task instead
("shop.tasks.submit_refund"): the name is the task's stable identity anyway (beat's schedule and
the queue routes use it too), and the import graph stays one-way — tasks import services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)

_writing_history: ContextVar[bool] = ContextVar("jobs_writing_history", default=False)


@contextmanager
def jobs_not_queued() -> Iterator[None]:
    """Within (this thread or task only), enqueue() and enqueue_after_commit() queue nothing;
    a debug line names each job left out.

    For writing history whose follow-up work was done back then, such as the demo loader's old
    shipments, whose WeChat uploads it records as done: their jobs would only start, find
    nothing to do, and say so. Decided when the job is asked for, so a job asked for inside and
    committed after the block is not queued either.
    """
    token = _writing_history.set(True)
    try:
        yield
    finally:
        _writing_history.reset(token)


def enqueue_after_commit(task_name: str, *args: Any, robust: bool = False) -> None:
    """Queue the task registered as `task_name` with `args` once the current transaction commits.

    Outside a transaction it is queued at once; if the transaction rolls back it never is. The
    task is queued as enqueue() queues it.

    `robust=True`: a failure to queue (the broker is down) is logged instead of raised, for work a
    periodic sweep picks up later anyway; the transaction has committed either way.
    """
    if _writing_history.get():
        logger.debug("not queued (history written under jobs_not_queued): %s%r", task_name, args)
        return

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
    if _writing_history.get():
        logger.debug("not queued (history written under jobs_not_queued): %s%r", task_name, args)
        return
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
