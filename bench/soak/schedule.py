"""The faults the soak injects, on a schedule fixed by the run's length.

- The Celery worker is killed with SIGKILL (the whole process group: its pool too, mid-task) and
  started again a few seconds later, several times, spread over the run.
- The embedded PostgreSQL is stopped (`pg_ctl stop -m fast`: every session is cut) and started
  again once, halfway; the database and the broker (PostgreSQL without Redis) are gone meanwhile.
  The window from the stop until it is back, plus a grace for the connections in flight, is
  where 5xx answers are expected. Skipped when `DATABASE_URL` names a server we do not own.
- The WeChat sandbox fails a share of WeChat API calls (503 or "system busy") and delays another
  share past the mall's HTTP timeout, from 10 % to 90 % of the run (wechat.sandbox.faults).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench.soak.stack import Stack

WORKER_DOWN_SECONDS = 3.0
DB_DOWN_SECONDS = 4.0
DB_GRACE_SECONDS = 3.0  # after the database is back, requests that started before may still fail
WECHAT_FAIL_RATIO = 0.10
WECHAT_DELAY_RATIO = 0.03
WECHAT_FAULTS_FROM, WECHAT_FAULTS_UNTIL = 0.10, 0.90
DB_RESTART_AT = 0.50


@dataclass(frozen=True)
class Settings:
    duration: float  # seconds of load
    worker_kills: int
    restart_database: bool
    wechat_delay_seconds: float  # past the mall's WECHAT_HTTP_TIMEOUT, so the caller times out
    seed: int


@dataclass
class Injector:
    """Runs the schedule in a thread from `start()`; `events` and `db_windows` say what happened."""

    settings: Settings
    stack: Stack
    sandbox: Any  # wechat.sandbox.client.SandboxControl
    events: list[dict[str, Any]] = field(default_factory=list)
    db_windows: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wechat_on = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-faults", daemon=True)

    def plan(self) -> list[tuple[float, str]]:
        """(seconds from the start, action) in time order."""
        duration, kills = self.settings.duration, self.settings.worker_kills
        steps = [(duration * WECHAT_FAULTS_FROM, "wechat_faults_on"),
                 (duration * WECHAT_FAULTS_UNTIL, "wechat_faults_off")]
        if self.settings.restart_database:
            steps.append((duration * DB_RESTART_AT, "restart_database"))
        # The kills are spread evenly over 10 %..90 % of the run, away from the database restart (10 s
        # before, 20 s after): one fault must not hide another.
        spans = [(0.1, 0.9)]
        if self.settings.restart_database:
            spans = [(0.1, DB_RESTART_AT - max(0.02, 10 / duration)), (DB_RESTART_AT + max(0.05, 20 / duration), 0.9)]
        spans = [(start, end) for start, end in spans if end > start]
        length = sum(end - start for start, end in spans)
        for n in range(kills):
            at = length * (n + 0.5) / kills
            for start, end in spans:
                if at <= end - start:
                    steps.append((duration * (start + at), "kill_worker"))
                    break
                at -= end - start
        return sorted(steps)

    def start(self) -> None:
        self.started_at = time.time()
        self._thread.start()

    def stop(self) -> None:
        """Stop injecting (whatever was left of the schedule is skipped) and undo what is on."""
        self._stop.set()
        self._thread.join(timeout=60)
        if self.wechat_on:
            self._wechat(on=False)

    def _run(self) -> None:
        for offset, action in self.plan():
            if self._stop.wait(max(0.0, self.started_at + offset - time.time())):
                return
            try:
                getattr(self, action)()
            except Exception as exc:  # noqa: BLE001 - a failed injection is reported, the run goes on
                self.errors.append(f"{action}: {type(exc).__name__}: {exc}")

    def _event(self, kind: str, started: float, **detail: Any) -> None:
        self.events.append({"kind": kind, "started": started, "ended": time.time(), **detail})

    def wechat_faults_on(self) -> None:
        self._wechat(on=True)

    def wechat_faults_off(self) -> None:
        self._wechat(on=False)

    def _wechat(self, *, on: bool) -> None:
        started = time.time()
        if on:
            self.sandbox.faults(fail_ratio=WECHAT_FAIL_RATIO, delay_ratio=WECHAT_DELAY_RATIO,
                                delay_seconds=self.settings.wechat_delay_seconds, seed=self.settings.seed)
        else:
            self.sandbox.faults(fail_ratio=0, delay_ratio=0)
        self.wechat_on = on
        self._event("wechat_faults_on" if on else "wechat_faults_off", started)

    def kill_worker(self) -> None:
        started = time.time()
        self.stack.worker.kill()
        time.sleep(WORKER_DOWN_SECONDS)
        self.stack.worker.start()
        self._event("worker_killed_and_restarted", started, down_seconds=WORKER_DOWN_SECONDS)

    def restart_database(self) -> None:
        from core import embedded_pg

        started = time.time()
        try:
            embedded_pg.stop()
            time.sleep(DB_DOWN_SECONDS)
        finally:
            embedded_pg.ensure_running(("postgres",))
            self.db_windows.append((started, time.time() + DB_GRACE_SECONDS))
        self._event("database_restarted", started, down_seconds=round(time.time() - started, 1))
