"""The mall in production shape on loopback: gunicorn, a Celery worker and beat on the configured
broker (PostgreSQL without Redis), and the WeChat sandbox, on the soak's own database.

`environment()` picks the ports and the settings every process shares, and must run before
Django is set up (settings read the environment once). `prepare()` recreates the database and
loads the demo mall into it; `Stack` starts and stops the processes.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import database
from bench.database import SETTINGS_MODULE
from bench.server import BASE_DIR, HOST, Service, free_port, gunicorn, wait_for_port

RESULTS_DIR = BASE_DIR / "bench" / "results" / "soak"
DB_NAME = "bench_soak"
STOCK_FLOOR = 5000  # every SKU gets at least this many units: the soak is not about selling out
# A flash session running for the whole soak, with scarce activity stock: it sells out, so a payment
# that reaches a cancelled flash order may find its units gone (refunded instead of revived).
FLASH_ITEMS, FLASH_UNITS, FLASH_TIMEOUT_MINUTES = 3, 5, 2
QUEUES = "default,notifications,analytics"
WORKER_CONCURRENCY = 2
# Settings of the soak's processes, on top of the production-shaped bench settings, so that the
# jobs a day spreads over hours happen within minutes: unpaid orders are cancelled (asking WeChat
# first) after 2 minutes, refunds with an unknown outcome are resubmitted after 20 s and refunds
# without a notify are queried after a minute. Logins are limited per client address, and every
# soak shopper comes from 127.0.0.1: the limit is raised so logins are not all refused as one phone.
SOAK_SETTINGS = {
    "ORDER_UNPAID_TIMEOUT_MINUTES": "2",
    "REFUND_RESUBMIT_AFTER_SECONDS": "20",
    "REFUND_QUERY_AFTER_MINUTES": "1",
    "WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS": "10",
    "RATE_LIMIT_LOGIN": "6000/m",
}


@dataclass(frozen=True)
class Ports:
    app: int
    sandbox: int  # the sandbox's HTTPS listener (refunds, client certificate) is on sandbox + 1


@dataclass(frozen=True)
class SoakData:
    skus: tuple[int, ...]
    products: tuple[int, ...]
    flash_items: tuple[tuple[int, int], ...]  # (flash item id, SKU id) in the session running during the soak
    operators: tuple[tuple[str, str], ...]  # (username, password) of two console operators
    paid_trades: list[dict[str, Any]] = field(repr=False)  # the demo's paid trades, for the sandbox


def environment() -> tuple[Ports, dict[str, str]]:
    """Choose the loopback ports and put the soak's settings in this process's environment (the
    children inherit a copy). Run it before Django is set up."""
    ports = Ports(app=free_port(), sandbox=_free_port_pair())
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "BENCH_DB_NAME": os.environ.get("BENCH_DB_NAME") or DB_NAME,
        "WECHAT_SANDBOX_PORT": str(ports.sandbox),
        "WECHAT_SANDBOX_CERT_DIR": str(RESULTS_DIR / "wechat-sandbox"),
        # Where WeChat's notifications go: this run's gunicorn.
        "SITE_URL": f"http://{HOST}:{ports.app}",
        "PYTHONUNBUFFERED": "1",
        **SOAK_SETTINGS,
    })
    return ports, dict(os.environ)


def _free_port_pair() -> int:
    """A free port whose next port is free too (the sandbox's HTTPS listener)."""
    for _ in range(50):
        port = free_port()
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, port + 1))
            return port
    raise RuntimeError("no two consecutive free loopback ports")


def prepare(*, seed: int) -> SoakData:
    """Recreate and migrate the soak database, load the demo mall, top up stock, sync the beat
    schedule, and create the two console operators. Django must be set up (bench.database)."""
    import secrets

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from catalog.models import Product, Sku, StockMovement
    from catalog.services import stock_adjust
    from shop.demo.sandbox import paid_order_trades

    database.recreate_and_migrate()
    call_command("load_demo_data", stdout=io.StringIO())
    call_command("sync_periodic_tasks", stdout=io.StringIO())
    skus = list(Sku.objects.filter(is_active=True, product__is_on_shelf=True).select_related("stock").order_by("pk"))
    for sku in skus:
        if sku.stock.available < STOCK_FLOOR:
            stock_adjust(sku=sku, delta=STOCK_FLOOR - sku.stock.available, reason=StockMovement.Reason.ADJUST,
                         note="soak: stock for the run")
    operators = []
    for n in (1, 2):
        username, password = f"soak_ops{n}", secrets.token_urlsafe(16)
        get_user_model().objects.create_superuser(username, f"{username}@example.com", password)
        operators.append((username, password))
    products = tuple(Product.objects.filter(is_on_shelf=True).order_by("pk").values_list("pk", flat=True))
    return SoakData(skus=tuple(s.pk for s in skus), products=products, flash_items=_flash_session(skus),
                    operators=tuple(operators), paid_trades=paid_order_trades())


def _flash_session(skus: list[Any]) -> tuple[tuple[int, int], ...]:
    """A session running from now for a day, FLASH_ITEMS items of FLASH_UNITS units at 70 % (never
    below cost), one per member."""
    import datetime as dt

    from django.utils import timezone

    from campaigns.models import FlashItem, FlashSession

    now = timezone.now()
    session = FlashSession.objects.create(name="压测秒杀场", starts_at=now - dt.timedelta(minutes=1),
                                          ends_at=now + dt.timedelta(days=1),
                                          unpaid_timeout_minutes=FLASH_TIMEOUT_MINUTES)
    chosen = sorted(skus, key=lambda sku: -sku.price_fen)[:FLASH_ITEMS]
    items = [FlashItem.objects.create(session=session, sku=sku, stock_total=FLASH_UNITS, stock_left=FLASH_UNITS,
                                      flash_price_fen=max(sku.cost_fen, sku.price_fen * 70 // 100), per_member_limit=1)
             for sku in chosen]
    return tuple((item.pk, item.sku_id) for item in items)


class Stack:
    """The sandbox, gunicorn, the worker and beat; `worker` can be killed and started again."""

    def __init__(self, ports: Ports, env: dict[str, str], *, gunicorn_workers: int) -> None:
        self.ports, self.env, self.gunicorn_workers = ports, env, gunicorn_workers
        python = sys.executable
        self.sandbox = Service("sandbox", [python, "manage.py", "wechat_sandbox", "--port", str(ports.sandbox)],
                               env=env, log_path=RESULTS_DIR / "sandbox.log")
        self.worker = Service("worker", [python, "-m", "celery", "-A", "config", "worker", "-Q", QUEUES,
                                         "-c", str(WORKER_CONCURRENCY), "-n", "soak@%h", "--loglevel=INFO"],
                              env=env, log_path=RESULTS_DIR / "worker.log")
        self.beat = Service("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                                     "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
                            env=env, log_path=RESULTS_DIR / "beat.log")

    @property
    def app_url(self) -> str:
        return f"http://{HOST}:{self.ports.app}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{HOST}:{self.ports.sandbox}/"

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        """Everything up for the block; everything stopped on the way out, whatever happened."""
        for log in ("sandbox", "worker", "beat", "gunicorn"):
            (RESULTS_DIR / f"{log}.log").unlink(missing_ok=True)
        with contextlib.ExitStack() as stack:
            stack.callback(self.sandbox.stop)
            self.sandbox.start()
            wait_for_port(self.ports.sandbox, service=self.sandbox)
            stack.enter_context(gunicorn(workers=self.gunicorn_workers, log_path=RESULTS_DIR / "gunicorn.log",
                                         port=self.ports.app, env=self.env))
            stack.callback(self.beat.stop)
            stack.callback(self.worker.stop)
            self.worker.start()
            self.beat.start()
            yield self

    def stop_load_processes(self) -> None:
        """Stop beat and the worker (the checks then read a database nobody writes to)."""
        self.beat.stop()
        self.worker.stop()


def results_path(name: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    return RESULTS_DIR / name
