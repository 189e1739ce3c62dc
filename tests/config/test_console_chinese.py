"""Third-party console pages in Chinese: the beat schedule, the permission editor, the project's catalogues."""

from __future__ import annotations

import gettext
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.admin import crontab_in_words
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db


def test_beat_jobs_say_when_they_run_in_chinese(admin_client):
    call_command("sync_periodic_tasks", stdout=io.StringIO())
    job = PeriodicTask.objects.get(name="segments.evaluate")

    listing = page(admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist")))
    detail = page(admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[job.pk])))

    assert "执行周期" in listing and "每天 02:30" in listing and "任务函数" in listing
    assert "Task Name" not in listing and "SCHEDULER" not in listing.upper().replace("DATABASESCHEDULER", "")
    assert "执行选项" in detail and "参数" in detail and "Translation:" not in detail
    data = re.search(r'<script id="crontabs-in-words" type="application/json">(.*?)</script>', detail)
    assert data is not None
    words = json.loads(data.group(1))
    assert words[str(job.crontab_id)] == "每天 02:30"  # what the form says of the chosen crontab


@pytest.mark.parametrize(("fields", "words"), [
    ({"minute": "30", "hour": "2"}, "每天 02:30"),
    ({"minute": "*/5"}, "每 5 分钟"),
    ({"minute": "0", "hour": "9", "timezone": "UTC"}, "每天 09:00（UTC）"),
])
def test_crontabs_in_words(fields, words):
    assert crontab_in_words(CrontabSchedule(**{"timezone": "Asia/Shanghai", **fields})) == words


def test_the_permission_editor_names_permissions_in_chinese(admin_client, admin_user):
    html = page(admin_client.get(reverse("admin:auth_group_add")))
    options = re.findall(r"<option value=\"\d+\">([^<]+)</option>", html)

    assert "商城 | 订单 | 新增订单" in options and "商城 | 订单 | 查看订单" in options
    assert "营销活动 | 秒杀商品 | 可确认低于成本价的活动价" in options  # a custom permission keeps its name
    assert not [option for option in options if "Can " in option]
    assert "登录保护 | 登录失败记录 | 删除登录失败记录" in options
    assert "两步验证 | 两步验证设备 | 查看两步验证设备" in options
    assert not [option for option in options if "TOTP device" in option or "Axes" in option]
    assert "Can " not in page(admin_client.get(reverse("admin:auth_user_change", args=[admin_user.pk])))


def test_the_two_box_selector_speaks_chinese(admin_client):
    script = admin_client.get("/admin/jsi18n/").content.decode()

    # The catalogue is JSON in the script: non-ASCII text as \u escapes.
    assert json.dumps("选中要添加的%s，再点击“选择”箭头按钮。") in script
    assert json.dumps("全部选择") in script


def test_the_compiled_catalogues_match_their_sources():
    for po in Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/*.po"):
        with po.with_suffix(".mo").open("rb") as mo:
            compiled = gettext.GNUTranslations(mo)
        text = po.read_text()
        pairs = re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', text, flags=re.M)
        assert pairs, po
        for msgid, msgstr in pairs:
            # scripts/compile_translations.sh rebuilds the .mo after a .po changes.
            assert compiled.gettext(msgid.replace('\\"', '"')) == msgstr.replace('\\"', '"'), (po, msgid)
