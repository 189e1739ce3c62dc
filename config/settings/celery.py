"""Celery: Redis when `REDIS_URL` is set, otherwise the embedded PostgreSQL as the broker."""

from __future__ import annotations

from .database import DATABASE_URL, REDIS_URL
from .env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL or (
    "sqla+" + DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1)
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "analytics.*": {"queue": "analytics"},
    "wechat.tasks.send_*": {"queue": "notifications"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
