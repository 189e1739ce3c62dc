"""The project's wiring as an app, so Django loads its system checks and its admin, and keeps the
console's roles (config.roles) in step with the code after every `migrate`."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from config import checks


def sync_roles_after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from config.roles import roles_sync  # noqa: PLC0415 - needs the models, loaded once ready() has run

    roles_sync(using=using)


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "配置"

    def ready(self) -> None:
        checks.register()
        # Also after a test database is flushed, which empties the groups with everything else.
        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="config.roles_sync")
