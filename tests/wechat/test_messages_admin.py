"""The message log and the consents in the operator console: Chinese, filterable, read-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import MemberFactory
from wechat.models import MessageAttempt, MessageLog, MessageOutcome, SubscribeConsent

LOGS = "/admin/wechat/messagelog/"
CONSENTS = "/admin/wechat/subscribeconsent/"


@pytest.fixture
def logs(db):
    member = MemberFactory.create()
    now = timezone.now()

    def log(key: str, outcome: str, reference: str, **fields) -> MessageLog:
        return MessageLog.objects.create(
            member_id=member.pk, openid=member.openid, template_key=key, template_id=f"sandbox-tmpl-{key}",
            outcome=outcome, reference=reference, data={"character_string1": reference, "thing3": "有机奶粉 ×2"},
            **fields)

    sent = log("order_paid", MessageOutcome.SENT, "M-SENT-1", attempts=2, sent_at=now)
    MessageAttempt.objects.create(log=sent, number=1, outcome=MessageOutcome.RETRYING, errcode="-1",
                                  errmsg="system error")
    MessageAttempt.objects.create(log=sent, number=2, outcome=MessageOutcome.SENT)
    no_credit = log("order_shipped", MessageOutcome.NO_CREDIT, "M-SHIP-1", errcode="no_credit",
                    errmsg="用户未订阅该消息或订阅次数已用完，未发送")
    old = log("after_sale_progress", MessageOutcome.NO_CONSENT, "A-OLD-1", errcode="43101", attempts=1)
    MessageLog.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=40))
    SubscribeConsent.objects.create(member_id=member.pk, openid=member.openid, template_key="order_paid",
                                    template_id="sandbox-tmpl-order_paid", credits=2, accepted_total=3,
                                    last_result="accept", last_result_at=now, updated_at=now)
    return {"sent": sent, "no_credit": no_credit, "old": old, "member": member}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_log_lists_messages_in_chinese(admin_client, logs):
    page = text(admin_client.get(LOGS))

    assert "消息记录" in page
    for label in ("订单支付成功通知", "订单发货提醒", "售后进度通知", "已发送", "未订阅，未发送", "用户拒收（43101）"):
        assert label in page
    for filter_title in ("模板", "结果", "创建时间"):
        assert f"以 {filter_title}" in page  # the filter's heading (Django's "By …")
    assert "M-SENT-1" in page and "M-SHIP-1" in page


def test_filter_by_template(admin_client, logs):
    page = text(admin_client.get(LOGS, {"template": "order_shipped"}))
    assert "M-SHIP-1" in page and "M-SENT-1" not in page


def test_filter_by_outcome(admin_client, logs):
    page = text(admin_client.get(LOGS, {"outcome": MessageOutcome.SENT}))
    assert "M-SENT-1" in page and "M-SHIP-1" not in page


def test_filter_by_date(admin_client, logs):
    week_ago = timezone.localtime() - dt.timedelta(days=7)  # what "过去7天" links to
    page = text(admin_client.get(LOGS, {"created_at__gte": week_ago.isoformat(sep=" ", timespec="seconds")}))
    assert "M-SENT-1" in page and "A-OLD-1" not in page


def test_search_by_reference(admin_client, logs):
    page = text(admin_client.get(LOGS, {"q": "A-OLD-1"}))
    assert "A-OLD-1" in page and "M-SENT-1" not in page


def test_a_message_shows_its_content_and_every_attempt(admin_client, logs):
    page = text(admin_client.get(f"{LOGS}{logs['sent'].pk}/change/"))

    assert "消息内容" in page and "有机奶粉 ×2" in page
    assert "每次发送" in page and "system error" in page and "等待重试" in page
    assert f"/admin/members/member/{logs['member'].pk}/change/" in page


def test_the_log_is_read_only(admin_client, logs):
    assert admin_client.get(f"{LOGS}add/").status_code == 403
    assert admin_client.post(f"{LOGS}{logs['sent'].pk}/delete/").status_code == 403
    assert MessageLog.objects.count() == 3


def test_consents_are_listed_read_only(admin_client, logs):
    page = text(admin_client.get(CONSENTS))

    assert "订阅授权" in page and "剩余可发次数" in page and "同意" in page
    assert admin_client.get(f"{CONSENTS}add/").status_code == 403
