"""The project's wiring as an app, so Django loads its system checks and its admin."""

from django.apps import AppConfig

from config import checks


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "配置"

    def ready(self) -> None:
        checks.register()
