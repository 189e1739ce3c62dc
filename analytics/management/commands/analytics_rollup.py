"""Re-run the daily KPI rollup for a date range: `manage.py analytics_rollup 2026-11-01 2026-11-30`.

Each day is replaced whole, so running it over days already done changes nothing and over
missing days fills them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.rollups import kpi_rollup_range


class Command(BaseCommand):
    help = "重算每日指标（按日期范围，可重复执行）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("first", type=dt.date.fromisoformat, help="first day, YYYY-MM-DD")
        parser.add_argument("last", type=dt.date.fromisoformat, nargs="?", help="last day (default: first)")

    def handle(self, *args: Any, **options: Any) -> None:
        first: dt.date = options["first"]
        last: dt.date = options["last"] or first
        if last < first:
            raise CommandError("last day is before the first")
        days = kpi_rollup_range(first=first, last=last)
        self.stdout.write(f"rolled up {len(days)} day(s): {first} .. {last}")
