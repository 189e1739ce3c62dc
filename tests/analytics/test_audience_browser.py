"""用户画像's province map in a real browser (Debian's headless Chromium, driven by Playwright): the
map's GeoJSON comes from the mall's own static files, is registered with ECharts and coloured by
the members' provinces, and no request leaves the mall."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, console_login, watch
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_province_map_is_drawn_offline_from_the_malls_own_files(live_server, admin_user, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    for written in ("广东省", "广东", "浙江省", "Xinjiang"):
        MemberFactory.create(province=written)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        foreign, failed, errors = watch(page, live_server.url)
        console_login(page, live_server.url)

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
