"""The console in a real browser: Debian's headless Chromium, driven by Playwright, against a live server.

A superuser signs in, opens the home page and a list and a change page of every job, and sees the
job sidebar; then an operator of each role signs in, sees its own jobs only, opens its pages and
gets a 403 on another role's. No page asks another host for anything (fonts, scripts, charts are
all served by the mall). CONSOLE_SCREENSHOTS=docs/screenshots keeps a picture of each page
(docs/console.md): every job as the superuser sees it, and as 客服 and 财务 see theirs.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import sync_playwright

from analytics.admin.dashboard import TODO
from analytics.demo import demo_events_load
from analytics.models import Event, Funnel
from campaigns.models.commissions import EntryReason
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.withdrawals import withdrawal_request
from shop.models import OrderStatus
from tests.admin.support_roles import PASSWORD, SIDEBARS, USERNAMES, staff_in
from tests.browser import CHROMIUM, console_login, watch
from tests.builders import lines_of, order_up_to, requested_after_sale
from tests.campaigns.support_distribution import distributor, near_member
from tests.factories import CouponTemplateFactory
from tests.shop.support_reviews import make_review

# Debian's package (apt-get install chromium fonts-noto-cjk: .ci/run, scripts/install_browser.sh); never a
# browser build downloaded by Playwright.
pytestmark = pytest.mark.django_db(transaction=True)
SIDEBAR = ["首页", "商品", "订单", "售后", "会员", "营销", "分销", "数据", "内容", "设置"]


@pytest.fixture
def console_rows(catalog, member, freight, admin_user):
    """A row behind every job's change page, and the beat schedule as `make run` has it."""
    call_command("sync_periodic_tasks", stdout=io.StringIO())
    # Two weeks of demo traffic through the ingestion path: the 数据 pages have shape.
    demo_events_load(days=14, log=lambda line: None)
    order_up_to(OrderStatus.PAID, member=member, lines=[(catalog.red, 2)])
    received = order_up_to(OrderStatus.RECEIVED, member=member, lines=[(catalog.blue, 1)])
    line = lines_of(received)[0]
    return {
        "product": catalog.product,
        "order": received,
        "after_sale": requested_after_sale(order=received, lines={line: 1}, description="包装破损"),
        "member": member,
        "coupon": CouponTemplateFactory.create(name="满 100 减 10"),
        "event": Event.objects.create(name="product_view", member_id=member.pk, occurred_at=timezone.now(),
                                      properties={"product_id": catalog.product.pk}),
        "review": make_review(line, content="奶粉很好，宝宝爱喝"),
        "distributor": distributor(),
        "user": admin_user,
    }


def pages(rows) -> list[tuple[str, str]]:
    """(screenshot name, path): the home page, then a list and a change page per job."""
    def change(name: str, obj) -> str:
        return reverse(f"admin:{name}_change", args=[obj.pk])

    return [
        ("home", reverse("admin:index")),
        ("catalog-list", reverse("admin:catalog_product_changelist")),
        ("catalog-change", change("catalog_product", rows["product"])),
        ("orders-list", reverse("admin:shop_order_changelist") + "?status__exact=paid"),
        ("orders-change", change("shop_order", rows["order"])),
        ("aftersales-list", reverse("admin:shop_aftersale_changelist")),
        ("aftersales-change", change("shop_aftersale", rows["after_sale"])),
        ("members-list", reverse("admin:members_member_changelist")),
        ("members-change", change("members_member", rows["member"])),
        ("campaigns-list", reverse("admin:campaigns_coupontemplate_changelist")),
        ("campaigns-change", change("campaigns_coupontemplate", rows["coupon"])),
        ("distribution-list", reverse("admin:campaigns_distributor_changelist")),
        ("distribution-change", change("campaigns_distributor", rows["distributor"])),
        ("data-list", reverse("admin:analytics_event_changelist")),
        ("data-kpis", reverse("admin:analytics_dailykpi_changelist")),
        ("data-funnel", reverse("admin:analytics_funnel_report", args=[Funnel.objects.get(name="商品购买转化").pk])
         + "?breakdown=channel"),
        ("data-retention", reverse("admin:analytics_dailykpi_retention")),
        ("data-paths", reverse("admin:analytics_dailykpi_paths")),
        ("data-products", reverse("admin:analytics_dailykpi_products")),
        ("data-profiles", reverse("admin:analytics_dailykpi_profiles")),
        ("data-rfm", reverse("admin:analytics_dailykpi_rfm")),
        ("data-channels", reverse("admin:analytics_dailykpi_channels")),
        ("data-change", change("analytics_event", rows["event"])),
        ("content-list", reverse("admin:shop_review_changelist")),
        ("content-change", change("shop_review", rows["review"])),
        ("settings-list", reverse("admin:django_celery_beat_periodictask_changelist")),
        ("settings-change", change("auth_user", rows["user"])),
    ]


def test_a_superuser_walks_every_job_and_nothing_leaves_the_mall(live_server, console_rows, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the database is only touched by the
    # live server's thread meanwhile, and the test's rows are all made above.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = os.environ.get("CONSOLE_SCREENSHOTS")
    to_visit = pages(console_rows)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        foreign, failed, errors = watch(page, live_server.url)

        console_login(page, live_server.url)

        sidebar = [page.inner_text(".console-home a"),
                   *[text.split("\n")[0].strip() for text in page.locator("#nav-sidebar summary").all_inner_texts()]]
        page.wait_for_selector("#chart-orders canvas")
        todo = page.locator("[data-todo]").count()

        for name, path in to_visit:
            # The HTML and its scripts are what is checked; waiting for every image and font is not.
            page.goto(f"{live_server.url}{path}", wait_until="load" if shots else "domcontentloaded")
            assert page.locator("#nav-sidebar").count() == 1, name
            assert page.locator("#console-search").count() == 1, name
            if name.startswith("data-") and name != "data-list" and name != "data-change":
                page.wait_for_selector(".mall-chart canvas")  # ECharts drew, from the mall's own files
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"console-{name}.png"), full_page=name.startswith("data-"))
        current = page.locator("#nav-sidebar tr.current-model a").inner_text()

        page.fill("#console-search input[name=q]", console_rows["order"].order_no)
        page.press("#console-search input[name=q]", "Enter")
        page.wait_for_url(f"{live_server.url}{reverse('admin:shop_order_change', args=[console_rows['order'].pk])}")
        browser.close()

    assert sidebar == SIDEBAR
    assert todo == len(TODO)
    assert current == "后台用户"  # the last page opened, marked in its section
    assert foreign == []
    assert failed == [] and errors == []


def role_pages(rows, withdrawal) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Per role: the pages of its jobs it opens (home, a list and a change page per job) and a page of
    another role's job it must be refused."""
    def change(name: str, obj) -> str:
        return reverse(f"admin:{name}_change", args=[obj.pk])

    home = [("home", reverse("admin:index"))]
    orders = [("orders-list", reverse("admin:shop_order_changelist") + "?status__exact=paid"),
              ("orders-change", change("shop_order", rows["order"]))]
    after_sales = [("aftersales-list", reverse("admin:shop_aftersale_changelist")),
                   ("aftersales-change", change("shop_aftersale", rows["after_sale"]))]
    members = [("members-list", reverse("admin:members_member_changelist")),
               ("members-change", change("members_member", rows["member"]))]
    return {
        "客服": {"own": [*home, *orders, *after_sales, *members,
                        ("content-list", reverse("admin:shop_review_changelist")),
                        ("content-change", change("shop_review", rows["review"]))],
                "forbidden": [("catalog-list", reverse("admin:catalog_product_changelist"))]},
        "财务": {"own": [*home, *orders, *after_sales, *members,
                        ("distribution-list", reverse("admin:campaigns_withdrawal_changelist")),
                        ("distribution-change", change("campaigns_withdrawal", withdrawal)),
                        ("settings-list", reverse("admin:payments_paymentnotification_changelist"))],
                "forbidden": [("campaigns-list", reverse("admin:campaigns_coupontemplate_changelist"))]},
        "运营": {"own": [*home, ("catalog-change", change("catalog_product", rows["product"])),
                        ("campaigns-change", change("campaigns_coupontemplate", rows["coupon"]))],
                "forbidden": [("aftersales-list", reverse("admin:shop_aftersale_changelist"))]},
        "仓库": {"own": [*home, *orders, ("catalog-list", reverse("admin:catalog_sku_changelist"))],
                "forbidden": [("members-list", reverse("admin:members_member_changelist"))]},
    }


def test_each_role_sees_its_jobs_and_is_refused_another_roles_page(live_server, console_rows, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = os.environ.get("CONSOLE_SCREENSHOTS")
    approved = console_rows["distributor"]
    with transaction.atomic():
        ledger_move(distributor_id=approved.pk, reason=EntryReason.SETTLED, reference="seed",
                    moves=Moves(available_fen=5000))
    withdrawal, _ = withdrawal_request(member=near_member(approved), amount_fen=1000)
    for role in SIDEBARS:
        staff_in(role)
    plan = role_pages(console_rows, withdrawal)
    server = urlsplit(live_server.url).netloc
    foreign: list[str] = []
    seen: dict[str, list[str]] = {}
    refused: dict[str, list[int]] = {}
    unexpected: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for role, pages_of_role in plan.items():
            context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.on("request", lambda request: foreign.append(request.url)
                    if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != server
                    else None)
            page.goto(f"{live_server.url}{reverse('admin:login')}")
            page.fill("#id_username", USERNAMES[role])
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")
            seen[role] = [page.inner_text(".console-home a"), *[
                text.split("\n")[0].strip() for text in page.locator("#nav-sidebar summary").all_inner_texts()]]
            for name, path in pages_of_role["own"]:
                response = page.goto(f"{live_server.url}{path}", wait_until="load" if shots else "domcontentloaded")
                if response is None or response.status != 200:
                    unexpected.append(f"{role} {path} {response.status if response else None}")
                if shots and role in ("客服", "财务"):
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(shots) / f"console-{ROLE_SLUGS[role]}-{name}.png"))
            refused[role] = []
            for _, path in pages_of_role["forbidden"]:
                response = page.goto(f"{live_server.url}{path}", wait_until="domcontentloaded")
                refused[role].append(response.status if response else 0)
                assert "没有权限" in page.content()
            context.close()
        browser.close()

    assert seen == {role: SIDEBARS[role] for role in plan}
    assert refused == {role: [403] for role in plan}
    assert unexpected == []
    assert foreign == []


ROLE_SLUGS = {"客服": "service", "财务": "finance", "运营": "operations", "仓库": "warehouse"}
