"""Group-buy rush for the bench: 200 clients join 50 groups of 3 at once, then all pay at once.

Fifty groups are opened beforehand (each leader's order placed and paid in-process), so each has
two seats left: the crowd is twice what the seats hold, and every group sees a last-seat race.
Phase one: every client, a member of its own, sends `POST /api/v1/group-buys/groups/<no>/join` at
the same moment (released together by a barrier); reported: orders/s over the burst, p50 and p99.
Phase two: WeChat's signed payment notify for every order placed arrives at once
(`POST /api/v1/payments/wechat/notify`): seats are taken here, under each group's row lock;
reported the same way. The check: no group holds more seats than its size, the seats counted on
each group equal its seated members, every original group is full, and every payer without a seat
leads a new group (the default setting), so the seats add up to the payments.

A one-shot burst rather than the timed windows of the other endpoints: the race is the point, and
a group is full after its first two payers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

GROUPS = 50
GROUP_SIZE = 3
STOCK = 1_000_000


@dataclass(frozen=True)
class GroupBuyData:
    sku_id: int
    item_id: int
    group_nos: tuple[str, ...]
    tokens: tuple[str, ...]


@dataclass
class Burst:
    label: str
    clients: int
    seconds: float = 0.0
    statuses: list[int | None] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def ok(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)

    def percentile(self, p: float, *, status: int | None = None) -> float:
        """Nearest-rank percentile of the latencies in ms, of every request or of those answered
        with `status` (0 when there are none)."""
        ordered = sorted(ms for s, ms in zip(self.statuses, self.latencies_ms, strict=True)
                         if status is None or s == status)
        if not ordered:
            return 0.0
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def load_group_buy(*, product_id: int, clients: int) -> GroupBuyData:
    """A running 3-person activity on a fresh SKU of `product_id`, GROUPS groups opened and paid by
    their leaders, and `clients` joiners with tokens."""
    from django.utils import timezone

    from campaigns.models import GroupBuy, GroupBuyActivity, GroupBuyItem
    from catalog.models import Sku, Stock, StockMovement
    from shop.services.orders import CheckoutInput, GroupChoice, LineInput, order_place

    sku = Sku.objects.create(product_id=product_id, code="BENCH-GROUP", specs={"规格": "拼团装"},
                             price_fen=19900, original_price_fen=29900, cost_fen=5000)
    Stock.objects.create(sku=sku, available=STOCK)
    StockMovement.objects.create(sku=sku, delta=STOCK, reason=StockMovement.Reason.INITIAL)
    now = timezone.now()
    activity = GroupBuyActivity.objects.create(name="bench 拼团", starts_at=now - dt.timedelta(minutes=1),
                                               ends_at=now + dt.timedelta(hours=6), group_size=GROUP_SIZE)
    item = GroupBuyItem.objects.create(activity=activity, sku=sku, group_price_fen=9900, stock_total=STOCK,
                                       stock_left=STOCK)
    leaders = _members("leader", GROUPS)
    group_nos = []
    for member in leaders:
        order, _ = order_place(member=member, data=CheckoutInput(items=(LineInput(sku.pk, 1),),
                                                                 group=GroupChoice(item.pk)))
        _pay_in_process(order.order_no, order.payable_fen)
        group_nos.append(GroupBuy.objects.get(group_no=order.order_no).group_no)
    joiners = _members("joiner", clients)
    return GroupBuyData(sku_id=sku.pk, item_id=item.pk, group_nos=tuple(group_nos), tokens=_tokens(joiners))


def _members(kind: str, count: int) -> list[Any]:
    from members.models import Address, Member

    members = Member.objects.bulk_create(Member(openid=f"o-bench-group-{kind}-{i:05d}", nickname=f"拼团{i}")
                                         for i in range(count))
    Address.objects.bulk_create(Address(member=m, receiver_name="李四", phone="13900139000", province="上海市",
                                        city="上海市", district="浦东新区", detail="世纪大道 1 号", is_default=True)
                                for m in members)
    return members


def _tokens(members: list[Any]) -> tuple[str, ...]:
    from django.utils import timezone

    from members.services.identity import _token_issue

    now = timezone.now()
    return tuple(_token_issue(member=m, now=now)[0] for m in members)


def _pay_in_process(order_no: str, amount_fen: int) -> None:
    from django.utils import timezone

    from payments.models import Payment
    from payments.services import payment_record_paid
    from shop.models import ORDER_PAYABLE_KIND
    from wechat.gateway import PaymentNotice

    Payment.objects.get_or_create(out_trade_no=order_no, defaults={"kind": ORDER_PAYABLE_KIND,
                                                                   "amount_fen": amount_fen})
    payment_record_paid(notice=PaymentNotice(out_trade_no=order_no, transaction_id=f"4200{order_no}",
                                             amount_fen=amount_fen, paid_at=timezone.now()), source="bench")


def burst(label: str, port: int, requests: list[tuple[str, bytes, dict[str, str]]], *,
          method: str = "POST") -> Burst:
    """Send every request from its own thread, all released together; one connection each.
    The answers' statuses, bodies and latencies are kept in the order of `requests`."""
    result = Burst(label=label, clients=len(requests), statuses=[None] * len(requests),
                   latencies_ms=[0.0] * len(requests), bodies=[b""] * len(requests))
    barrier = threading.Barrier(len(requests) + 1)

    def client(i: int) -> None:
        path, body, headers = requests[i]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            result.statuses[i], result.bodies[i] = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            result.bodies[i] = repr(exc).encode()
        finally:
            conn.close()
        result.latencies_ms[i] = (time.perf_counter() - started) * 1000

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def run(data: GroupBuyData, *, port: int) -> tuple[Burst, Burst]:
    """The join burst, then the payment burst; returns both."""
    joins = [(f"/api/v1/group-buys/groups/{data.group_nos[i % len(data.group_nos)]}/join", b"{}",
              {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
               "Idempotency-Key": f"bench-join-{i}"}) for i, token in enumerate(data.tokens)]
    join_burst = burst("POST /api/v1/group-buys/groups/<no>/join", port, joins)
    orders = [json.loads(body) for status, body in zip(join_burst.statuses, join_burst.bodies, strict=True)
              if status == 201]
    notifies = [("/api/v1/payments/wechat/notify", _notify_body(order), {"Content-Type": "text/xml"})
                for order in orders]
    pay_burst = burst("POST /api/v1/payments/wechat/notify (takes the seat)", port, notifies)
    return join_burst, pay_burst


def _notify_body(order: dict[str, Any]) -> bytes:
    """WeChat Pay v2's signed payment notify for an order the bench placed (its trade stored first,
    as payment_prepay stores it before asking WeChat)."""
    from django.conf import settings
    from django.utils import timezone

    from members.models import Member
    from payments.models import Payment
    from shop.models import ORDER_PAYABLE_KIND, Order
    from wechat.sandbox.wire import format_time, signed, to_xml

    order_no, amount = order["order_no"], order["payable_fen"]
    Payment.objects.get_or_create(out_trade_no=order_no, defaults={"kind": ORDER_PAYABLE_KIND, "amount_fen": amount})
    openid = Member.objects.filter(pk=Order.objects.filter(order_no=order_no).values("member_id")[:1]).values_list(
        "openid", flat=True).get()
    fields = {
        "appid": settings.WECHAT_APP_ID, "mch_id": settings.WECHAT_MCH_ID, "return_code": "SUCCESS",
        "result_code": "SUCCESS", "openid": openid, "is_subscribe": "N", "trade_type": "JSAPI", "bank_type": "OTHERS",
        "fee_type": "CNY", "total_fee": str(amount), "cash_fee": str(amount), "transaction_id": f"4200{order_no}",
        "out_trade_no": order_no, "time_end": format_time(timezone.now()),
    }
    return to_xml(dict(sorted(signed(fields, settings.WECHAT_PAY_API_KEY).items())))


def check_consistency(data: GroupBuyData, *, paid: int) -> str:
    """No group above its size; each group's seat count equals its seated members; the original
    groups are full; every payer holds a seat (in an original group or one they lead)."""
    from django.db.models import Count, F, Q

    from campaigns.models import GroupBuy, GroupBuySeat, SeatStatus

    groups = GroupBuy.objects.filter(item_id=data.item_id).annotate(
        seated=Count("seats", filter=Q(seats__status=SeatStatus.SEATED)))
    above = groups.filter(seated__gt=F("size")).count()
    drift = groups.exclude(seated=F("seats_taken")).count()
    originals = groups.filter(group_no__in=data.group_nos)
    full = originals.filter(seats_taken=F("size")).count()
    seated = GroupBuySeat.objects.filter(item_id=data.item_id, status=SeatStatus.SEATED).count()
    refunds = GroupBuySeat.objects.filter(item_id=data.item_id, status=SeatStatus.REFUND).count()
    new_groups = groups.count() - len(data.group_nos)
    expected_seated = len(data.group_nos) + paid
    summary = (f"{groups.count()} groups ({full}/{len(data.group_nos)} original groups full, {new_groups} opened "
               f"by payers who found theirs full), {seated} seats for {expected_seated} payments")
    if above == 0 and drift == 0 and seated == expected_seated and refunds == 0 and full == len(data.group_nos):
        return f"ok: no group above its size; {summary}"
    return f"MISMATCH: {above} groups above their size, {drift} with a seat count drift, {refunds} refunds; {summary}"


def block(join: Burst, pay: Burst, consistency: str) -> dict[str, Any]:
    """The figures for the report."""
    def figures(burst: Burst, status: int) -> dict[str, Any]:
        ok = burst.ok(status)
        return {"label": burst.label, "clients": burst.clients, "ok": ok, "errors": burst.clients - ok,
                "seconds": burst.seconds, "per_s": ok / burst.seconds if burst.seconds else 0.0,
                "p50_ms": burst.percentile(50), "p99_ms": burst.percentile(99),
                "error_samples": [b[:200].decode(errors="replace") for s, b in
                                  zip(burst.statuses, burst.bodies, strict=True) if s != status][:3]}

    return {"groups": GROUPS, "group_size": GROUP_SIZE, "join": figures(join, 201), "pay": figures(pay, 200),
            "consistency": consistency}
