"""Celery tasks of the wechat app: thin wrappers around wechat.messages. Safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
