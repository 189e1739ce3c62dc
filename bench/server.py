"""The app served the way production serves it: gunicorn, sync workers, `config.wsgi`."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.database import SETTINGS_MODULE

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_PATH = "/bench/ping"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(*, workers: int, log_path: Path) -> Iterator[int]:
    """Run gunicorn on a free loopback port for the duration of the block; yield the port.

    The server is stopped on the way out whatever happened inside, and killed if it does not
    stop in time. Its own log (errors only, no access log) goes to `log_path`.
    """
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        # Its own session: a Ctrl-C at the terminal reaches only us, and we stop it in order.
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--chdir", str(BASE_DIR),
             "--bind", f"{HOST}:{port}", "--workers", str(workers), "--worker-class", "sync",
             "--log-level", "warning", "--error-logfile", "-"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            _wait_ready(proc, port, log_path)
            yield port
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Poll the ping endpoint until it answers 200; fail early if gunicorn exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log_path}:\n"
                               + log_path.read_text(errors="replace")[-2000:])
        if _ping(port) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {READY_PATH} within {START_TIMEOUT:.0f}s; see {log_path}")


def _ping(port: int) -> int | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", READY_PATH)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL to the whole group if it hangs."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
