"""The event table's partitions and retention, the flush, the router, and a purchase that does not
need analytics to be up."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection

from analytics import partitions
from analytics.models import DailyKpi, DeviceMember, Event, EventBuffer, EventLoss
from analytics.routers import AnalyticsRouter
from analytics.services.storage import events_flush, events_partitions_maintain
from members.models import Member
from shop.models import Order, OrderStatus
from tests.analytics.support import at, stored
from tests.analytics.test_events_api import analytics_table_missing
from tests.builders import pay, placed_order
from tests.factories import SkuFactory, default_freight


def months() -> list[str]:
    with connection.cursor() as cursor:
        return [f"{m:%Y-%m}" for m in partitions.partitions_existing(cursor)]


def partition_of(event: Event) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM analytics_event WHERE id = %s", [event.pk])
        return str(cursor.fetchone()[0])


def test_partitions_are_made_ahead_and_rows_in_the_default_partition_move_to_theirs(db):
    early = stored("page_view", at("2031-03-15"), device="device-0001")
    assert partition_of(early) == "analytics_event_default"

    result = events_partitions_maintain(today=dt.date(2031, 1, 20))

    assert result.created == ["analytics_event_y2031m01", "analytics_event_y2031m02",
                              "analytics_event_y2031m03"]
    assert partition_of(early) == "analytics_event_y2031m03"
    assert events_partitions_maintain(today=dt.date(2031, 1, 20)).created == []  # idempotent


def test_partitions_past_the_retention_are_dropped(db, settings):
    settings.ANALYTICS_EVENT_RETENTION_MONTHS = 13
    kept = stored("page_view", at("2031-01-01", "00:00"), device="device-0001")
    old = stored("page_view", at("2030-12-31", "23:59"), device="device-0001")
    events_partitions_maintain(today=dt.date(2031, 1, 5))

    result = events_partitions_maintain(today=dt.date(2032, 1, 5))

    assert result.dropped == ["analytics_event_y2030m12"]
    assert "2031-01" in months()
    assert list(Event.objects.filter(pk__in=[kept.pk, old.pk]).values_list("pk", flat=True)) == [kept.pk]


def test_the_flush_stores_each_event_id_once_and_links_devices(db):
    member = 41
    stored("page_view", at("2026-11-02"), device="device-a")  # already stored earlier
    repeated = Event.objects.get().event_id
    EventBuffer.objects.bulk_create([
        EventBuffer(event_id=repeated, name="page_view", anonymous_id="device-a", occurred_at=at("2026-11-02"),
                    received_at=at("2026-11-02"), source="client"),
        *[EventBuffer(event_id=event_id, name="page_view", anonymous_id="device-a", member_id=member,
                      occurred_at=at("2026-11-02", "10:05"), received_at=at("2026-11-02", "10:05"), source="client")
          for event_id in ["0b6c0f36-63b0-4f5e-9a59-6a0bd9c6a2f1"] * 2],
    ])

    result = events_flush(chunk=2)

    assert (result.taken, result.stored) == (3, 1)
    assert Event.objects.count() == 2
    assert list(DeviceMember.objects.values_list("anonymous_id", "member_id")) == [("device-a", member)]
    assert not EventBuffer.objects.exists()


@pytest.fixture
def sku(db):
    default_freight()
    return SkuFactory.create(stock=5, price_fen=2500)


def test_with_analytics_down_an_order_is_placed_and_paid_and_the_loss_counted(sku, django_capture_on_commit_callbacks):
    with analytics_table_missing("analytics_eventbuffer"), django_capture_on_commit_callbacks(execute=True):
        order = placed_order(lines=[(sku, 2)])
        order = pay(order)

    assert order.status == OrderStatus.PAID
    assert Order.objects.get(pk=order.pk).paid_fen == order.payable_fen
    lost = dict(EventLoss.objects.values_list("name", "lost"))
    assert lost["order_placed"] == lost["order_paid"] == 1
    events_flush()
    assert not Event.objects.filter(name__in=["order_placed", "order_paid"]).exists()


ANALYTICS_DB = {"analytics": {"ENGINE": "django.db.backends.postgresql", "NAME": "elsewhere"}}


def test_the_router_sends_analytics_to_its_own_database_when_one_is_configured(settings, monkeypatch):
    router = AnalyticsRouter()
    assert router.db_for_write(Event) == "default"

    # The router reads the aliases configured; the connections themselves are not needed here.
    monkeypatch.setattr("analytics.routers.settings", SimpleNamespace(DATABASES={**settings.DATABASES, **ANALYTICS_DB}))
    assert (router.db_for_read(Event), router.db_for_write(DailyKpi)) == ("analytics", "analytics")
    assert router.db_for_write(EventLoss) is None  # counts losses where analytics is down
    assert router.db_for_read(Member) is None
    assert router.allow_migrate("analytics", "analytics", "event") is True
    assert router.allow_migrate("default", "analytics", "event") is False
    assert router.allow_migrate("analytics", "shop", "order") is False
    assert router.allow_migrate("default", "analytics", "eventloss") is True
