"""Suite-wide fixtures: the real PostgreSQL, API clients, and factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.apps import AppConfig, apps
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.signals import post_migrate
from pytest_django import DjangoDbBlocker
from pytest_django.fixtures import validate_django_db


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: transactional or a whole story (set below); make test-quick skips it")
    # With no DATABASE_URL the suite runs on the embedded PostgreSQL; start it before Django
    # opens a connection. The broker database is created alongside.
    from django.conf import settings

    if not os.environ.get("DATABASE_URL"):
        from core.embedded_pg import ensure_running

        ensure_running(("mall", settings.TEST_BROKER_DB_NAME))
    else:
        create_database_beside(settings.DATABASES["default"], settings.TEST_BROKER_DB_NAME)


def create_database_beside(database: dict[str, Any], name: str) -> None:
    """Create database `name` on the server `database` is on, unless it exists."""
    import psycopg

    params = {"host": database["HOST"], "port": database["PORT"] or None, "user": database["USER"],
              "password": database["PASSWORD"], **database.get("OPTIONS", {})}
    with psycopg.connect(dbname="postgres", autocommit=True,
                         **{key: value for key, value in params.items() if value not in ("", None)}) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


pytest_plugins = ["tests.fixtures"]


# --- the quick subset ----------------------------------------------------------------------------

TESTS = Path(__file__).parent
# Whole stories: the flows across apps, and the demo loader building the entire demo mall.
STORIES = (TESTS / "flows", TESTS / "scripts" / "test_load_demo_data.py")


def is_transactional(item: pytest.Item) -> bool:
    """Whether pytest-django runs `item` outside a rolled-back transaction (and flushes afterwards)."""
    marker = item.get_closest_marker("django_db")
    transaction_, reset_sequences, *_ = validate_django_db(marker) if marker else (False, False)
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(transaction_ or reset_sequences or fixtures & {"transactional_db", "live_server"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as `slow` what the inner loop can do without: every transactional test (threads racing on
    the real database, a live server, a Celery worker) and the whole stories.

    Marked here, from what a test uses and where it lives, so nobody has to remember to mark it;
    `make test-quick` runs `-m "not slow"`, `make test` runs everything.
    """
    for item in items:
        if is_transactional(item) or any(place == item.path or place in item.path.parents for place in STORIES):
            item.add_marker(pytest.mark.slow)


# --- transactional tests and the rows migrations seed ----------------------------------------------

# Django's own post_migrate handlers, which rebuild every content type and permission (with new ids)
# after a flush. While the tests run, the seed rows bring those back instead, ids and all, in a few
# COPYs rather than ~100 queries.
DJANGO_REBUILDERS: list[dict[str, Any]] = [
    {"receiver": create_contenttypes},
    {"receiver": create_permissions, "dispatch_uid": "django.contrib.auth.management.create_permissions"},
]


class SeedRows:
    """The rows the database holds right after migrate: those the data migrations make (today the
    default tiers, the sign-in reward table, the card plans, the growth-rule and member-price
    settings rows) and the content types and permissions. Copied once; found, not listed, so a new
    data migration is covered without touching this.

    A transactional test ends with a flush that empties every table, and flush then sends
    post_migrate so that apps can respond as if the database had just been migrated. `restore`
    answers it: it copies the rows back with their ids and moves the tables' sequences just past
    them, as after migrate. So whatever runs next, in whatever order, sees the database as
    migrated, and only those rows are written (not the whole serialized database, which
    serialized rollback reloads before every transactional test).
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.tables: list[tuple[type[models.Model], bytes]] = []

    def capture(self) -> None:
        connection = connections[self.using]
        quote = connection.ops.quote_name
        tables = {
            model._meta.db_table: model
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
        with connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in tables),
                list(tables),
            )
            for (table,) in sorted(cursor.fetchall()):
                with cursor.copy(f"COPY {quote(table)} TO STDOUT") as copy:
                    self.tables.append((tables[table], b"".join(copy)))

    def restore(self, sender: AppConfig, using: str, plan: Any = None, **kwargs: Any) -> None:
        if using != self.using or plan is not None:
            return  # another database, or a real migrate (its data migrations made the rows)
        connection = connections[using]
        quote = connection.ops.quote_name
        with transaction.atomic(using=using), connection.cursor() as cursor:
            for model, rows in self.tables:
                with cursor.copy(f"COPY {quote(model._meta.db_table)} FROM STDIN") as copy:
                    copy.write(rows)
            for sql in connection.ops.sequence_reset_sql(no_style(), [model for model, _ in self.tables]):
                cursor.execute(sql)

    @contextmanager
    def answering_flushes(self) -> Iterator[None]:
        """Within: after every flush, `restore` runs once (on the last app's post_migrate, all rows in
        one transaction since they reference each other across apps) and Django's rebuilders do not."""
        last_app = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
        for rebuilder in DJANGO_REBUILDERS:
            assert post_migrate.disconnect(**rebuilder), f"Django no longer connects {rebuilder}"
        post_migrate.connect(self.restore, sender=last_app, weak=False, dispatch_uid="tests.seed_rows")
        try:
            yield
        finally:
            post_migrate.disconnect(sender=last_app, dispatch_uid="tests.seed_rows")
            for rebuilder in DJANGO_REBUILDERS:
                post_migrate.connect(**rebuilder)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """The migrated test database, which every flush puts back as migrated."""
    seeds = SeedRows()
    with django_db_blocker.unblock():
        seeds.capture()
    with seeds.answering_flushes():
        yield
