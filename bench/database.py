"""The bench database: dropped, recreated and migrated at the start of every run.

Django is configured with `config.settings.bench` before anything here runs; its DATABASES entry
names the bench database on the usual server (embedded, or `DATABASE_URL`'s).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

SETTINGS_MODULE = "config.settings.bench"


def configure_django() -> None:
    """Point this process (and the gunicorn it starts) at the bench settings and set Django up.

    Starts the embedded PostgreSQL first when `DATABASE_URL` is unset, because the settings read
    its address and the drop/create below needs a live server.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    if not os.environ.get("DATABASE_URL"):
        from core.embedded_pg import ensure_running

        ensure_running(("postgres",))  # exists already: just starts the server if it is down
    import django
    from django.conf import settings

    django.setup()
    # whitenoise warns on every worker start when STATIC_ROOT is missing (scripts/test.sh does the same).
    os.makedirs(settings.STATIC_ROOT, exist_ok=True)


def conninfo(dbname: str | None = None) -> dict[str, Any]:
    """psycopg connection keywords for the bench database (or `dbname` on the same server)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {"dbname": dbname or db["NAME"], "user": db.get("USER") or None,
              "password": db.get("PASSWORD") or None, "host": db.get("HOST") or None,
              "port": db.get("PORT") or None}
    params.update(db.get("OPTIONS") or {})
    return {k: v for k, v in params.items() if v is not None}


def database_name() -> str:
    from django.conf import settings

    return str(settings.DATABASES["default"]["NAME"])


@contextlib.contextmanager
def exclusive_run(*, wait_seconds: float = 600) -> Iterator[None]:
    """Hold a server-wide advisory lock on the bench database's name for the whole block.

    A second run (another terminal, another checkout on the same server) would drop the database
    under the first one and share its CPU; it waits here instead. The lock lives in a session on
    the maintenance database and goes away with it, even if this process dies.
    """
    import psycopg

    key = f"bench:{database_name()}"
    conn = psycopg.connect(**conninfo("postgres"), autocommit=True)
    try:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while not _try_lock(conn, key):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: another run still holds {key} after {wait_seconds:.0f}s")
            if not announced:
                print(f"bench: another bench run holds {key}; waiting for it to finish", flush=True)
                announced = True
            time.sleep(2)
        yield
    finally:
        conn.close()


def _try_lock(conn: Any, key: str) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
    return bool(row and row[0])


def recreate_and_migrate() -> None:
    """Drop the bench database (kicking out leftover sessions), create it empty, migrate it.

    Runs before Django opens its own connection, so nothing of ours holds the database open.
    """
    import psycopg
    from django.core.management import call_command

    name = database_name()
    if not name.startswith("bench"):
        # The drop below must never reach a real database, whatever BENCH_DB_NAME says.
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must start with 'bench'")
    with psycopg.connect(**conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)


def close_django_connections() -> None:
    """Close this process's Django connections (before the load starts, and at the end)."""
    from django.db import connections

    connections.close_all()
