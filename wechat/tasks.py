"""Celery tasks of the wechat app: thin wrappers around wechat.messages and wechat.media_checks.
Safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from wechat.media_checks import media_check_submit, media_checks_due
from wechat.messages import subscribe_message_requeue_stale, subscribe_message_send

# A ceiling for Celery's own count; the real bound is WECHAT_SUBSCRIBE_MAX_ATTEMPTS, counted in
# the message log so it holds across re-queues too.
MAX_TASK_RETRIES = 20


@shared_task(bind=True, name="wechat.tasks.send_subscribe_message", max_retries=MAX_TASK_RETRIES)
def send_subscribe_message(self: Any, log_id: int) -> str:
    """Send the subscribe message logged as `log_id`; retries transient failures with backoff."""
    result = subscribe_message_send(log_id=log_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.outcome


@shared_task(name="wechat.tasks.requeue_stale_messages")
def requeue_stale_messages() -> int:
    """Queue again subscribe messages whose send was lost (broker down, worker crashed)."""
    return subscribe_message_requeue_stale()


@shared_task(bind=True, name="wechat.tasks.submit_media_check", max_retries=MAX_TASK_RETRIES)
def submit_media_check(self: Any, check_id: int) -> str:
    """Submit one member-uploaded image to WeChat's media check; retries transient failures."""
    outcome = media_check_submit(check_id=check_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="wechat.tasks.sweep_media_checks")
def sweep_media_checks() -> int:
    """Queue every media check whose submission is due (after a backoff, a lost task, a dead worker)."""
    due = media_checks_due()
    for check_id in due:
        submit_media_check.delay(check_id)
    return len(due)
