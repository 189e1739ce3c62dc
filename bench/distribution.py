"""分销 at scale: the settlement job moving 100,000 frozen commissions to available, and what a
two-level commission adds to an order's payment.

`run()` works in the already-configured bench database (database.configure_django() and
recreate_and_migrate() have run):

1. **Settlement.** Writes in bulk `distributors` active distributors and `commissions` frozen
   commissions spread over them, all past their after-sales window, with the ledger rows and
   balance snapshots the services would have left; one distributor in ten also owes a clawback
   (so the offset path runs). Then times `commissions_settle_due()` in this process — the job's
   own work, chunk after chunk (settings.DISTRIBUTION_SETTLE_BATCH distributors per statement).
   Afterwards it checks: every commission is available, every clawback recovered, every
   distributor's snapshot equals its ledger. Target: < 30 s for 100,000.
2. **Queries per paid order.** Two orders of the same two lines, one by a buyer with no upline
   and one by a buyer under a two-level chain, each recorded as paid by the payments core
   (`payment_record_paid`, what a notify ends in); the SQL statements of each are counted. The
   difference is what commission costs a payment.

    python -m bench.distribution [--commissions N] [--distributors N]   # recreates the bench database
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from typing import Any

DEFAULT_COMMISSIONS = 100_000
DEFAULT_DISTRIBUTORS = 2_000
_BATCH = 10_000
AMOUNT_FEN = 1000  # each commission: ¥10.00 on a ¥100.00 line
OWED_FEN = 1500  # what one distributor in ten owes from a clawback


def run(commissions: int = DEFAULT_COMMISSIONS, distributors: int = DEFAULT_DISTRIBUTORS) -> dict[str, Any]:
    """{"commissions", "distributors", "seconds", "records_per_second", "queries_per_paid_order": {…}}."""
    result = settle(commissions=commissions, distributors=distributors)
    result["queries_per_paid_order"] = payment_queries()
    return result


def settle(*, commissions: int, distributors: int) -> dict[str, Any]:
    from django.utils import timezone

    from campaigns.models import Clawback, Commission
    from campaigns.services.settlement import commission_balances_reconcile, commissions_settle_due

    distributor_ids, owing = _frozen_commissions(commissions, distributors)
    now = timezone.now()

    started = time.perf_counter()
    report = commissions_settle_due(now=now)
    seconds = time.perf_counter() - started

    available = Commission.objects.filter(distributor_id__in=distributor_ids, status="available").count()
    owed_left = Clawback.objects.filter(distributor_id__in=distributor_ids, status="owed").count()
    drifts = commission_balances_reconcile()
    if available != commissions or report.commissions != commissions or owed_left or drifts:
        raise RuntimeError(f"settlement bench: {available}/{commissions} available, report {report}, "
                           f"{owed_left} clawbacks still owed, {len(drifts)} drifted balances")
    return {"commissions": commissions, "distributors": len(distributor_ids), "owing_distributors": owing,
            "seconds": round(seconds, 3), "records_per_second": round(commissions / seconds, 1) if seconds else 0.0,
            "offset_fen": report.offset_fen, "clawbacks_recovered": report.clawbacks_recovered}


def _frozen_commissions(count: int, distributor_count: int) -> tuple[list[int], int]:
    """Active distributors with `count` frozen commissions past their window, their ledger rows and
    snapshots; one in ten owing a clawback. Returns (distributor ids, how many owe)."""
    from django.utils import timezone

    from campaigns.models import Clawback, Commission, CommissionEntry, Distributor
    from members.models import Member

    run_id = uuid.uuid4().hex[:8]
    now = timezone.now()
    due = now - dt.timedelta(hours=1)
    members = Member.objects.bulk_create([Member(openid=f"bench-dist-{run_id}-{i:06d}")
                                          for i in range(distributor_count + 1)])
    buyer, sharers = members[0], members[1:]
    rows = Distributor.objects.bulk_create([Distributor(member=m, status="active", approved_at=now,
                                                        real_name=f"分销{i}") for i, m in enumerate(sharers)])
    ids = [d.pk for d in rows]
    per: dict[int, int] = dict.fromkeys(ids, 0)
    for start in range(0, count, _BATCH):
        batch = []
        for i in range(start, min(start + _BATCH, count)):
            distributor_id = ids[i % len(ids)]
            per[distributor_id] += AMOUNT_FEN
            batch.append(Commission(distributor_id=distributor_id, level=1, buyer=buyer, order_ref=f"B{run_id}{i:07d}",
                                    line_ref=i, product_name="bench 商品", base_fen=AMOUNT_FEN * 10, percent=10,
                                    amount_fen=AMOUNT_FEN, status="frozen", frozen_at=due, settle_at=due))
        Commission.objects.bulk_create(batch)
    owing = ids[::10]
    first = dict(Commission.objects.filter(distributor_id__in=owing).order_by("distributor_id", "id")
                 .distinct("distributor_id").values_list("distributor_id", "pk"))
    Clawback.objects.bulk_create([Clawback(distributor_id=d, commission_id=first[d], refund_ref=f"bench-{run_id}",
                                           amount_fen=OWED_FEN, from_available_fen=0, owed_fen=OWED_FEN)
                                  for d in owing])
    owes = set(owing)
    CommissionEntry.objects.bulk_create([
        CommissionEntry(distributor_id=d, reason="frozen", reference=f"bench:{run_id}", frozen_fen=per[d],
                        owed_fen=OWED_FEN if d in owes else 0) for d in ids])
    for distributor_id in ids:
        Distributor.objects.filter(pk=distributor_id).update(frozen_fen=per[distributor_id],
                                                             owed_fen=OWED_FEN if distributor_id in owes else 0)
    return ids, len(owing)


def payment_queries() -> dict[str, int]:
    """SQL statements of recording a paid order: without an upline, and under a two-level chain."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from campaigns.models import Commission
    from campaigns.services.bindings import binding_bind_on_arrival
    from campaigns.services.distribution import ApplicationInput, distributor_apply, distributor_approve
    from catalog.models import FreightTemplate
    from payments.models import Payment
    from payments.services import payment_record_paid
    from shop.models import ORDER_PAYABLE_KIND
    from shop.services.orders import CheckoutInput, LineInput, order_place
    from tests.factories import AddressFactory, MemberFactory, SkuFactory, default_freight
    from wechat.gateway import PaymentNotice

    if not FreightTemplate.objects.filter(is_default=True).exists():  # `python -m bench` loaded one already
        default_freight()
    skus = [SkuFactory(price_fen=10000, stock=1000), SkuFactory(price_fen=5900, stock=1000)]

    def member() -> Any:
        return AddressFactory(member=MemberFactory()).member

    def distributor(who: Any) -> Any:
        applied = distributor_apply(member=who, data=ApplicationInput(real_name="王分销", phone="13900139000"))
        return distributor_approve(distributor_id=applied.pk, operator=None)

    top, near = distributor(member()), distributor(member())
    binding_bind_on_arrival(member=near.member, distributor_id=top.pk)
    chained = member()
    binding_bind_on_arrival(member=chained, distributor_id=near.pk)

    def paid(buyer: Any, n: int) -> int:
        order, _ = order_place(member=buyer, data=CheckoutInput(items=tuple(LineInput(s.pk, 1) for s in skus),
                                                                coupon_ids=()))
        Payment.objects.create(out_trade_no=order.order_no, kind=ORDER_PAYABLE_KIND, amount_fen=order.payable_fen)
        notice = PaymentNotice(out_trade_no=order.order_no, transaction_id=f"4200bench{uuid.uuid4().hex[:16]}{n}",
                               amount_fen=order.payable_fen, paid_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            payment_record_paid(notice=notice, source="notify")
        if buyer is chained and Commission.objects.filter(order_ref=order.order_no).count() != 4:
            raise RuntimeError("payment bench: the chained buyer's order did not earn two levels on two lines")
        return len(queries.captured_queries)

    paid(member(), 0)  # warm-up: content types, settings rows
    plain, with_commission = paid(member(), 1), paid(chained, 2)
    return {"without_upline": plain, "two_level_commission": with_commission,
            "extra": with_commission - plain}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distribution",
                                     description="Time the commission settlement job on a fresh bench database.")
    parser.add_argument("--commissions", type=int, default=DEFAULT_COMMISSIONS,
                        help="frozen commissions to settle (default 100000)")
    parser.add_argument("--distributors", type=int, default=DEFAULT_DISTRIBUTORS,
                        help="distributors they are spread over (default 2000)")
    args = parser.parse_args(argv)
    if args.commissions < 1 or args.distributors < 1:
        parser.error("--commissions and --distributors must be positive")
    from bench import database

    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        result = run(args.commissions, args.distributors)
        database.close_django_connections()
    print(render(result))
    return 0


def render(result: dict[str, Any]) -> str:
    q = result["queries_per_paid_order"]
    return (f"commission settlement: {result['commissions']:,} commissions over {result['distributors']:,} "
            f"distributors ({result['owing_distributors']:,} owing a clawback) in {result['seconds']:.2f} s "
            f"({result['records_per_second']:,.0f} records/s)\n"
            f"  queries per paid order (2 lines): {q['without_upline']} without an upline, "
            f"{q['two_level_commission']} with a two-level commission (+{q['extra']})")


if __name__ == "__main__":
    raise SystemExit(main())
