"""Running Celery tasks in tests: at once in the calling thread, or on a real worker (the
configured broker, every queue) for the tests that are about jobs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task, states
from celery.signals import task_postrun

QUEUES = ["default", "notifications", "analytics"]


@contextmanager
def real_worker() -> Iterator[None]:
    """Run a worker thread consuming every queue; tasks queued meanwhile run through the broker.

    Purges first, so tasks that earlier tests queued (for rows long gone) do not run ahead of
    this test's; and restores the app's queue selection, which start_worker(queues=...) changes
    for good.
    """
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.control.purge()
    amqp: Any = app.amqp  # kombu keeps the queue selection in an attribute its stubs leave out
    selected = amqp.queues._consume_from
    try:
        with start_worker(app, queues=QUEUES, perform_ping_check=False, pool="solo", concurrency=1,
                          shutdown_timeout=30):
            yield
    finally:
        amqp.queues._consume_from = selected


def run_on_worker(task: Task, *args: Any, timeout: float = 60) -> Any:
    """Queue `task` for the worker real_worker() started and wait until the worker has run it:
    its return value, or the exception it raised. Proof that a job ran to its end, so a test can
    then assert what it did (or that it changed nothing) without guessing how long to wait."""
    task_id = str(uuid.uuid4())
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def finished(*, task_id: str, retval: Any, state: str, **kwargs: Any) -> None:
        if task_id == expected:
            outcome.update(retval=retval, state=state)
            done.set()

    expected = task_id
    task_postrun.connect(finished, weak=False)
    try:
        task.apply_async(args=args, task_id=task_id)
        assert done.wait(timeout), f"the worker did not run {task.name} within {timeout}s"
    finally:
        task_postrun.disconnect(finished)
    if outcome["state"] != states.SUCCESS:
        raise outcome["retval"]
    return outcome["retval"]


@contextmanager
def celery_eager() -> Iterator[None]:
    """Tasks queued with .delay() run at once in the calling thread (after the commit that
    queued them, since they are queued from on_commit)."""
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
