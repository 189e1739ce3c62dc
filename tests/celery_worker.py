"""Running Celery tasks in tests: at once in the calling thread, or on a real worker (the
configured broker, every queue) for the tests that are about jobs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
    selected = app.amqp.queues._consume_from
    try:
        with start_worker(app, queues=QUEUES, perform_ping_check=False, pool="solo", concurrency=1,
                          shutdown_timeout=30):
            yield
    finally:
        app.amqp.queues._consume_from = selected


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
