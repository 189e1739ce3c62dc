"""The 09:00 birthday job at scale: 1,100,000 members (the issue's size) of whom ~3,000 have a birthday today.

`run()` works in the already-configured bench database. It makes sure the bench members exist
(bench.segments.load_members: birthdays spread evenly over the calendar, so 1/365 of them are
today's), switches on a birthday gift rule, starts a WeChat sandbox in this process for the
mini-program codes (getwxacodeunlimit over HTTP, as in production), writes posters to a temporary
PRIVATE_MEDIA_ROOT, and times `greetings_send_today()` end to end: finding today's members through the
(month, day, id) index in batches, the batch's greetings in one INSERT, one coupon each (where the
tier has the birthday gift), the subscribe message where there is a credit (none here). The job
draws no poster (it must stay that way: the run fails if one was drawn). Then it runs the job
again and checks the second run changed nothing (one greeting and one coupon per member), and
draws POSTER_SAMPLE posters as the members' first views would (greeting_poster_ensure), twice, to
report what a first view costs and that a second view draws nothing.

Reported: seconds end to end, members in the table scanned per second (members / seconds: the
job's reach, though the index means it reads only today's), greetings per second, milliseconds
per greeting in the job, and milliseconds per poster on a first view.

    python -m bench.greetings [--members N]     # on its own: recreates the bench database first
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

DEFAULT_MEMBERS = 1_100_000
POSTER_SAMPLE = 20


def run(member_count: int = DEFAULT_MEMBERS) -> dict[str, Any]:
    """{"members", "due_today", "seconds", "members_per_second", "greetings_per_second", "ms_per_greeting",
    "coupons", "posters_in_job", "first_view_poster_ms"}."""
    from django.conf import settings
    from django.utils import timezone

    from bench.segments import load_members
    from campaigns.models import Coupon, GiftRule, Greeting
    from campaigns.services.greetings import due_members, greeting_poster_ensure, greetings_send_today
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
            greetings = Greeting.objects.filter(kind="birthday", year=today.year)
            posters_in_job = greetings.exclude(poster="").count()
            sample = list(greetings.select_related("member", "coupon__template").order_by("pk")[:POSTER_SAMPLE])
            started = time.perf_counter()
            drawn = [greeting_poster_ensure(greeting=greeting) for greeting in sample]
            poster_seconds = time.perf_counter() - started
            redrawn = [greeting_poster_ensure(greeting=Greeting.objects.get(pk=greeting.pk)) for greeting in sample]
        finally:
            settings.PRIVATE_MEDIA_ROOT = saved_media
    if (first["birthday"] != due or again["birthday"] or again["coupons"] or greetings.count() != due
            or posters_in_job or not all(g.poster for g in drawn)
            or [g.poster.name for g in redrawn] != [g.poster.name for g in drawn]):
        raise RuntimeError(f"greetings bench: {due} due, first run {first}, second run {again}, "
                           f"{posters_in_job} posters drawn by the job")
    return {
        "members": members, "due_today": due, "seconds": round(seconds, 3),
        "members_per_second": round(members / seconds, 1) if seconds else 0.0,
        "greetings_per_second": round(due / seconds, 1) if seconds else 0.0,
        "ms_per_greeting": round(1000 * seconds / due, 2) if due else 0.0,
        "coupons": Coupon.objects.filter(template=template).count(), "posters_in_job": posters_in_job,
        "first_view_poster_ms": round(1000 * poster_seconds / len(sample), 1) if sample else 0.0,
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
