"""The app served the way production serves it: gunicorn, sync workers, `config.wsgi`; and the
other long-running processes a run may need beside it (a Celery worker, beat, the WeChat sandbox,
a Redis server), each in its own session so it can be stopped, or killed, as a whole."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bench.database import SETTINGS_MODULE

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_PATH = "/bench/ping"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package (scripts/install_redis.sh, run by `make bootstrap`)


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(*, workers: int, log_path: Path, port: int | None = None,
             env: Mapping[str, str] | None = None) -> Iterator[int]:
    """Run gunicorn on `port` (None: a free loopback port) for the duration of the block; yield the port.

    `env` replaces this process's environment for the server (DJANGO_SETTINGS_MODULE is always the
    bench's). The server is stopped on the way out whatever happened inside, and killed if it does
    not stop in time. Its own log (errors only, no access log) goes to `log_path`.
    """
    port = port or free_port()
    env = {**(os.environ if env is None else env), "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
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


def redis_binary() -> str | None:
    """The redis-server to start, or None when it is not installed."""
    return shutil.which("redis-server") or (REDIS_SERVER if os.access(REDIS_SERVER, os.X_OK) else None)


@contextlib.contextmanager
def redis_server(*, log_path: Path) -> Iterator[str]:
    """A throw-away Redis server on a free loopback port for the duration of the block (no
    persistence); yield its URL. As tests/campaigns/test_flash_gate.py starts it."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is missing: run scripts/install_redis.sh")
    port = free_port()
    service = Service("redis-server", [binary, "--port", str(port), "--bind", HOST, "--save", "",
                                       "--appendonly", "no"], env=os.environ, log_path=log_path).start()
    try:
        wait_for_port(port, service=service)
        yield f"redis://{HOST}:{port}/0"
    finally:
        service.stop()


class Service:
    """A long-running child process (a Celery worker, beat, the WeChat sandbox) that can be
    started, killed and started again; its output is appended to `log_path`.

    Each start is its own session and process group, so a kill reaches the pool processes a
    Celery worker forks, and a Ctrl-C at the terminal reaches only us.
    """

    def __init__(self, name: str, args: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> None:
        self.name, self.args, self.env, self.log_path = name, list(args), dict(env), log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Service:
        log_path = self.log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.args, cwd=BASE_DIR, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash or the OOM killer would; then reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """The graceful stop (SIGTERM), then SIGKILL to the group if it hangs; also sweeps up any
        process left in the group."""
        if self.proc is None:
            return
        _stop(self.proc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_for_port(port: int, *, service: Service, timeout: float = START_TIMEOUT) -> None:
    """Wait until something listens on loopback `port`; fail early if `service` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited; see {service.log_path}:\n"
                               + service.log_path.read_text(errors="replace")[-2000:])
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not listen on port {port} within {timeout:.0f}s; see {service.log_path}")


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Poll the ping endpoint until it answers 200; fail early if gunicorn exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log_path}:\n"
                               + log_path.read_text(errors="replace")[-2000:])
        if ping(port) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {READY_PATH} within {START_TIMEOUT:.0f}s; see {log_path}")


def ping(port: int) -> int | None:
    """The status of `GET /bench/ping` on loopback `port`; None when nothing answered."""
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
