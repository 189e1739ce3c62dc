"""flash_sessions_create_for_day: the default slots of a Shanghai day, made once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import FlashSession
from campaigns.services.flash import flash_sessions_create_for_day
from campaigns.tasks import create_flash_sessions
from tests.concurrency import run_concurrently
from tests.factories import FlashSessionFactory


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.mark.django_db
def test_creates_the_three_default_slots_of_the_day_once():
    day = dt.date(2030, 11, 24)

    created = flash_sessions_create_for_day(day=day)
    again = flash_sessions_create_for_day(day=day)

    assert [(s.name, s.starts_at, s.ends_at, s.unpaid_timeout_minutes, s.is_active, s.budget_fen)
            for s in created] == [
        ("11月24日 10:00 场", _at(day, 10), _at(day, 12), 15, True, None),
        ("11月24日 14:00 场", _at(day, 14), _at(day, 16), 15, True, None),
        ("11月24日 20:00 场", _at(day, 20), _at(day, 22), 15, True, None),
    ]
    assert again == []
    assert FlashSession.objects.count() == 3
    # Shanghai wall-clock: 10:00 there is 02:00 UTC
    assert created[0].starts_at == dt.datetime(2030, 11, 24, 2, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_session_an_operator_already_made_at_a_slot_is_kept(settings):
    settings.FLASH_SALE_UNPAID_TIMEOUT_MINUTES = 10
    day = dt.date(2030, 11, 24)
    mine = FlashSessionFactory.create(name="双11返场", starts_at=_at(day, 14), ends_at=_at(day, 15), is_active=False)

    created = flash_sessions_create_for_day(day=day)

    assert [(s.name, s.unpaid_timeout_minutes) for s in created] == [("11月24日 10:00 场", 10),
                                                                     ("11月24日 20:00 场", 10)]
    assert FlashSession.objects.filter(starts_at=_at(day, 14)).get() == mine


@pytest.mark.django_db
def test_slots_come_from_settings(settings):
    settings.FLASH_SALE_SLOTS = [(9, 1), (22, 4)]
    day = dt.date(2030, 1, 5)

    created = flash_sessions_create_for_day(day=day)

    assert [(s.name, s.starts_at, s.ends_at) for s in created] == [
        ("1月5日 09:00 场", _at(day, 9), _at(day, 10)),
        ("1月5日 22:00 场", _at(day, 22), _at(day + dt.timedelta(days=1), 2)),
    ]


@pytest.mark.django_db
def test_the_beat_task_makes_tomorrows_sessions_and_is_safe_to_run_twice():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    assert create_flash_sessions() == 3
    assert create_flash_sessions() == 0

    assert sorted(FlashSession.objects.values_list("starts_at", flat=True)) == [
        _at(tomorrow, 10), _at(tomorrow, 14), _at(tomorrow, 20)]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_create_each_slot_once():
    day = dt.date(2030, 11, 24)

    results = run_concurrently(lambda i: len(flash_sessions_create_for_day(day=day)), 4)

    assert sorted(results) == [0, 0, 0, 3]
    assert FlashSession.objects.count() == 3
