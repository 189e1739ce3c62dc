"""`manage.py load_demo_events`: ~60 days of demo mini-program traffic through the ingestion
service, flushed and rolled up (analytics/demo.py). Skipped when client events exist."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.demo import DAYS, demo_events_load


class Command(BaseCommand):
    help = "Load demo analytics events (about 60 days) through the ingestion path. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        demo_events_load(days=options["days"], log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"demo events ready in {time.monotonic() - started:.1f}s"))
