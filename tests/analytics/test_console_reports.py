"""The 数据 section in the console: the KPI dashboard and its exports, and a funnel's drop-offs saved
as a segment in one click and reached by 定向发券, end to end."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from openpyxl import load_workbook

from analytics.models import Funnel
from analytics.services.rollups import kpi_rollup
from campaigns.models import Coupon, CouponSource, TargetedIssue
from campaigns.tasks import run_targeted_issue
from members.models import Segment, SegmentMember
from tests.admin.support_pages import page
from tests.analytics.histories import DAY, funnel_history, kpi_history
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(db):
    return funnel_history()


def test_the_kpi_dashboard_shows_the_day_and_exports_its_tables(admin_client):
    kpi_history()
    kpi_rollup(day=DAY)
    url = reverse("admin:analytics_dailykpi_changelist")
    query = {"first": DAY.isoformat(), "last": DAY.isoformat()}

    html = page(admin_client.get(url, query))
    as_csv = admin_client.get(url, {**query, "export": "csv", "table": "channels"})
    as_xlsx = admin_client.get(url, {**query, "export": "xlsx", "table": "daily"})

    assert "每日指标" in html and "访问人数" in html and "跳出率" in html
    assert 'id="chart-visitors"' in html and "echarts.min.js" in html
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("渠道,访问人数,新访问人数,打开次数")
    assert "扫码,1,1,2,3" in as_csv.content.decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert [cell.value for cell in sheet[2]][:4] == [DAY.isoformat(), 3, 2, 4]


def test_drop_offs_become_a_segment_in_one_click_and_a_targeted_issue_reaches_them(
        admin_client, history, django_capture_on_commit_callbacks):
    # the operator defines the funnel in the console
    response = admin_client.post(reverse("admin:analytics_funnel_add"), {
        "name": "母婴下单", "steps_text": "product_view category=母婴\nadd_to_cart\norder_paid",
        "window_hours": "24", "description": ""})
    assert response.status_code == 302
    funnel = Funnel.objects.get()
    report_url = reverse("admin:analytics_funnel_report", args=[funnel.pk])

    # reads it: 5 → 4 → 2
    html = page(admin_client.get(report_url, {"first": DAY.isoformat(), "last": DAY.isoformat(),
                                              "breakdown": "visitor"}))
    assert re.findall(r"<td>\d\. [^<]+</td><td>(\d+)</td>", html) == ["5", "4", "2"]
    assert 'data-action="save-step-3"' in html and "按新老访客细分" in html

    # one click: 保存第 3 步流失为人群
    saved = admin_client.post(reverse("admin:analytics_funnel_dropoffs", args=[funnel.pk]),
                              {"first": DAY.isoformat(), "last": DAY.isoformat(), "step": "3"}, follow=True)
    segment = Segment.objects.get()
    assert list(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True)) == [
        history["m6"].pk]
    message = unescape(page(saved))
    text = re.sub(r"<[^>]+>", "", message)
    assert f"已保存会员人群「{segment.name}」：1 位会员（另有 1 位未登录访客无法触达）" in text
    wizard_link = re.search(r'href="([^"]*targetedissue/wizard/[^"]*)"', message)
    assert wizard_link is not None

    # the link opens 定向发券 with the segment chosen; preview, confirm, the job runs
    template = CouponTemplateFactory.create(name="母婴回归券", per_member_limit=1)
    wizard = page(admin_client.get(unescape(wizard_link.group(1))))
    assert re.search(rf'<option value="{segment.pk}" selected>', wizard)
    preview = page(admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {
        "template": str(template.pk), "target": "segment", "segment": str(segment.pk)}))
    token = re.search(r'name="token" value="([^"]+)"', preview)
    assert token is not None
    with django_capture_on_commit_callbacks():
        admin_client.post(reverse("admin:campaigns_targetedissue_wizard"), {"token": token.group(1)})
    run_targeted_issue(TargetedIssue.objects.get().pk)

    assert list(Coupon.objects.filter(source=CouponSource.TARGETED).values_list("member_id", flat=True)) == [
        history["m6"].pk]


def test_saving_drop_offs_needs_the_segment_permission(client, django_user_model, history):
    funnel = Funnel.objects.create(name="漏斗", steps=[{"event": "product_view", "filters": []},
                                                      {"event": "add_to_cart", "filters": []}])
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client.force_login(viewer)

    html = page(client.get(reverse("admin:analytics_funnel_report", args=[funnel.pk])))
    refused = client.post(reverse("admin:analytics_funnel_dropoffs", args=[funnel.pk]),
                          {"first": DAY.isoformat(), "last": DAY.isoformat(), "step": "2"})

    assert "保存第 2 步流失为人群" not in html
    assert refused.status_code == 403
    assert not Segment.objects.exists()


REPORT_PAGES = ["retention", "paths", "products", "profiles", "rfm", "channels"]


@pytest.mark.parametrize("key", REPORT_PAGES)
def test_every_analysis_page_renders_and_exports(admin_client, history, key):
    url = reverse(f"admin:analytics_dailykpi_{key}")
    query = {"first": DAY.isoformat(), "last": DAY.isoformat()}

    html = page(admin_client.get(url, query))
    exported = admin_client.get(url, {**query, "export": "csv"})

    assert 'id="nav-sidebar"' in html and "导出" in html
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")


def test_an_rfm_group_becomes_a_segment_in_one_click(admin_client, history):
    html = page(admin_client.get(reverse("admin:analytics_dailykpi_rfm")))
    assert 'data-action="rfm-general_retain"' in html  # 一般挽留: nobody here has paid

    admin_client.post(reverse("admin:analytics_dailykpi_rfm_segment"), {"group": "general_retain"})

    segment = Segment.objects.get()
    assert segment.rules == {"all": [{"type": "rfm", "groups": ["general_retain"]}], "any": []}
    assert segment.member_count == 3
