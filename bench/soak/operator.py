"""The soak's operators: two people in the console (Django admin over HTTP, CSRF and all).

Every few seconds they open the after-sales waiting for review and approve them (同意; a refund
above the second-approval amount goes to the other operator for 复核通过), and ship some paid
orders (发货, one package, a fresh tracking number). What they click is what an operator clicks:
the console's own forms, so the approvals take the service's locks and queue the refund to the
worker after commit. Requests are counted like the shoppers' (shoppers.Tally).
"""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

import requests

from bench.soak.shoppers import Tally

CHANGE_LINK = re.compile(r'href="/admin/shop/{model}/(\d+)/change/')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROUND_SECONDS = (1.5, 3.0)
MAX_PER_ROUND = 8
SHIP_SHARE = 0.25  # of the paid orders listed in a round, how many get shipped


class Operator:
    """One console user: a requests session logged in through the admin's login form."""

    def __init__(self, base: str, username: str, password: str, tally: Tally) -> None:
        self.base, self.username, self.password, self.tally = base, username, password, tally
        self.http = requests.Session()
        self.logged_in = False

    def request(self, kind: str, method: str, path: str,
                data: dict[str, Any] | None = None) -> requests.Response | None:
        started = time.time()
        try:
            response = self.http.request(method, self.base + path, data=data, timeout=30, allow_redirects=True)
        except requests.RequestException as exc:
            self.tally.request(kind, None, started, time.time(), repr(exc).encode())
            return None
        self.tally.request(kind, response.status_code, started, time.time(), response.content)
        if response.status_code == 200 and "/admin/login/" in response.url:
            self.logged_in = False  # the session is gone: log in again next time
        return response

    def login(self) -> bool:
        page = self.request("console:login", "GET", "/admin/login/")
        token = _csrf(page)
        if token is None:
            return False
        answer = self.request("console:login", "POST", "/admin/login/?next=/admin/", {
            "csrfmiddlewaretoken": token, "username": self.username, "password": self.password})
        self.logged_in = answer is not None and answer.status_code == 200 and "/admin/logout/" in answer.text
        return self.logged_in

    def ids(self, model: str, status: str) -> list[int]:
        """The ids on the first page of the `model` changelist filtered by `status`."""
        page = self.request(f"console:{model}_list", "GET", f"/admin/shop/{model}/?status__exact={status}")
        if page is None or page.status_code != 200:
            return []
        pattern = re.compile(CHANGE_LINK.pattern.format(model=model))
        return sorted({int(pk) for pk in pattern.findall(page.text)})

    def submit(self, kind: str, path: str, data: dict[str, Any] | None = None) -> bool:
        """Open the console form at `path` and post it: True when the console took it (it then goes
        back to the object's page; a refusal shows the form again with the service's message)."""
        token = _csrf(self.request(kind, "GET", path))
        if token is None:
            return False
        answer = self.request(kind, "POST", path, {"csrfmiddlewaretoken": token, **(data or {})})
        return answer is not None and answer.status_code == 200 and answer.url.endswith("/change/")


def run_console(base: str, operators: list[tuple[str, str]], tally: Tally, stop: threading.Event,
                seed: int) -> None:
    """The operators' loop until `stop` is set: approve after-sales, review the big ones, ship."""
    rng = random.Random(seed)
    pair = [Operator(base, username, password, tally) for username, password in operators]
    while not stop.is_set():
        _round(pair, rng, tally, ship=True)
        stop.wait(rng.uniform(*ROUND_SECONDS))


def approve_remaining(base: str, operators: list[tuple[str, str]], tally: Tally, *, rounds: int = 20) -> None:
    """After the load: review every after-sale still waiting, so its refund runs before the checks."""
    pair = [Operator(base, username, password, tally) for username, password in operators]
    for _ in range(rounds):
        if not _round(pair, random.Random(0), tally, ship=False):
            return


def _round(pair: list[Operator], rng: random.Random, tally: Tally, *, ship: bool) -> int:
    """One pass over the console's queues; returns how many things were done."""
    first, second = pair
    for operator in pair:
        if not operator.logged_in:
            operator.login()
    done = 0
    if first.logged_in:
        for pk in first.ids("aftersale", "requested")[:MAX_PER_ROUND]:
            if first.submit("console:approve", f"/admin/shop/aftersale/{pk}/approve/"):
                tally.flow("after_sales_approved")
                done += 1
    if second.logged_in:
        for pk in second.ids("aftersale", "awaiting_second_approval")[:MAX_PER_ROUND]:
            if second.submit("console:approve_second", f"/admin/shop/aftersale/{pk}/approve/"):
                tally.flow("after_sales_second_approved")
                done += 1
    if ship and first.logged_in:
        paid = first.ids("order", "paid")
        for pk in rng.sample(paid, k=min(len(paid), MAX_PER_ROUND, max(1, round(len(paid) * SHIP_SHARE)))):
            tracking = "SF" + "".join(rng.choice("0123456789") for _ in range(12))
            if first.submit("console:ship", f"/admin/shop/order/{pk}/ship/", {"carrier": "SF",
                                                                              "tracking_no": tracking}):
                tally.flow("orders_shipped")
                done += 1
    return done


def _csrf(page: requests.Response | None) -> str | None:
    if page is None or page.status_code != 200:
        return None
    match = CSRF.search(page.text)
    return match.group(1) if match else None
