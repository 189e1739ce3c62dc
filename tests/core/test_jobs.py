"""core.jobs.enqueue_after_commit: a service queues a task by its registered name, after commit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import shared_task
from celery.exceptions import NotRegistered
from django.db import transaction

from config.celery import app
from core.jobs import enqueue, enqueue_after_commit, jobs_not_queued, registered_task

pytestmark = pytest.mark.django_db

RECORD = "tests.core.test_jobs.record"
calls: list[tuple[Any, ...]] = []


@shared_task(name=RECORD)
def record(*args: Any) -> None:
    calls.append(args)


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in place when queued, as Task.delay() runs them under task_always_eager."""
    calls.clear()
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def test_the_task_is_queued_when_the_transaction_commits(eager, django_capture_on_commit_callbacks):
    # when a service queues it inside its transaction
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            enqueue_after_commit(RECORD, 7, "SO1")
        # then nothing ran before the commit
        assert calls == []

    # then it ran once the transaction committed, with its arguments
    assert calls == [(7, "SO1")]


def test_a_rolled_back_transaction_queues_nothing(eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_after_commit(RECORD, 7)
            raise RuntimeError("the use case failed")

    assert callbacks == []
    assert calls == []


def test_nothing_asked_for_under_jobs_not_queued_is_queued(eager, caplog, django_capture_on_commit_callbacks):
    with caplog.at_level(logging.DEBUG, logger="core.jobs"), django_capture_on_commit_callbacks(execute=True):
        with jobs_not_queued():
            enqueue_after_commit(RECORD, 1)  # committed after the block: still not queued
            enqueue(RECORD, 2)
        enqueue_after_commit(RECORD, 3)

    assert calls == [(3,)]
    assert sum("not queued" in r.getMessage() for r in caplog.records) == 2


def test_an_unknown_task_name_is_refused(eager, django_capture_on_commit_callbacks):
    with pytest.raises(NotRegistered), django_capture_on_commit_callbacks(execute=True):
        enqueue_after_commit("shop.tasks.no_such_task", 1)


def test_a_broker_failure_is_logged_when_robust_and_raised_otherwise(monkeypatch, caplog,
                                                                     django_capture_on_commit_callbacks):
    # given a broker that refuses every message
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(registered_task(RECORD), "apply_async", refuse)

    # when a robust enqueue fails, the failure is logged and the caller carries on
    with caplog.at_level(logging.ERROR, logger="core.jobs"), django_capture_on_commit_callbacks(execute=True):
        enqueue_after_commit(RECORD, 7, robust=True)
    assert [r.getMessage() for r in caplog.records if r.name == "core.jobs"] == [
        f"could not queue {RECORD}(7,); the periodic sweep will pick it up"]

    # when a plain enqueue fails, the caller hears of it
    with pytest.raises(OSError, match="connection refused"), django_capture_on_commit_callbacks(execute=True):
        enqueue_after_commit(RECORD, 7)


def test_a_process_that_imported_no_tasks_module_finds_the_task_by_name():
    # A web process imports services but no tasks module: the name alone must be enough.
    script = textwrap.dedent("""
        import sys
        import django
        django.setup()
        from core.jobs import registered_task
        assert "shop.tasks" not in sys.modules
        print(registered_task("shop.tasks.upload_shipping_info").name)
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "shop.tasks.upload_shipping_info"
