"""用户画像's province map in a real browser (Debian's headless Chromium, driven by Playwright): the
map's GeoJSON comes from the mall's own static files, is registered with ECharts and coloured by
the members' provinces, and no request leaves the mall."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import sync_playwright

from tests.factories import MemberFactory

CHROMIUM = "/usr/bin/chromium"  # Debian's package, never a browser build downloaded by Playwright
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_province_map_is_drawn_offline_from_the_malls_own_files(live_server, admin_user, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    for written in ("广东省", "广东", "浙江省", "Xinjiang"):
        MemberFactory.create(province=written)
    server = urlsplit(live_server.url).netloc
    foreign: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page.on("request", lambda request: foreign.append(request.url)
                if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != server
                else None)
        page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
                if response.status >= 400 else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}{reverse('admin:login')}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

        page.goto(f"{live_server.url}{reverse('admin:analytics_dailykpi_profiles')}")
        page.wait_for_selector("#chart-province canvas")
        drawn = page.evaluate("""() => {
            const chart = echarts.getInstanceByDom(document.getElementById('chart-province'));
            const series = chart.getOption().series[0];
            const map = echarts.getMap('china');
            const features = (map.geoJSON || map.geoJson).features.length;
            return {features, coloured: series.data.filter((d) => d.value > 0).map((d) => [d.name, d.value])};
        }""")
        browser.close()

    assert drawn == {"features": 34, "coloured": [["浙江", 1], ["广东", 2], ["新疆", 1]]}
    assert foreign == [] and failed == [] and errors == []
