"""定向发放 at scale: one template issued to a segment of 100,000 members; seconds and rows per second.

`run()` works in the already-configured bench database (database.configure_django() and
recreate_and_migrate() have run): it writes the members and the segment in bulk, a coupon
template without limits, and a targeted issue to the segment, then times `targeted_issue_run()`
in this process — the job's own work, chunk after chunk (settings.TARGETED_ISSUE_CHUNK), without
a broker's pick-up latency. The issue is marked queued directly rather than through
targeted_issue_start(), which would also enqueue the job for whatever worker listens to the
bench's broker. Afterwards the counts are checked: every member got exactly one coupon.

    python -m bench.targeted_issue [--members N]     # on its own: recreates the bench database first
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

DEFAULT_MEMBERS = 100_000
_BATCH = 10_000


def run(member_count: int = DEFAULT_MEMBERS) -> dict[str, Any]:
    """Issue one template to a segment of `member_count` new members; {"members", "seconds", "rows_per_second"}.

    rows_per_second is members processed per second; each issued member is a coupon row and its
    ISSUED ledger row written, and the member's quota row inserted and updated.
    """
    from campaigns.models import Coupon, TargetedIssue
    from campaigns.services.targeted import targeted_issue_create, targeted_issue_run
    from tests.factories import CouponTemplateFactory

    segment_id = _segment_of_new_members(member_count)
    template = CouponTemplateFactory(name="bench 定向发放券", per_member_limit=1)
    issue = targeted_issue_create(template_id=template.pk, target="segment", segment_id=segment_id)
    TargetedIssue.objects.filter(pk=issue.pk).update(status=TargetedIssue.Status.QUEUED)

    started = time.perf_counter()
    counts = targeted_issue_run(issue_id=issue.pk)
    seconds = time.perf_counter() - started

    issued = Coupon.objects.filter(targeted_issue_id=issue.pk).count()
    if counts["issued"] != member_count or issued != member_count or counts["processed"] != member_count:
        raise RuntimeError(f"targeted issue bench: expected {member_count} coupons, got {counts} / {issued} rows")
    return {"members": member_count, "seconds": round(seconds, 3),
            "rows_per_second": round(member_count / seconds, 1) if seconds else 0.0}


def _segment_of_new_members(count: int) -> int:
    from members.models import Member, Segment, SegmentMember

    run_id = uuid.uuid4().hex[:8]
    segment = Segment.objects.create(name=f"bench 定向人群 {run_id}")
    for start in range(0, count, _BATCH):
        members = Member.objects.bulk_create(
            [Member(openid=f"bench-tgt-{run_id}-{i:07d}") for i in range(start, min(start + _BATCH, count))])
        SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m) for m in members])
    Segment.objects.filter(pk=segment.pk).update(member_count=count)
    return segment.pk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.targeted_issue",
                                     description="Time a targeted issue to N members on a fresh bench database.")
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS, help="segment size (default 100000)")
    args = parser.parse_args(argv)
    if args.members < 1:
        parser.error("--members must be positive")
    from bench import database

    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        result = run(args.members)
        database.close_django_connections()
    print(f"targeted issue: {result['members']} members in {result['seconds']:.2f}s "
          f"({result['rows_per_second']:.0f} members/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
