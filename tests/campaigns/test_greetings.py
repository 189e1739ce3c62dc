"""Birthday and anniversary greetings: one greeting and one coupon per member per year, 29 February,
anniversaries in Shanghai time, messages only with a consent credit, the member's posters API.
The job draws no posters: the member's first view draws the poster, once."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from campaigns.models import Coupon, CouponSource, GiftRule, Greeting
from campaigns.services.coupons import coupon_grant
from campaigns.services.greetings import greeting_poster_ensure, greetings_send_today
from members.models import Member, Tier
from members.services import member_delete_account
from tests.factories import CouponTemplateFactory, MemberFactory
from wechat.messages import subscribe_consent_record
from wechat.models import MessageLog

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def media(settings, tmp_path):
    """Where the posters live: the private storage (core.media)."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def birthday_rule(db) -> GiftRule:
    template = CouponTemplateFactory.create(name="生日专享券", amount_fen=2000, threshold_fen=10000,
                                            per_member_limit=100, show_in_center=False)
    return GiftRule.objects.create(name="生日礼", trigger=GiftRule.Trigger.BIRTHDAY, template=template)


@pytest.fixture
def anniversary_rule(db) -> GiftRule:
    template = CouponTemplateFactory.create(name="周年券", amount_fen=1000, threshold_fen=0, per_member_limit=100)
    return GiftRule.objects.create(name="纪念日礼", trigger=GiftRule.Trigger.ANNIVERSARY, template=template)


def silver() -> Tier:
    return Tier.objects.get(level=1)


def registered(member: Member, local: dt.datetime) -> Member:
    Member.objects.filter(pk=member.pk).update(registered_at=timezone.make_aware(local))
    member.refresh_from_db()
    return member


def test_the_job_run_twice_gives_one_greeting_and_one_coupon_per_member_and_draws_no_poster(media, sandbox,
                                                                                             birthday_rule):
    a = MemberFactory.create(nickname="小鱼", tier=silver(), birthday=dt.date(1995, 11, 23))
    b = MemberFactory.create(tier=silver(), birthday=dt.date(2001, 11, 23))
    MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 24))  # tomorrow

    first = greetings_send_today(today=TODAY)
    second = greetings_send_today(today=TODAY)

    assert (first["birthday"], first["coupons"]) == (2, 2)
    assert (second["birthday"], second["coupons"]) == (0, 0)
    greetings = Greeting.objects.order_by("member_id")
    assert [(g.member_id, g.kind, g.year) for g in greetings] == [(a.pk, "birthday", 2026), (b.pk, "birthday", 2026)]
    assert Coupon.objects.filter(source=CouponSource.BIRTHDAY).count() == 2
    assert sorted(Coupon.objects.values_list("issue_key", flat=True), key=str) == [
        f"birthday:2026:{a.pk}", f"birthday:2026:{b.pk}"]
    assert all(g.coupon_id and not g.poster for g in greetings)
    assert not (media / "greetings").exists()
    assert sandbox.wxacodes() == []  # no mini-program code asked of WeChat by the job


def test_the_poster_is_a_png_whose_code_opens_the_coupon(media, sandbox, birthday_rule):
    member = MemberFactory.create(nickname="小鱼", tier=silver(), birthday=dt.date(1995, 11, 23))

    greetings_send_today(today=TODAY)

    greeting = greeting_poster_ensure(greeting=Greeting.objects.get(member=member))
    image = Image.open(greeting.poster.path)
    assert (image.format, image.size) == ("PNG", (750, 1200))
    assert sandbox.wxacodes()[0]["scene"] == f"coupon={greeting.coupon_id}"
    assert sandbox.wxacodes()[0]["page"] == "pages/coupon/detail"


@pytest.mark.parametrize(("today", "greeted"), [
    (dt.date(2027, 2, 28), True),  # common year: 29 February is celebrated on the 28th
    (dt.date(2028, 2, 28), False),  # leap year: wait for the 29th
    (dt.date(2028, 2, 29), True),
    (dt.date(2027, 3, 1), False),
])
def test_29_february_falls_on_28_february_in_common_years(media, sandbox, birthday_rule, today, greeted):
    member = MemberFactory.create(tier=silver(), birthday=dt.date(1992, 2, 29))

    greetings_send_today(today=today)

    assert Greeting.objects.filter(member=member, kind="birthday", year=today.year).exists() is greeted


def test_anniversaries_count_whole_years_on_the_shanghai_calendar(media, sandbox, anniversary_rule):
    two_years = registered(MemberFactory.create(), dt.datetime(2024, 11, 23, 8, 0))
    # 23:30 in Shanghai on the 22nd is 15:30 UTC on the 22nd; 00:30 on the 23rd is still the 22nd in UTC.
    late_evening = registered(MemberFactory.create(), dt.datetime(2025, 11, 22, 23, 30))
    just_after_midnight = registered(MemberFactory.create(), dt.datetime(2025, 11, 23, 0, 30))
    this_year = registered(MemberFactory.create(), dt.datetime(2026, 11, 23, 0, 0))

    result = greetings_send_today(today=TODAY)

    assert result["anniversary"] == 2
    assert dict(Greeting.objects.values_list("member_id", "years")) == {two_years.pk: 2, just_after_midnight.pk: 1}
    assert not Greeting.objects.filter(member__in=[late_evening, this_year]).exists()
    assert Coupon.objects.filter(source=CouponSource.ANNIVERSARY).count() == 2


def test_anniversary_of_29_february_registrations(media, sandbox, anniversary_rule):
    member = registered(MemberFactory.create(), dt.datetime(2024, 2, 29, 10, 0))

    greetings_send_today(today=dt.date(2027, 2, 28))

    assert Greeting.objects.get(member=member).years == 3


def test_the_message_goes_only_to_members_with_a_consent_credit(media, sandbox, birthday_rule, settings):
    subscribed = MemberFactory.create(nickname="小鱼", tier=silver(), birthday=dt.date(1995, 11, 23))
    not_subscribed = MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))
    template_id = settings.WECHAT_SUBSCRIBE_TEMPLATES["birthday"]["id"]
    subscribe_consent_record(member_id=subscribed.pk, openid=subscribed.openid, results={template_id: "accept"})

    result = greetings_send_today(today=TODAY)
    greetings_send_today(today=TODAY)

    assert result["messages"] == 1
    logs = dict(MessageLog.objects.values_list("member_id", "outcome"))
    assert logs == {subscribed.pk: "pending", not_subscribed.pk: "no_credit"}
    log = MessageLog.objects.get(member_id=subscribed.pk)
    assert log.template_key == "birthday"
    assert log.data["thing1"] == "小鱼，生日快乐"
    assert log.data["thing2"] == "生日专享券"
    assert MessageLog.objects.count() == 2  # the second run queued nothing more


def test_a_tier_without_the_birthday_gift_gets_the_poster_but_no_coupon(media, sandbox, birthday_rule):
    member = MemberFactory.create(tier=Tier.objects.get(level=0), birthday=dt.date(1995, 11, 23))

    result = greetings_send_today(today=TODAY)

    greeting = greeting_poster_ensure(greeting=Greeting.objects.get(member=member))
    assert (greeting.coupon_id, greeting.skip_reason, bool(greeting.poster)) == (None, "tier_no_birthday_gift", True)
    assert result["skipped"] == {"tier_no_birthday_gift": 1}
    assert not Coupon.objects.exists()
    assert sandbox.wxacodes()[0]["scene"] == f"greeting={greeting.pk}"


def test_a_batch_meets_the_coupon_limits_as_single_grants_do(media, sandbox, birthday_rule):
    # given three members due today, a template with two coupons left, and the first member
    # already at the per-member limit
    template = birthday_rule.template
    template.total_quantity, template.per_member_limit = 2, 1
    template.save(update_fields=["total_quantity", "per_member_limit"])
    a, b, c = (MemberFactory.create(tier=silver(), birthday=dt.date(1990 + n, 11, 23)) for n in range(3))
    coupon_grant(template=template, member=a, source=CouponSource.CENTER)
    template.refresh_from_db()

    # when the job runs twice
    first = greetings_send_today(today=TODAY)
    second = greetings_send_today(today=TODAY)

    # then b takes the last coupon, a is at its limit, c finds none left; nothing is granted twice
    reasons = dict(Greeting.objects.values_list("member_id", "skip_reason"))
    assert reasons == {a.pk: "coupon_limit_reached", b.pk: "", c.pk: "coupon_sold_out"}
    assert (first["coupons"], second["coupons"], second["birthday"]) == (1, 0, 0)
    assert Coupon.objects.get(issue_key=f"birthday:2026:{b.pk}").member_id == b.pk
    template.refresh_from_db()
    assert template.issued_count == 2


def test_no_active_rule_means_no_greetings(media, sandbox, birthday_rule):
    GiftRule.objects.filter(pk=birthday_rule.pk).update(is_active=False)
    MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))

    result = greetings_send_today(today=TODAY)

    assert result["birthday"] == 0
    assert not Greeting.objects.exists()


def test_deleted_and_inactive_members_are_not_greeted(media, sandbox, birthday_rule):
    deleted = MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))
    member_delete_account(member_id=deleted.pk)
    MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23), is_active=False)

    assert greetings_send_today(today=TODAY)["birthday"] == 0
    assert not Greeting.objects.exists()


def test_a_poster_wechat_could_not_code_is_made_by_the_next_view(media, sandbox, birthday_rule):
    member = MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    sandbox.wxacode_fail_next(1)

    first = greeting_poster_ensure(greeting=Greeting.objects.get(member=member))
    assert (first.poster.name, first.coupon_id is not None) == ("", True)
    assert Greeting.objects.get(member=member).poster_error

    second = greeting_poster_ensure(greeting=Greeting.objects.get(member=member))

    assert (bool(second.poster), second.poster_error) == (True, "")
    assert Coupon.objects.count() == 1


def test_the_poster_is_drawn_once_and_concurrent_first_views_keep_one_file(media, sandbox, birthday_rule):
    member = MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    # Two first views read the greeting before either stored a poster.
    one, other = Greeting.objects.get(member=member), Greeting.objects.get(member=member)

    first = greeting_poster_ensure(greeting=one)
    raced = greeting_poster_ensure(greeting=other)  # draws too, loses the conditional UPDATE
    later = greeting_poster_ensure(greeting=Greeting.objects.get(member=member))

    assert first.poster.name == raced.poster.name == later.poster.name != ""
    assert [p.name for p in (media / "greetings" / "2026").iterdir()] == [first.poster.name.rsplit("/", 1)[-1]]
    assert len(sandbox.wxacodes()) == 2  # the later view drew nothing


def test_batches_walk_every_due_member(media, sandbox, birthday_rule):
    members = MemberFactory.create_batch(5, tier=silver(), birthday=dt.date(1990, 11, 23))

    result = greetings_send_today(today=TODAY, batch_size=2)

    assert result["birthday"] == 5
    assert set(Greeting.objects.values_list("member_id", flat=True)) == {m.pk for m in members}


def test_deleting_the_account_deletes_the_poster_files(media, sandbox, birthday_rule,
                                                       django_capture_on_commit_callbacks):
    member = MemberFactory.create(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    greeting_poster_ensure(greeting=Greeting.objects.get(member=member))
    assert len(list((media / "greetings" / "2026").iterdir())) == 1

    with django_capture_on_commit_callbacks(execute=True):
        member_delete_account(member_id=member.pk)

    assert list((media / "greetings" / "2026").iterdir()) == []
    assert Greeting.objects.get(member=member).poster.name == ""


# --- the API ---------------------------------------------------------------------------------


def test_the_member_lists_their_greetings_and_fetches_the_poster(media, sandbox, birthday_rule, shopper):
    Member.objects.filter(pk=shopper.member.pk).update(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    assert not Greeting.objects.get(member=shopper.member).poster  # drawn on the first view, below

    listed = shopper.client.get("/api/v1/me/greetings/")

    assert listed.status_code == 200
    [item] = listed.json()["results"]
    assert (item["kind"], item["kind_display"], item["year"], item["coupon"]["name"]) == (
        "birthday", "生日", 2026, "生日专享券")
    poster = shopper.client.get(item["poster_url"])
    assert poster.status_code == 200
    assert poster["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(poster.streaming_content))).size == (750, 1200)
    assert shopper.client.get("/api/v1/me/greetings/").json()["results"][0]["poster_url"].split("?")[0] == \
        item["poster_url"].split("?")[0]
    assert len(sandbox.wxacodes()) == 1  # drawn once, on the first view
    assert len(list((media / "greetings" / "2026").iterdir())) == 1


def test_the_poster_itself_is_drawn_on_its_first_view(media, sandbox, birthday_rule, shopper):
    Member.objects.filter(pk=shopper.member.pk).update(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    greeting = Greeting.objects.get(member=shopper.member)

    first = shopper.client.get(f"/api/v1/me/greetings/{greeting.pk}/poster.png")
    again = shopper.client.get(f"/api/v1/me/greetings/{greeting.pk}/poster.png")

    assert (first.status_code, again.status_code) == (200, 200)
    assert b"".join(first.streaming_content) == b"".join(again.streaming_content)
    assert len(sandbox.wxacodes()) == 1


def test_a_poster_wechat_cannot_code_yet_is_a_404_and_the_list_shows_none(media, sandbox, birthday_rule,
                                                                        shopper):
    Member.objects.filter(pk=shopper.member.pk).update(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    greeting = Greeting.objects.get(member=shopper.member)
    sandbox.wxacode_fail_next(2)

    assert shopper.client.get("/api/v1/me/greetings/").json()["results"][0]["poster_url"] is None
    response = shopper.client.get(f"/api/v1/me/greetings/{greeting.pk}/poster.png")

    assert (response.status_code, response.json()["code"]) == (404, "greeting_not_found")
    assert shopper.client.get("/api/v1/me/greetings/").json()["results"][0]["poster_url"]  # the next view


def test_another_members_poster_is_a_404(media, sandbox, birthday_rule, shopper, other_shopper):
    Member.objects.filter(pk=shopper.member.pk).update(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    greeting = Greeting.objects.get(member=shopper.member)

    response = other_shopper.client.get(f"/api/v1/me/greetings/{greeting.pk}/poster.png")
    assert sandbox.wxacodes() == []  # nothing drawn for someone else

    assert response.status_code == 404
    assert response.json()["code"] == "greeting_not_found"
    assert other_shopper.client.get("/api/v1/me/greetings/").json()["results"] == []


def test_the_poster_url_is_a_signed_link_and_a_guessed_one_gets_nothing(media, sandbox, birthday_rule, shopper,
                                                                        settings):
    Member.objects.filter(pk=shopper.member.pk).update(tier=silver(), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)
    [item] = shopper.client.get("/api/v1/me/greetings/").json()["results"]
    greeting = Greeting.objects.get(member=shopper.member)
    anonymous = Client()

    assert item["poster_url"].startswith(f"http://testserver/private-media/{greeting.poster.name}?expires=")
    assert anonymous.get(item["poster_url"]).status_code == 200  # an <image> tag sends no token
    assert anonymous.get(f"/private-media/{greeting.poster.name}").status_code == 404
    assert anonymous.get(f"/media/{greeting.poster.name}").status_code == 404
    assert anonymous.get(item["poster_url"].replace(greeting.poster.name, f"greetings/2026/{'0' * 32}.png")
                         ).status_code == 404

    settings.PRIVATE_MEDIA_URL_MAX_AGE = 0
    [stale] = shopper.client.get("/api/v1/me/greetings/").json()["results"]
    assert anonymous.get(stale["poster_url"]).status_code == 403


def test_posters_need_a_login(client):
    assert client.get("/api/v1/me/greetings/").status_code == 401
    assert client.get("/api/v1/me/greetings/1/poster.png").status_code == 401


# --- the beat job on a real worker -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_greetings_task_runs_on_a_real_worker(media, sandbox):
    import importlib

    from django.apps import apps

    # An earlier transactional test may have flushed the default tiers the migrations made.
    importlib.import_module("members.migrations.0003_default_tiers").create_tiers(apps, None)
    from campaigns.tasks import send_greetings
    from tests.celery_worker import real_worker

    template = CouponTemplateFactory.create(name="生日专享券", per_member_limit=100)
    GiftRule.objects.create(name="生日礼", trigger=GiftRule.Trigger.BIRTHDAY, template=template)
    today = timezone.localdate()
    born = dt.date(1992, today.month, today.day) if (today.month, today.day) != (2, 29) else dt.date(1992, 2, 29)
    member = MemberFactory.create(tier=Tier.objects.get(level=1), birthday=born)

    with real_worker():
        send_greetings.delay()
        deadline = time.monotonic() + 60
        while not Greeting.objects.filter(member=member).exists() and time.monotonic() < deadline:
            time.sleep(0.2)

    greeting = Greeting.objects.get(member=member)
    assert greeting.coupon is not None
    assert (greeting.year, bool(greeting.poster), greeting.coupon.issue_key) == (
        today.year, False, f"birthday:{today.year}:{member.pk}")  # the poster waits for the first view


def test_the_console_lists_greetings_with_their_coupon_or_why_not(media, sandbox, birthday_rule, admin_client):
    MemberFactory.create(nickname="小鱼", tier=silver(), birthday=dt.date(1995, 11, 23))
    MemberFactory.create(nickname="阿明", tier=Tier.objects.get(level=0), birthday=dt.date(1995, 11, 23))
    greetings_send_today(today=TODAY)

    html = admin_client.get("/admin/campaigns/greeting/").content.decode()

    assert "小鱼" in html and "生日专享券" in html
    assert "阿明" in html and "未赠券：会员等级不含生日礼" in html
    assert "待生成" in html  # posters are drawn on the member's first view, not by the job
