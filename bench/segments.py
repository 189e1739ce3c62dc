"""Segment evaluation at scale: a four-condition rule over 1,000,000 members; seconds.

`run()` works in the already-configured bench database (database.configure_django() and
recreate_and_migrate() have run). It makes sure `member_count` bench members exist — written with
COPY, seeded, with realistic spreads of tier, points, purchases and birthdays (`load_members`, shared
with bench.greetings: whichever runs first loads them) — then times, for the rule

    会员等级 ≥ 黄金  AND  超过 90 天未下单  AND  生日在本月  AND  积分 ≥ 100

`segment_preview()` (one COUNT) and `segment_evaluate()` (DELETE + INSERT … SELECT of the members,
in one transaction), and checks both found the same number.

    python -m bench.segments [--members N]     # on its own: recreates the bench database first
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import time
from typing import Any

DEFAULT_MEMBERS = 1_000_000
OPENID_PREFIX = "bench-job-"
_COPY_CHUNK = 100_000
PROVINCES = ("广东省", "浙江省", "江苏省", "上海市", "北京市", "四川省", "山东省", "湖北省")

RULE = {"all": [
    {"type": "tier", "min_level": 2},
    {"type": "last_order", "min_days": 90},
    {"type": "birthday_month", "this_month": True},
    {"type": "points", "min": 100},
]}


def load_members(member_count: int, *, seed: int = 7) -> int:
    """Make sure `member_count` bench members exist (adding what is missing); returns how many were added.

    Birthdays are spread evenly over the calendar (so ~1/365 of them fall on any given day,
    2,700-odd per million), registrations over the last five years; a quarter never ordered;
    tiers follow growth. Written with COPY in chunks, then ANALYZE, so the planner sees the data.
    """
    from django.db import connection
    from django.utils import timezone

    from members.models import Member, Tier

    have = Member.objects.filter(openid__startswith=OPENID_PREFIX).count()
    if have >= member_count:
        return 0
    tiers = sorted(Tier.objects.values_list("min_growth", "pk"))
    rng = random.Random(seed + have)
    now = timezone.now()
    columns = ("openid", "unionid", "session_key", "nickname", "avatar_url", "gender", "birthday", "province",
               "city", "phone", "is_active", "tier_id", "growth", "points_balance", "paid_order_count",
               "paid_total_fen", "last_paid_at", "registered_at", "is_blocked", "blocked_reason")
    table = Member._meta.db_table
    added = 0
    with connection.cursor() as cursor:
        for start in range(have, member_count, _COPY_CHUNK):
            buffer = io.StringIO()
            for i in range(start, min(start + _COPY_CHUNK, member_count)):
                buffer.write("\t".join(_member_row(i, rng, now, tiers)) + "\n")
                added += 1
            buffer.seek(0)
            raw = cursor.cursor  # psycopg's own cursor: COPY FROM STDIN
            with raw.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                copy.write(buffer.getvalue())
        cursor.execute(f'ANALYZE "{table}"')
    return added


def _member_row(i: int, rng: random.Random, now: dt.datetime, tiers: list[tuple[int, int]]) -> list[str]:
    day_of_year = i % 365  # even spread: every calendar day gets 1/365 of the members
    # A common year's calendar (no 29 February), then a birth year that keeps that day valid.
    birthday = (dt.date(2001, 1, 1) + dt.timedelta(days=day_of_year)).replace(year=1971 + 4 * rng.randrange(10))
    orders = 0 if rng.random() < 0.25 else rng.randint(1, 30)
    paid = orders * rng.randint(3000, 30000)
    growth = paid // 100
    tier_id = max(pk for min_growth, pk in tiers if min_growth <= growth) if tiers else None
    last_paid = (now - dt.timedelta(days=rng.randint(0, 400), seconds=rng.randint(0, 86_399))) if orders else None
    registered = now - dt.timedelta(days=rng.randint(0, 5 * 365), seconds=rng.randint(0, 86_399))
    return [
        f"{OPENID_PREFIX}{i:08d}", "", "", f"会员{i}", "", rng.choice(("male", "female", "unknown")),
        birthday.isoformat(), rng.choice(PROVINCES), "", "", "t", str(tier_id) if tier_id else r"\N", str(growth),
        str(rng.randint(0, 5000)), str(orders), str(paid), last_paid.isoformat() if last_paid else r"\N",
        registered.isoformat(), "f", "",
    ]


def run(member_count: int = DEFAULT_MEMBERS) -> dict[str, Any]:
    """{"members", "load_seconds", "preview_seconds", "evaluate_seconds", "matched"} for RULE."""
    from members.models import Member, Segment
    from members.services.segments import segment_evaluate, segment_preview, segment_save

    started = time.perf_counter()
    load_members(member_count)
    load_seconds = time.perf_counter() - started
    segment = segment_save(segment=Segment(name=f"bench 黄金沉睡寿星 {time.time_ns()}", rules=RULE))

    started = time.perf_counter()
    preview = segment_preview(rules=RULE)
    preview_seconds = time.perf_counter() - started
    started = time.perf_counter()
    matched = segment_evaluate(segment_id=segment.pk)
    evaluate_seconds = time.perf_counter() - started
    if preview != matched:
        raise RuntimeError(f"segment bench: preview counted {preview}, evaluation materialised {matched}")
    return {"members": Member.objects.count(), "load_seconds": round(load_seconds, 3),
            "preview_seconds": round(preview_seconds, 3), "evaluate_seconds": round(evaluate_seconds, 3),
            "matched": matched}


def main() -> None:
    from bench import database

    parser = argparse.ArgumentParser(prog="python -m bench.segments")
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    args = parser.parse_args()
    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        print(run(args.members))
        database.close_django_connections()


if __name__ == "__main__":
    main()
