"""Suite-wide fixtures: the real PostgreSQL, API clients, and factories."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # With no DATABASE_URL the suite runs on the embedded PostgreSQL; start it before Django
    # opens a connection. The broker database is created alongside.
    if not os.environ.get("DATABASE_URL"):
        from core.embedded_pg import ensure_running

        ensure_running(("mall", os.environ.get("TEST_BROKER_DB_NAME", "test_broker")))


pytest_plugins = ["tests.fixtures"]


TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server", "mall"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests restore the rows migrations seed (default tiers, sign-in rewards, growth
    and pricing settings…) before they run.

    A transactional test ends by flushing every table, seeded rows included, and pytest-django
    runs those tests last, so the next one would otherwise see a database no deployment has.
    Django's serialized rollback reloads the migrated contents at the start of such a test.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker else {}
        if kwargs.get("transaction") or TRANSACTIONAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **kwargs), append=False)
