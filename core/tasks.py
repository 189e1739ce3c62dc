"""Celery tasks: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core.ratelimit import ratelimit_purge_expired


@shared_task(name="core.tasks.purge_rate_limit_counters")
def purge_rate_limit_counters() -> int:
    return ratelimit_purge_expired()
