from django.apps import AppConfig
from django.urls import register_converter

from core.api.converters import NumberConverter


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "基础"

    def ready(self) -> None:
        # Before any URLconf is loaded: the API's routes use <number:...> (core.api.converters).
        register_converter(NumberConverter, "number")
