"""The 09:00 birthday job at scale: 1,000,000 members of whom ~2,700 have a birthday today.

`run()` works in the already-configured bench database. It makes sure the bench members exist
(bench.segments.load_members: birthdays spread evenly over the calendar, so 1/365 of them are
today's), switches on a birthday gift rule, starts a WeChat sandbox in this process for the
mini-program codes (getwxacodeunlimit over HTTP, as in production), writes posters to a temporary
PRIVATE_MEDIA_ROOT, and times `greetings_send_today()` end to end: finding today's members through the
(month, day, id) index in batches, one coupon each (where the tier has the birthday gift), a poster
each, the subscribe message where there is a credit (none here). Then it runs the job again and
checks the second run changed nothing (one coupon and one poster per member).

Reported: seconds end to end, members in the table scanned per second (members / seconds: the
job's reach, though the index means it reads only today's), greetings per second.

    python -m bench.greetings [--members N]     # on its own: recreates the bench database first
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

DEFAULT_MEMBERS = 1_000_000


def run(member_count: int = DEFAULT_MEMBERS) -> dict[str, Any]:
    """{"members", "due_today", "seconds", "members_per_second", "greetings_per_second", "coupons", "posters"}."""
    from django.conf import settings
    from django.utils import timezone

    from bench.segments import load_members
    from campaigns.models import Coupon, GiftRule, Greeting
    from campaigns.services.greetings import due_members, greetings_send_today
    from members.models import Member
    from tests.factories import CouponTemplateFactory
    from wechat.sandbox.testing import sandbox_for_settings

    load_members(member_count)
    today = timezone.localdate()
    template = CouponTemplateFactory(name="bench 生日券", amount_fen=2000, threshold_fen=10000,
                                     per_member_limit=1000, show_in_center=False)
    GiftRule.objects.filter(trigger=GiftRule.Trigger.BIRTHDAY).update(is_active=False)
    GiftRule.objects.create(name="bench 生日礼", trigger=GiftRule.Trigger.BIRTHDAY, template=template)
    members = Member.objects.count()
    due = due_members(kind="birthday", today=today).count()

    saved_media = settings.PRIVATE_MEDIA_ROOT  # posters are member-owned files (core.media)
    with tempfile.TemporaryDirectory(prefix="bench-posters-") as media, sandbox_for_settings(settings):
        settings.PRIVATE_MEDIA_ROOT = media
        try:
            started = time.perf_counter()
            first = greetings_send_today(today=today)
            seconds = time.perf_counter() - started
            again = greetings_send_today(today=today)
        finally:
            settings.PRIVATE_MEDIA_ROOT = saved_media
    greetings = Greeting.objects.filter(kind="birthday", year=today.year)
    if (first["birthday"] != due or again["birthday"] or again["coupons"] or again["posters"]
            or greetings.count() != due or greetings.filter(poster="").exists()):
        raise RuntimeError(f"greetings bench: {due} due, first run {first}, second run {again}")
    return {
        "members": members, "due_today": due, "seconds": round(seconds, 3),
        "members_per_second": round(members / seconds, 1) if seconds else 0.0,
        "greetings_per_second": round(due / seconds, 1) if seconds else 0.0,
        "coupons": Coupon.objects.filter(template=template).count(), "posters": first["posters"],
    }


def main() -> None:
    from bench import database

    parser = argparse.ArgumentParser(prog="python -m bench.greetings")
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    args = parser.parse_args()
    database.configure_django()
    with database.exclusive_run():
        database.recreate_and_migrate()
        print(run(args.members))
        database.close_django_connections()


if __name__ == "__main__":
    main()
