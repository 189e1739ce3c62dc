import os
from typing import Any

from celery import Celery, signals
from django.core.exceptions import ImproperlyConfigured

from config.checks import refuse_unsafe_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("mall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def refuse_to_start_on_unsafe_settings(**kwargs: Any) -> None:
    """A worker or beat exits before it takes a task when the settings are unsafe (config.checks).

    Celery logs and swallows an exception raised by a signal handler; a SystemExit gets through.
    """
    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as exc:
        raise SystemExit(str(exc)) from exc
