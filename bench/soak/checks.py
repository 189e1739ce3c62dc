"""After the load: let the queues drain, run the jobs that settle payments and refunds by asking
WeChat, then check that nothing was lost or counted twice.

Everything here runs in the harness's own process through the ORM (Django is set up) and the
sandbox's control endpoints; the sandbox stands for WeChat's books, the database for ours.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DRAIN_TIMEOUT_SECONDS = 180
SETTLE_ROUNDS = 10
SHANGHAI = ZoneInfo("Asia/Shanghai")  # Django sets the processes' TZ to settings.TIME_ZONE: log times are local
WORKER_RUN = re.compile(r"^\[(\S+ \S+): INFO/\S+\] Task shop\.tasks\.cancel_expired_orders\[\S+\] succeeded",
                        re.MULTILINE)
MINUTE_JOB_WAIT = 75  # a job due every minute, sent on the minute, plus the time to run it


@dataclass
class Check:
    name: str
    summary: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "summary": self.summary, "problems": self.problems[:50],
                "problem_count": len(self.problems)}


# --- draining and settling ----------------------------------------------------------------------


def queued_messages() -> int:
    """Messages waiting in the broker's queues (kombu's SQLAlchemy transport tables); 0 on Redis."""
    from django.conf import settings
    from django.db import connection

    if not settings.CELERY_BROKER_URL.startswith("sqla+"):
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('kombu_message') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT count(*) FROM kombu_message WHERE visible")
        return int(cursor.fetchone()[0])


def drain(*, timeout: float = DRAIN_TIMEOUT_SECONDS) -> float:
    """Wait until the worker has taken every queued message; the seconds it took."""
    started = time.monotonic()
    while queued_messages() and time.monotonic() - started < timeout:
        time.sleep(1)
    time.sleep(3)  # what the worker took last finishes; the sandbox settles refunds 2 s after accepting them
    return time.monotonic() - started


def settle() -> dict[str, int]:
    """Run the settling jobs as if their time had come for everything still open: the auto-cancel
    (each unpaid order's trade asked of WeChat: paid → recorded, else closed and cancelled), the
    refund job (late-payment refunds created, unsubmitted ones sent, unnotified ones queried) and
    the shipping-info sweep (uploads whose retry is pending), round after round until nothing is
    left open. Returns what they did, added up."""
    from django.conf import settings
    from django.utils import timezone

    from shop.models import Order, OrderStatus, Refund, RefundStatus
    from shop.services.payments import order_cancel_expired
    from shop.services.refunds import refunds_process_due
    from shop.services.shipping_upload import shipping_upload_attempt, shipping_upload_due

    done: Counter[str] = Counter()
    for _ in range(SETTLE_ROUNDS):
        later = timezone.now() + dt.timedelta(minutes=settings.ORDER_UNPAID_TIMEOUT_MINUTES + 1, days=1)
        while True:
            counts = order_cancel_expired(now=later)
            done.update({f"orders_{k}": v for k, v in counts.items()})
            if not any(counts.values()) or counts["failed"]:
                break
        done.update({f"refunds_{k}": v for k, v in refunds_process_due(now=later, batch_size=500).items()})
        for order_id in shipping_upload_due(now=later, limit=1000):
            done[f"shipping_uploads_{shipping_upload_attempt(order_id=order_id, now=later).state}"] += 1
        drain(timeout=60)
        still_open = (Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).exists()
                      or Refund.objects.filter(status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING]).exists())
        if not still_open:
            break
        done["rounds_again"] += 1
    return dict(done)


# --- the invariants -----------------------------------------------------------------------------


def run_all(sandbox: Any, *, since: float) -> list[Check]:
    """Every check, against the sandbox (WeChat's books) and the database (ours); `since` is when
    the load started (epoch seconds)."""
    trades = sandbox.trades()
    refunds = sandbox.refunds()
    return [notifies_recorded(trades), trades_match_payments(trades), orders_in_state(), refunds_settled(refunds),
            shipping_uploaded(sandbox.shipping_uploads(), since=since), stock_reconciles(), flash_sales_reconcile(),
            coupons_reconcile(), points_reconcile(), counters_reconcile()]


def notifies_recorded(trades: list[dict[str, Any]]) -> Check:
    """Every payment notify the mall answered SUCCESS to is recorded, under its transaction id."""
    from payments.models import PaymentNotification

    acknowledged = {t["transaction_id"]: t["out_trade_no"] for t in trades
                    if any(d["kind"] == "genuine" and d["acknowledged"] for d in t["deliveries"])}
    recorded = set(PaymentNotification.objects.filter(transaction_id__in=list(acknowledged))
                   .values_list("transaction_id", flat=True))
    deliveries = Counter("acknowledged" if d["acknowledged"] else f"status {d['status'] or d['error'][:40]}"
                         for t in trades for d in t["deliveries"] if d["kind"] == "genuine")
    problems = [f"{no}: WeChat got SUCCESS for {tid}, no PaymentNotification"
                for tid, no in acknowledged.items() if tid not in recorded]
    return Check("payment notifies recorded",
                 f"{len(acknowledged)} trades acknowledged, {len(recorded)} recorded; deliveries {dict(deliveries)}",
                 problems)


def trades_match_payments(trades: list[dict[str, Any]]) -> Check:
    """WeChat's paid trades are our paid payments, with the same transaction id, and the other way round."""
    from payments.models import Payment, PaymentStatus

    payments = {p.out_trade_no: p for p in Payment.objects.all()}
    problems = []
    states = Counter(t["state"] for t in trades)
    for trade in trades:
        payment = payments.get(trade["out_trade_no"])
        if payment is None:
            problems.append(f"{trade['out_trade_no']}: a trade at WeChat ({trade['state']}) without a Payment")
        elif trade["state"] == "SUCCESS" and (payment.status, payment.transaction_id) != (
                PaymentStatus.PAID, trade["transaction_id"]):
            problems.append(f"{payment.out_trade_no}: paid at WeChat ({trade['transaction_id']}), "
                            f"ours {payment.status} {payment.transaction_id}")
        elif trade["state"] != "SUCCESS" and payment.status == PaymentStatus.PAID:
            problems.append(f"{payment.out_trade_no}: paid here, {trade['state']} at WeChat")
    at_wechat = {t["out_trade_no"] for t in trades}
    problems += [f"{no}: paid here, unknown at WeChat" for no, p in payments.items()
                 if p.status == PaymentStatus.PAID and no not in at_wechat]
    ours = Counter(p.status for p in payments.values())
    return Check("WeChat's trades = our payments", f"at WeChat {dict(states)}; ours {dict(ours)}", problems)


def orders_in_state() -> Check:
    """A paid trade's order is paid (or further), or cancelled and refunded in full; an order past
    payment has a paid trade; nothing is left unpaid past its deadline once the jobs ran."""
    from django.db.models import Sum
    from django.utils import timezone

    from payments.models import Payment, PaymentStatus
    from shop.models import ORDER_PAYABLE_KIND, Order, OrderStatus, RefundState, RefundStatus

    paid_trades = dict(Payment.objects.filter(kind=ORDER_PAYABLE_KIND, status=PaymentStatus.PAID)
                       .values_list("out_trade_no", "amount_fen"))
    refunded = defaultdict(int, Order.objects.filter(refunds__status=RefundStatus.SUCCEEDED)
                           .values_list("pk").annotate(total=Sum("refunds__amount_fen")))
    past_payment = {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED, OrderStatus.CLOSED}
    problems = []
    statuses: Counter[str] = Counter()
    now = timezone.now()
    for order in Order.objects.all().iterator():
        statuses[order.status] += 1
        paid = order.order_no in paid_trades
        if paid and order.status in past_payment:
            if order.paid_at is None or order.paid_fen != paid_trades[order.order_no]:
                problems.append(f"{order.order_no}: {order.status}, paid_at {order.paid_at}, paid {order.paid_fen} "
                                f"of a {paid_trades[order.order_no]} trade")
        elif paid and order.status == OrderStatus.CANCELLED:
            if not order.needs_refund or refunded[order.pk] != order.paid_fen:
                problems.append(f"{order.order_no}: paid, cancelled, needs_refund={order.needs_refund}, refunded "
                                f"{refunded[order.pk]} of {order.paid_fen}")
        elif paid:
            problems.append(f"{order.order_no}: trade paid, order still {order.status}")
        elif order.status in past_payment:
            problems.append(f"{order.order_no}: {order.status} without a paid trade")
        elif order.status == OrderStatus.PENDING_PAYMENT and order.expires_at <= now:
            problems.append(f"{order.order_no}: unpaid past its deadline after the auto-cancel ran")
        if order.refunded_fen != refunded[order.pk] or order.refunded_fen > order.paid_fen:
            problems.append(f"{order.order_no}: refunded_fen {order.refunded_fen}, refunds {refunded[order.pk]}, "
                            f"paid {order.paid_fen}")
        if order.status == OrderStatus.CLOSED and order.refund_state != RefundState.FULL:
            problems.append(f"{order.order_no}: closed with refund state {order.refund_state}")
    return Check("orders in the right state", f"orders {dict(statuses)}; {len(paid_trades)} paid trades", problems)


def refunds_settled(sandbox_refunds: list[dict[str, Any]]) -> Check:
    """No refund left open; ours and WeChat's agree one for one (amount, success); approved
    after-sales ended refunded."""
    from shop.models import AfterSale, AfterSaleStatus, Refund, RefundStatus

    ours = {r.out_refund_no: r for r in Refund.objects.all()}
    theirs = {r["out_refund_no"]: r for r in sandbox_refunds}
    problems = [f"{no}: still {r.status} ({r.last_error})" for no, r in ours.items()
                if r.status != RefundStatus.SUCCEEDED]
    for no, record in theirs.items():
        refund = ours.get(no)
        if refund is None:
            problems.append(f"{no}: refunded at WeChat ({record['status']}), unknown here")
        elif record["refund_fee"] != refund.amount_fen:
            problems.append(f"{no}: {record['refund_fee']} at WeChat, {refund.amount_fen} here")
        elif (record["status"] == "SUCCESS") != (refund.status == RefundStatus.SUCCEEDED):
            problems.append(f"{no}: {record['status']} at WeChat, {refund.status} here")
    problems += [f"{no}: succeeded here, never sent to WeChat" for no, r in ours.items()
                 if r.status == RefundStatus.SUCCEEDED and no not in theirs]
    stuck = AfterSale.objects.filter(status=AfterSaleStatus.REFUNDING).values_list("after_sale_no", flat=True)
    problems += [f"after-sale {no}: approved, still refunding" for no in stuck]
    for after_sale in AfterSale.objects.filter(status=AfterSaleStatus.REFUNDED).prefetch_related("refunds"):
        if not any(r.status == RefundStatus.SUCCEEDED for r in after_sale.refunds.all()):
            problems.append(f"after-sale {after_sale.after_sale_no}: refunded without a succeeded refund")
    after_sales = Counter(AfterSale.objects.values_list("status", flat=True))
    return Check("refunds settled and matching WeChat",
                 f"ours {dict(Counter(r.status for r in ours.values()))}; at WeChat "
                 f"{dict(Counter(r['status'] for r in theirs.values()))}; after-sales {dict(after_sales)}", problems)


def shipping_uploaded(uploads: list[dict[str, Any]], *, since: float) -> Check:
    """Every shipped order's shipping information reached WeChat (funds stay frozen until it
    does): our upload row says uploaded, and for the orders shipped during the soak WeChat took
    an upload of that payment."""
    from payments.models import Payment
    from shop.models import ORDER_PAYABLE_KIND, Order, ShippingUploadState

    accepted = {u["transaction_id"] for u in uploads if u["errcode"] == 0}
    shipped = Order.objects.filter(shipped_at__isnull=False).select_related("shipping_upload")
    transactions = dict(Payment.objects.filter(kind=ORDER_PAYABLE_KIND, out_trade_no__in=shipped.values("order_no"))
                        .values_list("out_trade_no", "transaction_id"))
    problems, states = [], Counter()
    for order in shipped:
        upload = getattr(order, "shipping_upload", None)
        states[upload.state if upload else "none"] += 1
        if upload is None or upload.state != ShippingUploadState.UPLOADED:
            problems.append(f"{order.order_no}: shipped, upload {upload.state if upload else 'missing'} "
                            f"({upload.last_error if upload else ''})")
        elif order.shipped_at.timestamp() >= since and transactions.get(order.order_no) not in accepted:
            problems.append(f"{order.order_no}: uploaded here, WeChat has no accepted upload of its payment")
    return Check("shipped orders uploaded to WeChat",
                 f"{sum(states.values())} shipped; uploads {dict(states)}; WeChat accepted {len(accepted)} "
                 f"of {len(uploads)} upload calls", problems)


def jobs_after_faults(worker_log: Path, *, last_fault: float, until: float) -> Check:
    """The every-minute job (orders.cancel-expired) still runs after the last fault: beat sent it
    and the worker ran it, so neither stayed broken after losing the database or being killed."""
    text = worker_log.read_text(errors="replace") if worker_log.exists() else ""
    runs = [dt.datetime.strptime(moment, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=SHANGHAI).timestamp()
            for moment in WORKER_RUN.findall(text)]
    after = [at for at in runs if at > last_fault]
    if after:
        return Check("jobs run after the faults", f"orders.cancel-expired ran {len(runs)} time(s), "
                     f"{len(after)} after the last fault (first {after[0] - last_fault:.0f}s after it)")
    if until - last_fault < MINUTE_JOB_WAIT:
        return Check("jobs run after the faults", f"not observable: the run went on only {until - last_fault:.0f}s "
                     "after the last fault")
    return Check("jobs run after the faults", f"orders.cancel-expired ran {len(runs)} time(s)",
                 [f"never ran in the {until - last_fault:.0f}s after the last fault"])


def stock_reconciles() -> Check:
    """Each SKU's stock is the sum of its ledger (never negative: a CheckConstraint); each order's own movements net to
    what its state holds (a cancelled order gave everything back, a live one holds its units)."""
    from django.db.models import F, Q, Sum
    from django.db.models.functions import Coalesce

    from catalog.models import Stock, StockMovement
    from shop.models import Order, OrderLine, OrderStatus

    problems = [f"SKU {sku}: available {available}, ledger {ledger}" for sku, available, ledger in
                Stock.objects.annotate(ledger=Coalesce(Sum("sku__movements__delta"), 0))
                .exclude(available=F("ledger")).values_list("sku_id", "available", "ledger")]
    units = dict(OrderLine.objects.values_list("order__order_no").annotate(n=Sum("quantity")))
    moved: dict[str, int] = defaultdict(int)
    for reference, delta in (StockMovement.objects.filter(Q(reason=StockMovement.Reason.ORDER_RESERVE)
                                                         | Q(reason=StockMovement.Reason.ORDER_RELEASE))
                             .values_list("reference").annotate(total=Sum("delta"))):
        moved[reference.removesuffix("-revive")] += delta
    held = 0
    for order_no, status in Order.objects.values_list("order_no", "status"):
        expected = 0 if status == OrderStatus.CANCELLED else -units.get(order_no, 0)
        held -= expected
        if moved[order_no] != expected:
            problems.append(f"{order_no} ({status}): its movements net {moved[order_no]}, expected {expected}")
    return Check("stock reconciles with its ledger and the orders",
                 f"{Stock.objects.count()} SKUs; {held} units held by live orders", problems)


def flash_sales_reconcile() -> Check:
    """Each flash item's stock left, each member's purchase count and each session's subsidy are
    what the live reservations hold; a reservation is live exactly when its order is not cancelled."""
    from django.db.models import Q, Sum
    from django.db.models.functions import Coalesce

    from campaigns.models import FlashItem, FlashPurchase, FlashReservation, FlashSession
    from shop.models import OrderStatus

    live = Q(reservations__released_at__isnull=True)
    items = (FlashItem.objects.annotate(held=Coalesce(Sum("reservations__quantity", filter=live), 0))
             .values_list("pk", "stock_left", "stock_total", "held"))
    problems = [f"flash item {pk}: {left} left of {total}, {held} held by live reservations"
                for pk, left, total, held in items if left != total - held]
    held_by = dict(((r["item_id"], r["member_id"]), r["n"]) for r in FlashReservation.objects.filter(
        released_at__isnull=True).values("item_id", "member_id").annotate(n=Sum("quantity")))
    problems += [f"flash purchase of item {p.item_id} by member {p.member_id}: {p.quantity}, reservations "
                 f"{held_by.get((p.item_id, p.member_id), 0)}" for p in FlashPurchase.objects.all()
                 if p.quantity != held_by.get((p.item_id, p.member_id), 0)]
    subsidies = dict(FlashReservation.objects.filter(released_at__isnull=True).values_list("item__session_id")
                     .annotate(fen=Sum("subsidy_fen")))
    problems += [f"flash session {pk}: subsidy {fen}, live reservations {subsidies.get(pk, 0)}" for pk, fen in
                 FlashSession.objects.values_list("pk", "subsidy_fen") if fen != subsidies.get(pk, 0)]
    problems += [f"reservation {pk} of order {no} ({status}): released at {released}" for pk, no, status, released in
                 FlashReservation.objects.values_list("pk", "order__order_no", "order__status", "released_at")
                 if (status == OrderStatus.CANCELLED) != (released is not None)]
    sold = FlashReservation.objects.filter(released_at__isnull=True).aggregate(n=Coalesce(Sum("quantity"), 0))["n"]
    return Check("flash sales reconcile", f"{FlashReservation.objects.count()} reservations, {sold} units held",
                 problems)


def coupons_reconcile() -> Check:
    """Issued counts are the coupons issued; a locked coupon belongs to an unpaid order, a used one
    to a paid order."""
    from django.db.models import Count, F

    from campaigns.models import Coupon, CouponStatus, CouponTemplate
    from shop.models import OrderStatus

    problems = [f"template {pk}: issued_count {issued}, {n} coupons" for pk, issued, n in
                CouponTemplate.objects.annotate(n=Count("coupons")).exclude(issued_count=F("n"))
                .values_list("pk", "issued_count", "n")]
    problems += [f"coupon {pk}: locked by order {no} which is {status}" for pk, no, status in
                 Coupon.objects.filter(status=CouponStatus.LOCKED).exclude(order__status=OrderStatus.PENDING_PAYMENT)
                 .values_list("pk", "order__order_no", "order__status")]
    problems += [f"coupon {pk}: used by order {no}, never paid" for pk, no in
                 Coupon.objects.filter(status=CouponStatus.USED, order__paid_at__isnull=True)
                 .values_list("pk", "order__order_no")]
    statuses = Counter(Coupon.objects.values_list("status", flat=True))
    return Check("coupons reconcile", f"coupons {dict(statuses)}", problems)


def points_reconcile() -> Check:
    """The nightly points check: each member's balance = their ledger = their lots."""
    from members.models import PointsEntry
    from members.services.points import points_reconcile as reconcile

    drifts = reconcile()
    return Check("points reconcile (points.reconcile)", f"{PointsEntry.objects.count()} ledger entries; "
                 f"{len(drifts)} drift(s)", [str(d) for d in drifts])


def counters_reconcile() -> Check:
    """The nightly counters reconcile (counters.reconcile): sales counts, coupon used counts,
    members' paid totals. Run as if its quiet period had passed: the queues are drained, nothing
    is in flight."""
    from django.conf import settings
    from django.utils import timezone

    from shop.services.reconcile import counters_reconcile as reconcile

    later = timezone.now() + dt.timedelta(minutes=settings.COUNTERS_RECONCILE_QUIET_MINUTES + 1)
    report = reconcile(now=later)
    return Check("counters reconcile (counters.reconcile)",
                 f"{len(report.drifts)} drift(s), {report.skipped} row(s) left for a later run",
                 [f"{d.counter} of {d.row_id}: {d.recorded}, expected {d.expected}" for d in report.drifts]
                 + ([f"{report.skipped} row(s) skipped"] if report.skipped else []))
