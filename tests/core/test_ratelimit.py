"""core.ratelimit: fixed windows with one atomic increment, shared by every process."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import ratelimit
from core.models import RateLimitCounter
from core.ratelimit import Rate, rate_for, rate_parse, ratelimit_hit, ratelimit_hits, ratelimit_purge_expired
from tests.processes import run_in_processes

WINDOW_START = 1_699_999_200  # 2023-11-14, a multiple of 60 and of 3600: windows start here


@pytest.fixture
def clock(monkeypatch):
    """The rate limits' clock, at a window's start; `clock.now` moves it."""

    class Clock:
        now = float(WINDOW_START)

    monkeypatch.setattr(ratelimit, "clock", lambda: Clock.now)
    return Clock


@pytest.fixture
def small_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test": "3/m"}


def test_rate_parse_reads_count_and_period():
    assert rate_parse("20/m") == Rate(count=20, period=60)
    assert rate_parse("30/5m") == Rate(count=30, period=300)
    assert rate_parse(" 10 / h ") == Rate(count=10, period=3600)
    assert rate_parse("1/d") == Rate(count=1, period=86400)


@pytest.mark.parametrize("text", ["", "20", "20/", "0/m", "20/0m", "20/w", "-1/m", "20/m/s", "x/m"])
def test_rate_parse_refuses_anything_else(text):
    with pytest.raises(ValueError):
        rate_parse(text)


def test_an_unknown_scope_or_a_malformed_rate_is_a_configuration_error(settings):
    settings.RATE_LIMITS = {"broken": "lots"}
    with pytest.raises(ImproperlyConfigured, match="'nothing'"):
        rate_for("nothing")
    with pytest.raises(ImproperlyConfigured, match="'broken'"):
        rate_for("broken")


def test_every_default_limit_parses(settings):
    assert all(rate_for(scope).count >= 1 for scope in settings.RATE_LIMITS)


def test_the_limit_holds_in_a_window_and_the_next_window_starts_again(db, clock, small_limit):
    clock.now = WINDOW_START + 15.5
    decisions = [ratelimit_hit(scope="test", subject="m1") for _ in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.hits for d in decisions] == [1, 2, 3, 4, 5]
    assert decisions[3].retry_after == 45  # 44.5 s to the window's end, rounded up

    clock.now = WINDOW_START + 60
    assert ratelimit_hit(scope="test", subject="m1") == ratelimit.Decision(allowed=True, hits=1, retry_after=60)


def test_subjects_and_scopes_count_separately(db, clock, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test": "1/m", "other": "1/m"}

    assert ratelimit_hit(scope="test", subject="m1").allowed
    assert not ratelimit_hit(scope="test", subject="m1").allowed
    assert ratelimit_hit(scope="test", subject="m2").allowed
    assert ratelimit_hit(scope="other", subject="m1").allowed


def test_several_subjects_are_counted_at_once_each_against_its_own_limit(db, clock, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test": "1/m", "other": "2/m"}

    first = ratelimit_hits([("test", "m1"), ("other", "a1")])
    second = ratelimit_hits([("other", "a1"), ("test", "m1")])  # the order given is the order answered

    assert [(d.allowed, d.hits) for d in first] == [(True, 1), (True, 1)]
    assert [(d.allowed, d.hits) for d in second] == [(True, 2), (False, 2)]
    assert ratelimit_hits([("test", "m2"), ("test", "m2")]) == [ratelimit.Decision(True, 1, 60)] * 2


def test_a_long_subject_is_hashed_into_the_key(db, clock, small_limit):
    ratelimit_hit(scope="test", subject="a" + "1.2.3.4," * 100)

    (counter,) = RateLimitCounter.objects.all()
    assert len(counter.key) == len("test:") + 64


def test_purge_deletes_finished_windows_only(db, clock, small_limit):
    clock.now = WINDOW_START - 30  # the previous window: it has ended by now
    ratelimit_hit(scope="test", subject="m1")
    clock.now = dt.datetime.now(tz=dt.UTC).timestamp()
    ratelimit_hit(scope="test", subject="m1")

    assert ratelimit_purge_expired() == 1
    assert RateLimitCounter.objects.get().window == int(clock.now // 60)


@pytest.mark.django_db(transaction=True)
def test_twenty_processes_at_once_get_exactly_the_limit(settings):
    # Each process increments in its own session: a read-modify-write would let most of them in.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test": "5/h"}

    decisions = run_in_processes(lambda i: ratelimit_hit(scope="test", subject="m1"), 20)

    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.hits for d in decisions) == list(range(1, 21))
    assert RateLimitCounter.objects.get().hits == 20
