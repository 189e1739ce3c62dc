"""`manage.py load_demo_data`: the demo catalogue, members and orders (see shop/demo/loader.py)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count

from shop.demo.loader import load_demo_data
from shop.models import Order


class Command(BaseCommand):
    help = "Load the demo mall (catalogue with pictures, members, orders in every state). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        report = load_demo_data(log=self.stdout.write)
        for line in report.lines():
            self.stdout.write(line)
        by_status = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by("status"))
        self.stdout.write("orders in the database: " + (", ".join(f"{k} {v}" for k, v in by_status.items())
                                                        or "none"))
        self.stdout.write(self.style.SUCCESS(f"demo data ready in {time.monotonic() - started:.1f}s"))
