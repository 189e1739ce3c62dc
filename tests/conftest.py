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
