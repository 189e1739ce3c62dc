"""The demo's events go through the ingestion service and give every report something to show."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import DailyKpi, DeviceMember, Event, EventSource, Funnel
from analytics.selectors.kpis import kpi_total
from tests.builders import buyer
from tests.factories import SkuFactory


@pytest.fixture
def shop(db):
    for _ in range(6):
        SkuFactory.create()
    for _ in range(4):
        buyer()


def test_demo_events_load_once_and_are_rolled_up(shop):
    out = io.StringIO()
    call_command("load_demo_events", "--days", "4", stdout=out)
    stored = Event.objects.filter(source=EventSource.CLIENT).count()
    call_command("load_demo_events", "--days", "4", stdout=out)  # a second run adds nothing

    assert Event.objects.filter(source=EventSource.CLIENT).count() == stored > 400
    assert DeviceMember.objects.exists()  # some devices logged in
    today = timezone.localdate()
    assert kpi_total(first=today - dt.timedelta(days=4), last=today).visitors > 50
    assert DailyKpi.objects.values("day").distinct().count() == 4
    assert Funnel.objects.count() == 3
    assert "skipped" in out.getvalue()
