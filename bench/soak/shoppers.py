"""The soak's shoppers: closed-loop mini-program users over loopback HTTP, bounded in time.

Each shopper is a thread playing one phone: it logs in with a wx.login() code from the WeChat
sandbox (a stable openid, so a re-login is the same member), adds an address, then until the
deadline picks what to do next — browse the home page, categories and products, fill the cart,
check out and place an order (an Idempotency-Key, replayed on a failed answer), pay it through the
sandbox as wx.requestPayment would (the sandbox then POSTs the signed notify to the mall; a share
of payments never notifies, as when WeChat's notify is lost, and a share notifies twice at once),
leave it unpaid, cancel it, or cancel it and pay anyway from a pay sheet left open, ask for
a refund of a paid order (an after-sale the operator approves in the console), claim coupons in
the coupon centre, sign in for points, look at its orders. Shoppers are spread over a few
processes so the generator is not capped by one interpreter's GIL.

Every request is counted by kind and status; the ones that got a 5xx or no answer at all are
kept with their start and end times, so the report can tell failures during the database
restart from the others. Only the standard library is imported here: the processes are spawned.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30.0
MAX_FAILURES_KEPT = 5000
THINK_SECONDS = (0.05, 0.4)
# What a shopper does next, and how often (weights).
ACTIONS = {
    "browse": 34, "cart": 10, "buy": 22, "my_orders": 8, "refund": 8, "coupons": 8, "signin": 6, "relogin": 2,
    "repay": 2,
}
# Of the orders placed: left unpaid for the auto-cancel job, cancelled by the shopper, cancelled
# while the pay sheet stays open and then paid anyway (the cancel must close the WeChat trade, or
# a payment whose notify is lost would never be counted nor refunded); the rest is paid.
ABANDON_SHARE, CANCEL_SHARE, CANCEL_THEN_PAY_SHARE = 0.06, 0.05, 0.04
CANCEL_THEN_PAY_FLASH_SHARE = 0.3  # a flash order's units are taken by someone else meanwhile
HESITATION_SECONDS = (2.0, 8.0)  # between cancelling and paying anyway
NO_NOTIFY_SHARE = 0.05  # paid at WeChat, but the notify never arrives: only orderquery can tell
DOUBLE_NOTIFY_SHARE = 0.05  # WeChat delivers the notify twice at once
FLASH_SHARE = 0.2  # of the purchases, at the flash-sale price (scarce activity stock, one per member)
RETRIES = 3  # a write answered 5xx or not at all is sent again (same Idempotency-Key) this many times


@dataclass(frozen=True)
class Plan:
    """What every shopper process needs: where the mall and the sandbox are, until when, what to buy."""

    app_port: int
    sandbox_port: int
    stop_at: float  # epoch seconds
    skus: tuple[int, ...]  # sellable SKU ids
    products: tuple[int, ...]  # on-shelf product ids
    flash_items: tuple[tuple[int, int], ...]  # (flash item id, its SKU id) of the session running now
    seed: int


class Stop(Exception):
    """The deadline passed: the shopper goes home."""


class Tally:
    """What one process saw: requests by "kind status", flows by name, failures (5xx or no answer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()  # "kind status code" of the 4xx answers
        self.flows: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.upstream: list[dict[str, Any]] = []  # 502 upstream_error: WeChat failed, said so on purpose

    def request(self, kind: str, status: int | None, started: float, ended: float, body: bytes) -> None:
        code = _error_code(body) if status is None or status >= 400 else ""
        with self.lock:
            self.requests[f"{kind} {status}"] += 1
            if status is not None and 400 <= status < 500:
                self.refusals[f"{kind} {status} {code}"] += 1
            if status is not None and status < 500:
                return
            entry = {"kind": kind, "status": status, "code": code, "started": started, "ended": ended,
                     "sample": body[:300].decode(errors="replace")}
            target = self.upstream if (status, code) == (502, "upstream_error") else self.failures
            if len(target) < MAX_FAILURES_KEPT:
                target.append(entry)

    def flow(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.flows[name] += n

    def as_json(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "refusals": dict(self.refusals), "flows": dict(self.flows),
                "failures": self.failures, "upstream": self.upstream}


def _error_code(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("code") or data.get("error") or "") if isinstance(data, dict) else ""


# --- the processes -------------------------------------------------------------------------------


def start(plan: Plan, *, shoppers: int, processes: int) -> tuple[list[Any], Any]:
    """Start the shopper processes (spawned); returns (processes, result queue) for collect()."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    groups = [list(range(shoppers))[i::processes] for i in range(processes)]
    workers = [ctx.Process(target=_process_main, args=(plan, group, results), daemon=True)
               for group in groups if group]
    for worker in workers:
        worker.start()
    return workers, results


def collect(workers: list[Any], results: Any, *, timeout: float) -> dict[str, Any]:
    """Wait for every shopper process's tally and add them up."""
    total: dict[str, Any] = {"requests": Counter(), "refusals": Counter(), "flows": Counter(), "failures": [],
                             "upstream": []}
    try:
        for _ in workers:
            part = results.get(timeout=timeout)
            total["requests"].update(part["requests"])
            total["refusals"].update(part["refusals"])
            total["flows"].update(part["flows"])
            total["failures"] += part["failures"]
            total["upstream"] += part["upstream"]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return total


def _process_main(plan: Plan, numbers: list[int], results: Any) -> None:
    tally = Tally()
    threads = [threading.Thread(target=Shopper(n, plan, tally).run, daemon=True) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(tally.as_json())


# --- one shopper ---------------------------------------------------------------------------------


class Shopper:
    def __init__(self, number: int, plan: Plan, tally: Tally) -> None:
        self.number, self.plan, self.tally = number, plan, tally
        self.rng = random.Random(plan.seed * 1000 + number)
        self.openid = f"soak_openid_{number:03d}"
        self.token = ""
        self.address_id: int | None = None
        self.paid: list[str] = []  # orders paid at WeChat, candidates for a refund
        self.unpaid: list[str] = []  # placed, pay failed: tried again later
        self.asked_refund: set[str] = set()
        self.cart_items: list[int] = []

    def run(self) -> None:
        try:
            # Spread the logins over the first seconds, as phones arrive.
            self._sleep(self.rng.uniform(0, 3))
            while True:
                if not self.token:
                    self.login()
                else:
                    action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
                    getattr(self, action)()
                self._sleep(self.rng.uniform(*THINK_SECONDS))
        except Stop:
            pass

    # --- HTTP ----------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if time.time() + seconds >= self.plan.stop_at:
            raise Stop
        time.sleep(seconds)

    def call(self, kind: str, method: str, path: str, body: Any = None, *, key: str | None = None,
             retry: bool = False) -> tuple[int | None, Any]:
        """One API call (retried with the same Idempotency-Key when `retry` and the answer was a 5xx
        or nothing); (status, parsed JSON or None). A 401 drops the token: the next turn logs in."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(RETRIES + 1 if retry else 1):
            if time.time() >= self.plan.stop_at:
                raise Stop
            status, raw = self._send(kind, self.plan.app_port, method, "/api/v1" + path, data, headers)
            if status is not None and status < 500:
                break
            if attempt < RETRIES and retry:
                self._sleep(self.rng.uniform(0.5, 2.0))
        if status == 401:
            self.token = ""
        return status, _json(raw)

    def sandbox(self, kind: str, path: str, body: dict[str, Any]) -> tuple[int | None, Any]:
        """A call to the sandbox's control endpoints: the phone's side of WeChat."""
        status, raw = self._send(kind, self.plan.sandbox_port, "POST", "/sandbox/" + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
        return status, _json(raw)

    def _send(self, kind: str, port: int, method: str, path: str, data: bytes | None,
              headers: dict[str, str]) -> tuple[int | None, bytes]:
        started = time.time()
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            status, raw = None, repr(exc).encode()
        finally:
            conn.close()
        self.tally.request(kind, status, started, time.time(), raw)
        return status, raw

    # --- what a shopper does ----------------------------------------------------------------------

    def login(self) -> None:
        status, login_code = self.sandbox("sandbox:login_code", "login_code", {"openid": self.openid})
        if status != 200:
            self._sleep(1)
            return
        status, answer = self.call("login", "POST", "/auth/wechat/login", {"code": login_code["code"]})
        if status != 200:
            self._sleep(self.rng.uniform(0.5, 2))
            return
        self.token = answer["token"]
        self.tally.flow("logins")
        if self.address_id is None:
            self._address()

    def _address(self) -> None:
        status, listed = self.call("address:list", "GET", "/addresses/")
        rows = listed.get("results", listed) if isinstance(listed, dict) else listed
        if status == 200 and rows:
            self.address_id = rows[0]["id"]
            return
        status, created = self.call("address:create", "POST", "/addresses/", {
            "receiver_name": f"压测{self.number}", "phone": f"138{self.number:08d}", "province": "上海市",
            "city": "上海市", "district": "徐汇区", "detail": f"漕溪北路 {self.number} 号", "is_default": True})
        if status == 201:
            self.address_id = created["id"]

    def relogin(self) -> None:
        self.token = ""
        self.login()

    def browse(self) -> None:
        plan, rng = self.plan, self.rng
        page = rng.choice(["home", "category", "product", "product", "list"])
        if page == "home":
            self.call("browse:home", "GET", "/flash-sales/sessions")
            self.call("browse:home", "GET", "/coupons/center")
            self.call("browse:products", "GET", "/products/?ordering=-sales")
        elif page == "category":
            self.call("browse:categories", "GET", "/categories/")
        elif page == "list":
            self.call("browse:products", "GET", f"/products/?page={rng.randint(1, 3)}")
        else:
            self.call("browse:product", "GET", f"/products/{rng.choice(plan.products)}/")

    def cart(self) -> None:
        if self.cart_items and self.rng.random() < 0.3:
            item = self.cart_items.pop()
            self.call("cart:remove", "DELETE", f"/cart/items/{item}/")
            return
        status, added = self.call("cart:add", "POST", "/cart/items/",
                                  {"sku_id": self.rng.choice(self.plan.skus), "quantity": 1})
        if status in (200, 201) and isinstance(added, dict) and "id" in added:
            self.cart_items.append(added["id"])
        self.call("cart:list", "GET", "/cart/items/")

    def buy(self) -> None:
        if self.address_id is None:
            self._address()
            return
        items: list[dict[str, int]] = [{"sku_id": sku, "quantity": self.rng.randint(1, 2)}
                                       for sku in self.rng.sample(self.plan.skus, self.rng.randint(1, 2))]
        flash = bool(self.plan.flash_items) and self.rng.random() < FLASH_SHARE
        if flash:
            self.call("browse:flash", "GET", "/flash-sales/sessions")
            item_id, sku_id = self.rng.choice(self.plan.flash_items)
            items = [{"sku_id": sku_id, "quantity": 1, "flash_item_id": item_id}]
        body: dict[str, Any] = {"items": items, "address_id": self.address_id}
        status, preview = self.call("checkout:preview", "POST", "/checkout/preview", body)
        if status != 200:
            return
        points = (preview.get("points") or {}).get("max_points", 0) if isinstance(preview, dict) else 0
        if points and self.rng.random() < 0.3:
            body["points"] = points
        status, order = self.call("order:place", "POST", "/orders/", body, key=uuid.uuid4().hex, retry=True)
        if status != 201:
            return
        self.tally.flow("orders_placed")
        order_no = order["order_no"]
        fate = self.rng.random()
        if fate < ABANDON_SHARE:
            self.tally.flow("orders_left_unpaid")
        elif fate < ABANDON_SHARE + CANCEL_SHARE:
            status, _ = self.call("order:cancel", "POST", f"/orders/{order_no}/cancel", retry=True)
            self.tally.flow("orders_cancelled" if status == 200 else "order_cancel_refused")
        elif fate < ABANDON_SHARE + CANCEL_SHARE + (CANCEL_THEN_PAY_FLASH_SHARE if flash else CANCEL_THEN_PAY_SHARE):
            self._pay(order_no, cancel_first=True)
        else:
            self._pay(order_no)

    def repay(self) -> None:
        """Go back to an order whose payment failed earlier and pay it now."""
        if self.unpaid:
            self._pay(self.unpaid.pop(0))

    def _pay(self, order_no: str, *, cancel_first: bool = False) -> None:
        status, params = self.call("order:pay", "POST", f"/orders/{order_no}/pay", retry=True)
        if status != 200:
            self.tally.flow(f"pay_refused_{status}")
            if status is None or status >= 500:
                self.unpaid.append(order_no)
            return
        if cancel_first:
            status, _ = self.call("order:cancel", "POST", f"/orders/{order_no}/cancel", retry=True)
            self.tally.flow("orders_cancelled_then_paid" if status == 200 else "order_cancel_refused")
            self._sleep(self.rng.uniform(*HESITATION_SECONDS))
        notify = self.rng.random() >= NO_NOTIFY_SHARE
        options: dict[str, Any] = {"params": params, "notify": notify}
        if notify and self.rng.random() < DOUBLE_NOTIFY_SHARE:
            options.update(times=2, concurrent=True)
            self.tally.flow("notifies_doubled")
        status, paid = self.sandbox("sandbox:request_payment", "request_payment", options)
        if status != 200:
            self.tally.flow(f"wechat_pay_refused_{paid.get('error') if isinstance(paid, dict) else status}")
            return
        self.tally.flow("orders_paid_at_wechat")
        self.paid.append(order_no)
        if not notify:
            self.tally.flow("notifies_withheld")
        elif all(d.get("acknowledged") for d in paid["deliveries"]):
            self.tally.flow("notifies_acknowledged")
        else:
            self.tally.flow("notifies_not_acknowledged")

    def my_orders(self) -> None:
        status, listed = self.call("orders:list", "GET", "/orders/")
        if status != 200 or not self.paid:
            return
        order_no = self.rng.choice(self.paid)
        status, order = self.call("orders:detail", "GET", f"/orders/{order_no}/")
        if status == 200 and order["status"] == "shipped" and self.rng.random() < 0.5:
            status, _ = self.call("order:confirm_receipt", "POST", f"/orders/{order_no}/confirm-receipt", retry=True)
            if status == 200:
                self.tally.flow("receipts_confirmed")

    def refund(self) -> None:
        """Ask for a refund (仅退款) of a paid, unshipped order: all of it, or one unit of one line."""
        candidates = [no for no in self.paid if no not in self.asked_refund]
        if not candidates:
            return
        order_no = self.rng.choice(candidates)
        status, order = self.call("orders:detail", "GET", f"/orders/{order_no}/")
        if status != 200 or order["status"] != "paid":
            if status == 200 and order["status"] not in ("pending_payment", "paid"):
                self.asked_refund.add(order_no)
            return
        self.asked_refund.add(order_no)
        lines = order["lines"]
        if self.rng.random() < 0.6:
            wanted = [{"order_line_id": line["id"], "quantity": line["quantity"]} for line in lines]
        else:
            wanted = [{"order_line_id": lines[0]["id"], "quantity": 1}]
        status, _ = self.call("aftersale:request", "POST", "/after-sales/", {
            "order_no": order_no, "kind": "refund_only", "reason": "no_longer_wanted", "description": "压测退款",
            "lines": wanted}, key=uuid.uuid4().hex, retry=True)
        self.tally.flow("refunds_requested" if status == 201 else f"refund_request_refused_{status}")

    def coupons(self) -> None:
        status, centre = self.call("coupons:centre", "GET", "/coupons/center")
        if status != 200:
            return
        entries = centre.get("results", []) if isinstance(centre, dict) else centre
        claimable = [e["template_id"] for e in entries if e.get("state") == "claimable"]
        if not claimable:
            return
        status, _ = self.call("coupon:claim", "POST", f"/coupons/center/{self.rng.choice(claimable)}/claim",
                              key=uuid.uuid4().hex, retry=True)
        self.tally.flow("coupons_claimed" if status == 201 else f"coupon_claim_refused_{status}")
        self.call("coupons:mine", "GET", "/coupons/mine")

    def signin(self) -> None:
        status, _ = self.call("signin", "POST", "/me/signin")
        if status == 201:
            self.tally.flow("signins")
        self.call("points:summary", "GET", "/me/points")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
