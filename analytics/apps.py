from django.apps import AppConfig

from core.tracking import recorder_register


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "数据分析"

    def ready(self) -> None:
        # Models load only once the app registry is ready, so the recorder is imported here.
        from analytics.services.events import event_lost, event_record  # noqa: PLC0415 - needs the app registry ready

        recorder_register(event_record, on_lost=event_lost)
