"""The project's wiring as an app, so Django loads its system checks and its admin, and keeps the
console's roles (config.roles) in step with the code after every `migrate`."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from config import checks


def sync_roles_after_migrate(sender: AppConfig, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """After `migrate` (a plan, even an empty one), not after a flush: a flushed database gets its
    migrated rows back from whoever flushed it (the test suite's seed rows), groups included."""
    if plan is None:
        return
    from config.roles import roles_sync  # noqa: PLC0415 - needs the models, loaded once ready() has run

    roles_sync(using=using)


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "配置"

    def ready(self) -> None:
        checks.register()
        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="config.roles_sync")
