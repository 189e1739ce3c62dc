#!/usr/bin/env python
"""`make run`: the whole mall on one machine with no configuration.

1. PostgreSQL: the embedded server (core.embedded_pg) unless DATABASE_URL is set.
2. migrate, createcachetable (the cache is a database table without Redis), collectstatic.
3. Demo data (once: the loader skips a catalogue that is already there), the demo operator
   `admin` with a password generated once under var/, and the beat schedule synced from code.
4. Children, each in its own process group, their output forwarded with a name prefix:
   web (runserver --insecure, which also serves static files), the WeChat sandbox, a Celery
   worker on every queue, and Celery beat with the DatabaseScheduler.
5. Once the sandbox listens, it is told of every paid order trade in the database (it starts
   with none, and WeChat would remember them): shipping a demo order then uploads its shipping
   info to WeChat as it would in production.

Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after a grace period). A child that
dies is reported; the others keep running. Production runs none of this: see README.md.

Standard library only, apart from Django for the setup steps; run it with the venv's Python.
Environment: MALL_HOST (0.0.0.0), MALL_PORT (8000), WECHAT_SANDBOX_PORT (8900).
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_GRACE_SECONDS = 15
USE_COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
COLOURS = {"web": "32", "sandbox": "35", "worker": "36", "beat": "33", "run": "1", "setup": "2"}

_print_lock = threading.Lock()


def say(name: str, message: str) -> None:
    label = f"{name:<7}|"
    if USE_COLOUR:
        label = f"\033[{COLOURS.get(name, '0')}m{label}\033[0m"
    with _print_lock:
        for line in message.splitlines() or [""]:
            print(f"{label} {line}", flush=True)


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.2)
    return False


# ---------------------------------------------------------------- setup (in this process)


class PrefixedStream(io.TextIOBase):
    """A text stream for call_command(stdout=...) that prints whole lines with a prefix."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            say(self.label, line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            say(self.label, self.pending)
            self.pending = ""


def prepare(env: dict[str, str]) -> tuple[dict[str, str], list[dict[str, object]]]:
    """Database, schema, static files, demo data, operator, schedule. Returns facts to print and
    the paid order trades the WeChat sandbox must know (see shop.demo.sandbox)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    facts: dict[str, str] = {}
    if os.environ.get("DATABASE_URL"):
        facts["database"] = "DATABASE_URL"
    else:
        from core.embedded_pg import PGDATA, _is_listening, ensure_running

        if _is_listening():
            say("run", "the embedded PostgreSQL port is already served: using that server")
        else:
            say("run", "starting the embedded PostgreSQL (the first time runs initdb)")
        url = ensure_running(("mall",))
        facts["database"] = f"{url} (embedded, data in {PGDATA.relative_to(ROOT)})"

    import django
    from django.core.management import call_command, get_commands

    django.setup()
    out = PrefixedStream("setup")
    say("run", "migrating the database")
    call_command("migrate", interactive=False, verbosity=0, stdout=out)
    call_command("createcachetable", verbosity=0, stdout=out)
    say("run", "collecting static files")
    call_command("collectstatic", interactive=False, verbosity=0, stdout=out)
    say("run", "demo data (loaded once; later runs find it and skip)")
    call_command("load_demo_data", stdout=out)
    call_command("load_demo_events", stdout=out)
    call_command("ensure_demo_operator", stdout=out)
    say("run", "syncing the beat schedule from settings.PERIODIC_TASKS")
    call_command("sync_periodic_tasks", stdout=out)
    out.flush()

    from core.management.commands.ensure_demo_operator import password_file

    facts["password"] = password_file().read_text().strip()
    facts["sandbox_command"] = "yes" if "wechat_sandbox" in get_commands() else ""
    from shop.demo.sandbox import paid_order_trades

    trades = paid_order_trades()
    from django.db import connections

    connections.close_all()
    return facts, trades


def register_paid_trades(sandbox_port: int, trades: list[dict[str, object]]) -> None:
    """The sandbox starts with no trades: tell it of those WeChat would remember as paid."""
    import requests

    from shop.demo.sandbox import sandbox_register_paid_orders
    from wechat.sandbox.client import SandboxRefused

    try:
        answer = sandbox_register_paid_orders(f"http://127.0.0.1:{sandbox_port}/", trades)
    except (requests.RequestException, SandboxRefused) as exc:
        say("run", f"could not tell the WeChat sandbox of the {len(trades)} paid orders "
                   f"({exc.__class__.__name__}: {exc}): shipping them will fail its WeChat upload")
        return
    say("run", f"WeChat sandbox: {answer['registered']} paid orders registered "
               f"({answer['known']} already known)")


# ---------------------------------------------------------------- children


def _child_setup() -> None:
    """In the child, before exec: own process group, and die with this script (Linux)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class Child:
    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.reported = False
        self.process: subprocess.Popen[str] = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1,
            preexec_fn=_child_setup,
        )
        self.reader = threading.Thread(target=self._forward, args=(self.process.stdout,), daemon=True)
        self.reader.start()

    def _forward(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            say(self.name, line.rstrip("\n"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        try:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, sig)  # its own group: pool processes go too
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass


def manage(*args: str) -> list[str]:
    return [PYTHON, str(ROOT / "manage.py"), *args]


def start_children(env: dict[str, str], host: str, port: int, sandbox_port: int,
                   with_sandbox: bool) -> list[Child]:
    children = [Child("web", manage("runserver", f"{host}:{port}", "--insecure", "--noreload"), env)]
    if with_sandbox:
        children.append(Child("sandbox", manage("wechat_sandbox", "--port", str(sandbox_port)), env))
    else:
        say("run", "the wechat_sandbox command is not there yet: WeChat login and pay will fail")
    children.append(Child("worker", [PYTHON, "-m", "celery", "-A", "config", "worker",
                                     "-Q", "default,notifications,analytics", "-c", "2",
                                     "--loglevel=INFO"], env))
    children.append(Child("beat", [PYTHON, "-m", "celery", "-A", "config", "beat",
                                   "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                                   "--loglevel=INFO"], env))
    return children


def stop_children(children: list[Child]) -> None:
    alive = [c for c in children if c.alive()]
    if not alive:
        return
    say("run", "stopping " + ", ".join(c.name for c in alive))
    for child in alive:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and any(c.alive() for c in alive):
        time.sleep(0.1)
    for child in alive:
        if child.alive():
            say("run", f"{child.name} did not stop in {STOP_GRACE_SECONDS}s: killing it")
        child.signal(signal.SIGKILL)  # also sweeps up anything left in its process group
    for child in alive:
        child.process.wait()
        child.reader.join(timeout=2)


def banner(host: str, port: int, sandbox_port: int, facts: dict[str, str], with_sandbox: bool) -> str:
    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        "小程序商城 is running",
        f"  Mall API (mini-program)  {base}/api/v1/   (e.g. {base}/api/v1/products/)",
        f"  API docs (OpenAPI)       {base}/api/docs/",
        f"  Operator console         {base}/admin/   login: admin / {facts['password']}",
        f"  WeChat sandbox           http://127.0.0.1:{sandbox_port}/sandbox/"
        + ("" if with_sandbox else "   (not started: command missing)"),
        f"  Phone shop (H5, 390 px)  http://127.0.0.1:{sandbox_port}/sandbox/shop/   (built only on the API)",
        f"  Database                 {facts['database']}",
        f"  Web server               runserver on {host}:{port} (demo only; production: gunicorn + nginx)",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare-only", action="store_true",
                        help="set up the database, demo data and operator, then exit")
    options = parser.parse_args()

    host = os.environ.get("MALL_HOST", "0.0.0.0")
    port = int(os.environ.get("MALL_PORT", "8000"))
    sandbox_port = int(os.environ.get("WECHAT_SANDBOX_PORT", "8900"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
        "PYTHONUNBUFFERED": "1",
        "WECHAT_SANDBOX_PORT": str(sandbox_port),
        # Where the sandbox sends payment and refund notifications: this run's web server.
        "SITE_URL": os.environ.get("SITE_URL", f"http://127.0.0.1:{port}"),
        # runserver serves each connection on a thread of its own: a connection kept for reuse
        # would stay open, idle, with every thread that ever ran.
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "0"),
    }

    if not options.prepare_only:
        # The sandbox also serves WeChat Pay's client-certificate API on the next port.
        busy = [p for p in (port, sandbox_port, sandbox_port + 1) if port_in_use(p)]
        if busy:
            say("run", f"port(s) {', '.join(map(str, busy))} already in use (another `make run`?). "
                       "Stop it, or set MALL_PORT / WECHAT_SANDBOX_PORT.")
            return 1

    try:
        facts, trades = prepare(env)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        say("run", f"setup failed: {exc.__class__.__name__}: {exc}")
        raise
    if options.prepare_only:
        return 0

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    with_sandbox = bool(facts["sandbox_command"])
    children = start_children(env, host, port, sandbox_port, with_sandbox)
    exit_code = 0
    try:
        web = children[0]
        if wait_for_port(port, web.process, timeout=60):
            if with_sandbox:
                sandbox = next(c for c in children if c.name == "sandbox")
                if wait_for_port(sandbox_port, sandbox.process, timeout=20):
                    register_paid_trades(sandbox_port, trades)
            say("run", banner(host, port, sandbox_port, facts, with_sandbox))
        elif not stop.is_set():
            say("run", f"the web server did not start listening on port {port}")
        parent = os.getppid()
        while not stop.is_set():
            if os.getppid() != parent:
                # Whoever started us (make, a terminal) is gone without a signal reaching us.
                say("run", "the parent process went away; stopping")
                break
            for child in children:
                if not child.reported and not child.alive():
                    child.reported = True
                    say("run", f"{child.name} exited with code {child.process.returncode}; "
                               "the others keep running (Ctrl-C stops them)")
            if all(c.reported for c in children):
                say("run", "every process has exited")
                exit_code = 1
                break
            stop.wait(0.5)
    finally:
        stop_children(children)
    say("run", "stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
