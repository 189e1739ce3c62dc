"""The 砍价, sharing and invitation pages of the console in a real browser (Debian's headless
Chromium, Playwright, a live server): each renders with the sidebar, asks no other host for
anything and raises no script error. CONSOLE_SCREENSHOTS=<dir> keeps a picture of each page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import sync_playwright

from campaigns.models import Invitation
from campaigns.services.bargain import bargain_help, bargain_launch
from campaigns.services.sharing import share_create, share_visit_record
from tests.browser import CHROMIUM, console_login, watch
from tests.factories import BargainActivityFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def social_rows(catalog, admin_user):
    activity = BargainActivityFactory.create(name="好友帮砍：有机奶粉", sku=catalog.red, start_price_fen=19900,
                                             floor_price_fen=9900, helpers_needed=5)
    launch, _ = bargain_launch(member_id=MemberFactory.create(nickname="小鹿妈妈").pk, activity_id=activity.pk)
    for name in ("阿May", "Leo", "豆豆妈"):
        bargain_help(helper_id=MemberFactory.create(nickname=name).pk, launch_no=launch.launch_no,
                     device_id="phone-shared")
    sharer = MemberFactory.create(nickname="糖糖爱烘焙")
    first = share_create(member_id=sharer.pk, kind="product", target=str(catalog.product.pk))
    friend = MemberFactory.create(nickname="新朋友·可乐")
    share_visit_record(member_id=friend.pk, share_no=first.share_no, scene=1007)
    second = share_create(member_id=friend.pk, kind="product", target=str(catalog.product.pk))
    share_visit_record(member_id=MemberFactory.create(nickname="新朋友·橙子").pk, share_no=second.share_no)
    invitation = share_create(member_id=sharer.pk, kind="invitation")
    share_visit_record(member_id=MemberFactory.create(nickname="被邀请的朋友").pk, share_no=invitation.share_no)
    return {"activity": activity, "launch": launch, "product": catalog.product,
            "invitation": Invitation.objects.get()}


def test_the_social_pages_render_in_the_browser(live_server, social_rows, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = os.environ.get("CONSOLE_SCREENSHOTS")
    report = reverse("admin:campaigns_share_report") + f"?kind=product&target={social_rows['product'].pk}"
    to_visit = [
        ("bargain-activities", reverse("admin:campaigns_bargainactivity_changelist")),
        ("bargain-activity", reverse("admin:campaigns_bargainactivity_change", args=[social_rows["activity"].pk])),
        ("bargain-launches", reverse("admin:campaigns_bargainlaunch_changelist")),
        ("bargain-launch", reverse("admin:campaigns_bargainlaunch_change", args=[social_rows["launch"].pk])),
        ("share-report", report),
        ("invitations", reverse("admin:campaigns_invitation_changelist")),
        ("invitation", reverse("admin:campaigns_invitation_change", args=[social_rows["invitation"].pk])),
        ("invite-settings", reverse("admin:campaigns_invitesettings_changelist")),
        ("suspicious", reverse("admin:campaigns_share_suspicious")),
    ]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
        foreign, failed, errors = watch(page, live_server.url)
        console_login(page, live_server.url)
        for name, path in to_visit:
            page.goto(f"{live_server.url}{path}", wait_until="load" if shots else "domcontentloaded")
            assert page.locator("#nav-sidebar").count() == 1, name
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"console-{name}.png"), full_page=True)
        tree = page.goto(f"{live_server.url}{report}")
        assert tree is not None
        tree_text = page.inner_text(".cmp-tree")
        browser.close()

    assert "糖糖爱烘焙" in tree_text and "新朋友·可乐" in tree_text
    assert foreign == []
    assert failed == [] and errors == []
